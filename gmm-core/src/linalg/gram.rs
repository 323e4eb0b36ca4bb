//! Gram and scatter matrices in one blocked pass over the data, and column means.

use nalgebra::{DMatrix, DVector};

use super::product::{Op, faer_view, faer_view_mut};
use crate::error::{GmmError, Result};

/// Rows per block of [`gram`]: fixed, so the partition (and the bits) do not depend on the
/// number of threads; large enough that faer's triangular kernel runs near its peak.
const GRAM_BLOCK: usize = 2048;

/// `X^T X` (`d x d`) for `X` (`n x d`, rows are samples): one pass over the data, blocks of
/// rows in parallel (rayon, feature `parallel`), block products summed in block order. Each
/// block computes only the lower triangle (faer's triangular kernel: `n d (d + 1)` flops instead
/// of `2 n d^2`), which is mirrored at the end, so the result is exactly symmetric. The same
/// bits on any number of threads.
pub fn gram(x: &DMatrix<f64>) -> DMatrix<f64> {
    blocked_gram(&[x], None).expect("one operand always fits itself")
}

/// `Y^T Y` where `Y` is `X` with each column of each block of rows transformed by
/// `prepare(first_row, column, values)` as it is copied (e.g. centring by a mean, or by each
/// row's class mean), just before the block's product: the transformed data is never
/// materialised whole, and each value is touched once between the copy and the product.
/// Blocks, parallelism and summation order as [`gram`].
pub fn gram_with(x: &DMatrix<f64>, prepare: impl Fn(usize, usize, &mut [f64]) + Sync) -> DMatrix<f64> {
    blocked_gram(&[x], Some(&prepare)).expect("one operand always fits itself")
}

/// [`gram_with`] of the side-by-side matrix `[X_1 | X_2 | ...]` (same rows), never built
/// whole: `prepare` sees the column index in the stack. Its blocks are the Gram matrices and
/// cross products of the parts (e.g. `Cov(x)`, `Cov(x+)` and `Cov(x+, x)` of pairs in one
/// pass over both sides).
///
/// # Errors
/// [`GmmError::Shape`] when the parts have different numbers of rows.
pub fn stacked_gram_with(
    parts: &[&DMatrix<f64>],
    prepare: impl Fn(usize, usize, &mut [f64]) + Sync,
) -> Result<DMatrix<f64>> {
    blocked_gram(parts, Some(&prepare))
}

/// The column prepared by [`gram_with`]: `(first row of the block, column, values)`.
type PrepareColumn<'a> = &'a (dyn Fn(usize, usize, &mut [f64]) + Sync);

/// The blocked lower-triangular product of [`gram`], [`gram_with`] and [`stacked_gram_with`].
fn blocked_gram(parts: &[&DMatrix<f64>], prepare: Option<PrepareColumn<'_>>) -> Result<DMatrix<f64>> {
    Ok(blocked_gram_and_sums(parts, prepare)?.0)
}

/// [`blocked_gram`] and the column sums of the prepared data (`None` without `prepare`),
/// summed block by block in block order.
fn blocked_gram_and_sums(
    parts: &[&DMatrix<f64>],
    prepare: Option<PrepareColumn<'_>>,
) -> Result<(DMatrix<f64>, Option<DVector<f64>>)> {
    use faer::linalg::matmul::triangular::{BlockStructure, matmul};
    let n = parts.first().map_or(0, |p| p.nrows());
    if let Some(p) = parts.iter().find(|p| p.nrows() != n) {
        return Err(GmmError::Shape {
            what: "rows of the parts of a stacked Gram matrix",
            expected: n,
            got: p.nrows(),
        });
    }
    let d: usize = parts.iter().map(|p| p.ncols()).sum();
    let starts: Vec<usize> = (0..n).step_by(GRAM_BLOCK).collect();
    let partials = crate::parallel::map(&starts, |&start| {
        let b = GRAM_BLOCK.min(n - start);
        let lower_product = |rows: faer::MatRef<'_, f64>| {
            let mut c = DMatrix::zeros(d, d);
            let (lower, rect) = (BlockStructure::TriangularLower, BlockStructure::Rectangular);
            let dst = faer_view_mut(&mut c);
            matmul(dst, lower, faer::Accum::Replace, rows.transpose(), rect, rows, rect, 1.0, faer::Par::Seq);
            c
        };
        if let ([x], None) = (parts, prepare) {
            return (lower_product(faer_view(*x, Op::N).subrows(start, b)), None);
        }
        // The block's rows of every part, appended column by column (no zero-fill of a
        // buffer about to be overwritten), each column prepared as it is copied and summed
        // while it is in cache.
        let mut values = Vec::with_capacity(b * d);
        let mut sums = DVector::zeros(d);
        for part in parts {
            for column in part.as_slice().chunks_exact(n.max(1)) {
                let j = values.len() / b;
                values.extend_from_slice(&column[start..start + b]);
                if let Some(prepare) = prepare {
                    prepare(start, j, &mut values[j * b..]);
                }
                sums[j] = super::lane_sum_by(&values[j * b..], |v| v);
            }
        }
        (lower_product(faer_view(&DMatrix::from_vec(b, d, values), Op::N)), Some(sums))
    });
    let mut total = DMatrix::zeros(d, d);
    let mut sums = prepare.map(|_| DVector::zeros(d));
    for (p, block_sums) in &partials {
        total += p;
        if let (Some(all), Some(block)) = (sums.as_mut(), block_sums) {
            *all += block;
        }
    }
    // Mirror the lower triangle (the upper one of each partial was never written: zeros).
    for j in 0..d {
        for i in 0..j {
            total[(i, j)] = total[(j, i)];
        }
    }
    Ok((total, sums))
}

/// Column means `m` and the centred scatter `sum_i (x_i - m)(x_i - m)^T` of `x` (`n x d`) in one
/// blocked pass over the data (as [`gram`]), without losing accuracy to a large mean.
///
/// Every block is shifted, as it is copied, by `s`, the mean of the first block of rows (a
/// short pre-pass over at most 2048 rows); the pass sums the shifted values too, so
/// `m = s + (1/n) sum_i (x_i - s)` and the scatter is
/// `sum_i (x_i - s)(x_i - s)^T - n (m - s)(m - s)^T`. The correction is small against the scatter (`m - s` is of the order
/// of the data's spread, not of its mean), so unlike the uncentred formula
/// `X^T X - n m m^T` nothing cancels (tested against the two-pass formula on data with mean
/// 1e6, and on sorted data whose first block is far from the rest). Column sums are finite only
/// if every entry is, so the pass checks the data too.
///
/// # Errors
/// [`GmmError::NonFinite`] naming `what` and the first non-finite entry.
pub fn mean_and_centred_gram(x: &DMatrix<f64>, what: &'static str) -> Result<(DVector<f64>, DMatrix<f64>)> {
    let (n, d) = x.shape();
    let shift = leading_row_means(x, GRAM_BLOCK.min(n));
    let (shifted, sums) = blocked_gram_and_sums(&[x], Some(&subtract_mean(&shift)))?;
    // A non-finite shift makes every shifted value of its column non-finite, so the sums see it.
    let offset = sums.unwrap_or_else(|| DVector::zeros(d)) / n.max(1) as f64;
    crate::error::check_finite_given_sums(offset.as_slice(), x, what)?;
    let scatter = shifted - (&offset * offset.transpose()) * n as f64;
    Ok((shift + offset, scatter))
}

/// Column means of `x` (`n x d`): the `d`-vector of `(1/n) sum_i x_ij`.
pub fn column_means(x: &DMatrix<f64>) -> DVector<f64> {
    leading_row_means(x, x.nrows())
}

/// Column means of the first `rows` rows of `x` (`rows <= nrows`).
fn leading_row_means(x: &DMatrix<f64>, rows: usize) -> DVector<f64> {
    let columns = x.as_slice().chunks_exact(x.nrows().max(1));
    DVector::from_iterator(x.ncols(), columns.map(|c| super::lane_sum_by(&c[..rows], |v| v) / rows.max(1) as f64))
}

/// The `prepare` of [`gram_with`] and [`stacked_gram_with`] that centres: subtracts
/// `mean[j mod d]` from column `j` (`d` the mean's length: every part of a stack of matrices
/// with `d` columns is centred by the same mean).
pub fn subtract_mean(mean: &DVector<f64>) -> impl Fn(usize, usize, &mut [f64]) + Sync + '_ {
    move |_, j, column| column.iter_mut().for_each(|v| *v -= mean[j % mean.len()])
}

/// Subtracts `mean` from every row of `x` in place.
pub fn subtract_row(x: &mut DMatrix<f64>, mean: &DVector<f64>) {
    for (j, mut col) in x.column_iter_mut().enumerate() {
        col.add_scalar_mut(-mean[j]);
    }
}
