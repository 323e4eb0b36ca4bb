//! Dense linear-algebra helpers: checks, symmetric and generalized symmetric eigenproblems,
//! SPD square roots, and orthonormal bases with a rank tolerance.
//!
//! The public API speaks nalgebra. The symmetric eigendecomposition and the SVD run in faer:
//! nalgebra 0.35's SVD returns wrong singular values and vectors on some inputs (rank-deficient
//! ones among them, dimforge/nalgebra#1172), which the principal-angle metric cannot afford;
//! faer is also 4-6x faster at d >= 500. Errors are mapped into [`GmmError`]. Eigenvalues and
//! singular values are always returned **sorted in descending order**.

use nalgebra::{Cholesky, DMatrix, DVector, Dyn, Matrix, RawStorage};

use crate::error::{GmmError, Result, check_finite, check_shape};

/// Relative tolerance for symmetry of user-supplied matrices:
/// `max |C_ij - C_ji| <= SYMMETRY_RTOL * max |C_ij|`. Within it the matrix is symmetrised.
pub const SYMMETRY_RTOL: f64 = 1e-10;

/// Default relative rank tolerance: singular values `s_i <= RANK_RTOL * s_max` count as zero.
pub const RANK_RTOL: f64 = 1e-9;

/// Whether an operand of [`gemm`] enters as itself or transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `A`.
    N,
    /// `A^T`.
    T,
}

/// The scalars [`gemm`] multiplies: `f64` and `f32` (sealed: the two floating-point types both
/// faer and matrixmultiply have packed kernels for).
pub trait GemmScalar:
    nalgebra::RealField + Copy + faer::traits::ComplexField + faer::traits::Conjugate<Canonical = Self> + sealed::Sealed
{
    /// matrixmultiply's kernel for this scalar (`dgemm` or `sgemm`).
    ///
    /// # Safety
    /// As `matrixmultiply::dgemm`: the pointers and strides describe matrices of the given
    /// shapes, and `c` aliases neither `a` nor `b`.
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments)]
    unsafe fn packed_gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: (*const Self, isize, isize),
        b: (*const Self, isize, isize),
        beta: Self,
        c: (*mut Self, isize, isize),
    );
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f64 {}
    impl Sealed for f32 {}
}

macro_rules! gemm_scalar {
    ($t:ty, $kernel:ident) => {
        impl GemmScalar for $t {
            unsafe fn packed_gemm(
                m: usize,
                k: usize,
                n: usize,
                alpha: Self,
                a: (*const Self, isize, isize),
                b: (*const Self, isize, isize),
                beta: Self,
                c: (*mut Self, isize, isize),
            ) {
                // SAFETY: the caller's contract is matrixmultiply's.
                unsafe { matrixmultiply::$kernel(m, k, n, alpha, a.0, a.1, a.2, b.0, b.1, b.2, beta, c.0, c.1, c.2) }
            }
        }
    };
}
gemm_scalar!(f64, dgemm);
gemm_scalar!(f32, sgemm);

/// A nalgebra matrix (or view) as a faer view of the same memory, transposed for [`Op::T`].
fn faer_view<T: GemmScalar, S: RawStorage<T, Dyn, Dyn>>(a: &Matrix<T, Dyn, Dyn, S>, op: Op) -> faer::MatRef<'_, T> {
    let ((rows, cols), (rs, cs)) = (a.shape(), a.strides());
    // SAFETY: pointer, shape and strides describe the borrowed nalgebra storage, which outlives
    // the returned view (same lifetime); faer reads it only.
    let view = unsafe { faer::MatRef::from_raw_parts(a.as_ptr(), rows, cols, rs as isize, cs as isize) };
    match op {
        Op::N => view,
        Op::T => view.transpose(),
    }
}

/// A nalgebra matrix as a mutable faer view of the same memory.
pub(crate) fn faer_view_mut<T: GemmScalar>(c: &mut DMatrix<T>) -> faer::MatMut<'_, T> {
    let (rows, cols) = c.shape();
    // SAFETY: `c` is borrowed mutably for the view's lifetime; column-major, contiguous.
    unsafe { faer::MatMut::from_raw_parts_mut(c.as_mut_ptr(), rows, cols, 1, rows as isize) }
}

/// Whether faer's kernels run a product `m x k` times `k x n` faster than matrixmultiply's:
/// reduction-shaped ones (`k >= 4 max(m, n)`: a small output summed over a long inner
/// dimension, e.g. a gradient `dZ^T X` or one tile of anchors against all positives), 2-5x
/// faster, where matrixmultiply packs the long operand into narrow panels; and thin ones
/// (`k <= 32`, e.g. the score tiles `U2 U1_tile^T` and `T U1_tile` of InfoNCE), 8-15% faster over a
/// whole InfoNCE step (measured interleaved: bench/README.md). matrixmultiply is as fast or
/// faster elsewhere. A function of the shapes only, so the bits do not depend on timings or on
/// the thread count.
fn faer_shaped(m: usize, k: usize, n: usize) -> bool {
    k >= 4 * m.max(n) || k <= 32
}

/// Below this many multiply-adds [`gemm`] runs on the calling thread; above it, faer's kernels
/// on every thread of the rayon pool (feature `parallel`). faer splits the output among threads
/// and sums every entry's products in the same order whatever their number (tested), so the
/// bits do not depend on the thread count. A function of the shapes only.
const PAR_MIN_WORK: usize = 1 << 24;

/// faer's parallelism for large products: the rayon pool's threads with the `parallel`
/// feature, one thread without.
fn parallelism() -> faer::Par {
    #[cfg(feature = "parallel")]
    {
        faer::Par::rayon(rayon::current_num_threads())
    }
    #[cfg(not(feature = "parallel"))]
    {
        faer::Par::Seq
    }
}

/// `C = alpha op(A) op(B) + beta C` by packed microkernels: faer's for reduction-shaped
/// products (`k >= 4 max(m, n)`), thin ones (`k <= 32`) and large ones (at least `2^24` multiply-adds, then on
/// every thread of the pool), matrixmultiply's otherwise (nalgebra's own `gemm_tr` is a plain
/// loop). Transposes cost nothing: they only swap strides. `A` and `B`
/// may be views (e.g. a block of rows). With `beta = 0`, `C` is overwritten (its old content is
/// not read). The kernel is chosen by the shapes and the processor's instruction set (faer
/// dispatches on AVX-512 / AVX2), never by timings: the same inputs give the same bits on a
/// given machine.
///
/// # Errors
/// [`GmmError::Shape`] when the inner dimensions of `op(A) op(B)` differ or `C` is not
/// `rows(op(A)) x cols(op(B))` (an O(1) check before the product).
pub fn gemm<T, SA, SB>(
    alpha: T,
    a: &Matrix<T, Dyn, Dyn, SA>,
    ta: Op,
    b: &Matrix<T, Dyn, Dyn, SB>,
    tb: Op,
    beta: T,
    c: &mut DMatrix<T>,
) -> Result<()>
where
    T: GemmScalar,
    SA: RawStorage<T, Dyn, Dyn>,
    SB: RawStorage<T, Dyn, Dyn>,
{
    let oriented = |shape: (usize, usize), strides: (usize, usize), op: Op| match op {
        Op::N => (shape, (strides.0 as isize, strides.1 as isize)),
        Op::T => ((shape.1, shape.0), (strides.1 as isize, strides.0 as isize)),
    };
    let ((m, k), (rsa, csa)) = oriented(a.shape(), a.strides(), ta);
    let ((k2, n), (rsb, csb)) = oriented(b.shape(), b.strides(), tb);
    if k != k2 {
        return Err(GmmError::Shape { what: "inner dimensions of a matrix product", expected: k, got: k2 });
    }
    check_shape(c, m, n, "output of a matrix product")?;
    let large = m.saturating_mul(n).saturating_mul(k) >= PAR_MIN_WORK;
    if large || faer_shaped(m, k, n) {
        let accum = if beta == T::zero() {
            faer::Accum::Replace
        } else {
            if beta != T::one() {
                *c *= beta;
            }
            faer::Accum::Add
        };
        let (lhs, rhs) = (faer_view(a, ta), faer_view(b, tb));
        let par = if large { parallelism() } else { faer::Par::Seq };
        faer::linalg::matmul::matmul(faer_view_mut(c), accum, lhs, rhs, alpha, par);
        return Ok(());
    }
    let (rsc, csc) = c.strides();
    // SAFETY: the pointers and strides come from nalgebra matrices whose shapes were checked
    // above to match (m, k), (k, n) and (m, n); `c` is borrowed mutably, so it aliases neither.
    unsafe {
        T::packed_gemm(
            m,
            k,
            n,
            alpha,
            (a.as_ptr(), rsa, csa),
            (b.as_ptr(), rsb, csb),
            beta,
            (c.as_mut_ptr(), rsc as isize, csc as isize),
        );
    }
    Ok(())
}

/// `C = A U` for upper-triangular `U` (`k x k`; only its upper triangle is read, half the
/// multiply-adds of a full product), written into a faer view `C` (e.g. a block of rows of a
/// larger matrix), on the calling thread. Shapes are the caller's to check.
pub(crate) fn gemm_upper_into(a: &DMatrix<f64>, u: &DMatrix<f64>, c: faer::MatMut<'_, f64>) {
    use faer::linalg::matmul::triangular::{BlockStructure, matmul};
    let (rect, upper) = (BlockStructure::Rectangular, BlockStructure::TriangularUpper);
    let (lhs, rhs) = (faer_view(a, Op::N), faer_view(u, Op::N));
    matmul(c, rect, faer::Accum::Replace, lhs, rect, rhs, upper, 1.0, faer::Par::Seq);
}

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
                sums[j] = crate::error::lane_sum_by(&values[j * b..], |v| v);
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
    DVector::from_iterator(
        x.ncols(),
        columns.map(|c| crate::error::lane_sum_by(&c[..rows], |v| v) / rows.max(1) as f64),
    )
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

/// Copies a faer matrix into a nalgebra one.
fn from_faer(m: faer::MatRef<'_, f64>) -> DMatrix<f64> {
    DMatrix::from_fn(m.nrows(), m.ncols(), |i, j| m[(i, j)])
}

/// `(S + S^T) / 2`.
pub fn symmetrize(s: &DMatrix<f64>) -> DMatrix<f64> {
    (s + s.transpose()) * 0.5
}

/// Checks that a square matrix is symmetric within [`SYMMETRY_RTOL`] (relative to its largest
/// entry) and returns its exact symmetrisation `(S + S^T)/2`.
pub fn checked_symmetric(s: &DMatrix<f64>, what: &'static str) -> Result<DMatrix<f64>> {
    check_shape(s, s.ncols(), s.ncols(), what)?;
    check_finite(s, what)?;
    let scale = s.amax().max(f64::MIN_POSITIVE);
    let mut worst = (0.0, 0, 0);
    for j in 0..s.ncols() {
        for i in 0..j {
            let gap = (s[(i, j)] - s[(j, i)]).abs() / scale;
            if gap > worst.0 {
                worst = (gap, i, j);
            }
        }
    }
    if worst.0 > SYMMETRY_RTOL {
        return Err(GmmError::NotSymmetric { what, i: worst.1, j: worst.2, gap: worst.0, tol: SYMMETRY_RTOL });
    }
    Ok(symmetrize(s))
}

/// Cholesky factorisation `S = L L^T` of a symmetric positive definite matrix.
///
/// # Errors
/// Non-finite entries; [`GmmError::Singular`] when the factorisation fails or its factor
/// overflows.
pub fn cholesky(s: &DMatrix<f64>, what: &'static str) -> Result<Cholesky<f64, Dyn>> {
    crate::check_shape(s, s.nrows(), s.nrows(), "columns of a matrix under Cholesky against its rows")?;
    check_finite(s, what)?;
    Cholesky::new(s.clone())
        .filter(|c| c.l_dirty().iter().all(|v| v.is_finite()))
        .ok_or_else(|| not_positive_definite(what))
}

/// [`GmmError::Singular`] for a matrix that had to be symmetric positive definite.
fn not_positive_definite(what: &'static str) -> GmmError {
    GmmError::Singular { what, fix: "it must be symmetric positive definite (a covariance of full rank)" }
}

/// Eigen-decomposition of a symmetric matrix, `S = V diag(w) V^T`.
///
/// The input is symmetrised first. Returns `(w, V)` with eigenvalues **descending** and the
/// eigenvectors as the columns of `V` in the same order.
///
/// # Errors
/// Non-finite input, or [`GmmError::NoConvergence`].
pub fn sym_eig_desc(s: &DMatrix<f64>) -> Result<(DVector<f64>, DMatrix<f64>)> {
    check_shape(s, s.ncols(), s.ncols(), "symmetric eigenproblem: square matrix")?;
    check_finite(s, "symmetric eigenproblem")?;
    let n = s.nrows();
    // Entries near the ends of the f64 range overflow or underflow inside the decomposition: such
    // a matrix is scaled by a power of two first (exact), and its eigenvalues back.
    let largest = s.amax();
    let scale = if largest > 2f64.powi(500) || (largest > 0.0 && largest < 2f64.powi(-500)) {
        2f64.powi(-largest.log2().round() as i32)
    } else {
        1.0
    };
    let evd = faer_view(&(symmetrize(s) * scale), Op::N)
        .self_adjoint_eigen(faer::Side::Lower)
        .map_err(|_| GmmError::NoConvergence { what: "symmetric eigendecomposition" })?;
    // faer sorts ascending; reverse.
    let (w, v) = (evd.S().column_vector(), evd.U());
    let values = DVector::from_fn(n, |i, _| w[n - 1 - i] / scale);
    let vectors = DMatrix::from_fn(n, n, |i, j| v[(i, n - 1 - j)]);
    check_finite(&vectors, "eigenvectors of a symmetric eigenproblem")?;
    check_finite(&values, "eigenvalues (overflow)")?;
    Ok((values, vectors))
}

/// Solution of the generalized symmetric-definite eigenproblem `A v = lambda B v`.
#[derive(Clone, Debug)]
pub struct GeneralizedEigen {
    /// Eigenvalues, **descending**.
    pub values: DVector<f64>,
    /// Eigenvectors as columns, in the order of `values`, normalised so that `V^T B V = I`.
    pub vectors: DMatrix<f64>,
}

/// Solves `A v = lambda B v` for symmetric `A` and symmetric positive definite `B`.
///
/// Method (theory.md, LDA): symmetrise both, factor `B = L L^T`, take the symmetric
/// eigendecomposition of `C = L^{-1} A L^{-T}`, sort its eigenvalues in descending order, and
/// back-substitute `v = L^{-T} u`. The eigenvectors are `B`-orthonormal.
///
/// # Errors
/// Shape mismatch, non-finite entries, `B` not positive definite, or no convergence.
pub fn gen_sym_eig(a: &DMatrix<f64>, b: &DMatrix<f64>) -> Result<GeneralizedEigen> {
    let n = b.nrows();
    check_shape(a, n, n, "generalized eigenproblem: A against B")?;
    check_finite(a, "generalized eigenproblem: A")?;
    check_finite(b, "generalized eigenproblem: B")?;
    let chol = cholesky(&symmetrize(b), "generalized eigenproblem: B")?;
    let l = chol.l();
    // C = L^{-1} A L^{-T}: two triangular solves.
    let mut c = symmetrize(a);
    solve_lower_in_place(&l, &mut c);
    let mut ct = c.transpose();
    solve_lower_in_place(&l, &mut ct);
    let (values, u) = sym_eig_desc(&ct)?;
    let mut vectors = u;
    solve_lower_transpose_in_place(&l, &mut vectors);
    Ok(GeneralizedEigen { values, vectors })
}

/// `X <- L^{-1} X` for lower-triangular invertible `L` (faer's blocked solve; only the lower
/// triangle of `L` is read).
pub(crate) fn solve_lower_in_place(l: &DMatrix<f64>, x: &mut DMatrix<f64>) {
    faer::linalg::triangular_solve::solve_lower_triangular_in_place(
        faer_view(l, Op::N),
        faer_view_mut(x),
        faer::Par::Seq,
    );
}

/// `X <- L^{-T} X` for lower-triangular invertible `L`.
pub(crate) fn solve_lower_transpose_in_place(l: &DMatrix<f64>, x: &mut DMatrix<f64>) {
    faer::linalg::triangular_solve::solve_upper_triangular_in_place(
        faer_view(l, Op::T),
        faer_view_mut(x),
        faer::Par::Seq,
    );
}

/// Applies `f` to the eigenvalues of a symmetric positive definite matrix:
/// `V diag(f(w)) V^T`, after checking every eigenvalue is positive.
fn spd_function(s: &DMatrix<f64>, what: &'static str, f: impl Fn(f64) -> f64) -> Result<DMatrix<f64>> {
    check_finite(s, what)?;
    let (w, v) = sym_eig_desc(s)?;
    if w.iter().any(|&x| x <= 0.0) {
        return Err(not_positive_definite(what));
    }
    let mut scaled = v.clone();
    for (j, &x) in w.iter().enumerate() {
        scaled.column_mut(j).scale_mut(f(x));
    }
    let out = symmetrize(&(scaled * v.transpose()));
    // Eigenvalues near the ends of the f64 range can overflow f(w) or the product.
    check_finite(&out, what)?;
    Ok(out)
}

/// Symmetric square root `S^{1/2}` of a symmetric positive definite matrix.
pub fn spd_sqrt(s: &DMatrix<f64>) -> Result<DMatrix<f64>> {
    spd_function(s, "matrix under square root", f64::sqrt)
}

/// Symmetric inverse square root `S^{-1/2}` of a symmetric positive definite matrix.
pub fn spd_inv_sqrt(s: &DMatrix<f64>) -> Result<DMatrix<f64>> {
    spd_function(s, "matrix under inverse square root", |x| 1.0 / x.sqrt())
}

/// Thin singular value decomposition `M = U diag(s) V^T` (`U`: `m x p`, `V`: `n x p`,
/// `p = min(m, n)`), singular values **descending**.
#[derive(Clone, Debug)]
pub struct Svd {
    /// Left singular vectors as columns.
    pub u: DMatrix<f64>,
    /// Singular values, descending.
    pub singular_values: DVector<f64>,
    /// Right singular vectors as columns.
    pub v: DMatrix<f64>,
}

/// Thin SVD of `m` (see [`Svd`]).
pub fn svd(m: &DMatrix<f64>) -> Result<Svd> {
    check_finite(m, "matrix under SVD")?;
    let p = m.nrows().min(m.ncols());
    if p == 0 {
        return Ok(Svd {
            u: DMatrix::zeros(m.nrows(), 0),
            singular_values: DVector::zeros(0),
            v: DMatrix::zeros(m.ncols(), 0),
        });
    }
    let f =
        faer_view(m, Op::N).thin_svd().map_err(|_| GmmError::NoConvergence { what: "singular value decomposition" })?;
    let s = f.S().column_vector();
    Ok(Svd { u: from_faer(f.U()), singular_values: DVector::from_fn(p, |i, _| s[i]), v: from_faer(f.V()) })
}

/// Singular values of `m`, descending.
pub fn singular_values(m: &DMatrix<f64>) -> Result<Vec<f64>> {
    check_finite(m, "matrix under SVD")?;
    if m.nrows().min(m.ncols()) == 0 {
        return Ok(Vec::new());
    }
    faer_view(m, Op::N).singular_values().map_err(|_| GmmError::NoConvergence { what: "singular value decomposition" })
}

/// Orthonormal basis (as columns, `nrows x rank`) of the column space of `m`.
///
/// The rank counts singular values `s_i > rtol * s_max`; a zero matrix has rank 0 and yields a
/// `nrows x 0` basis. Columns are the left singular vectors, in descending singular-value order.
pub fn orthonormal_column_basis(m: &DMatrix<f64>, rtol: f64) -> Result<DMatrix<f64>> {
    check_finite(m, "matrix whose column space is taken")?;
    if m.ncols() == 0 || m.nrows() == 0 {
        return Ok(DMatrix::zeros(m.nrows(), 0));
    }
    let svd = svd(m)?;
    let s_max = svd.singular_values.max();
    let rank = if s_max > 0.0 { svd.singular_values.iter().filter(|&&s| s > rtol * s_max).count() } else { 0 };
    Ok(svd.u.columns(0, rank).into_owned())
}

/// Numerically stable `log sum_i exp(v_i)`.
pub fn log_sum_exp(v: &[f64]) -> f64 {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !m.is_finite() {
        return m;
    }
    m + v.iter().map(|&x| (x - m).exp()).sum::<f64>().ln()
}

/// `v_i - log sum_j exp(v_j)` in place, for finite `v`: shifted by the maximum first, so that a
/// large common offset cancels exactly (`[a, a]` gives `[-ln 2, -ln 2]` for any finite `a`,
/// where `a - (a + ln 2)` would round to `0` once `|a|` exceeds about `1e16`).
pub fn log_softmax_in_place(v: &mut [f64]) {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    v.iter_mut().for_each(|x| *x -= m);
    let lse = v.iter().map(|&x| x.exp()).sum::<f64>().ln();
    v.iter_mut().for_each(|x| *x -= lse);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemm_matches_nalgebra_in_every_orientation() {
        let a = DMatrix::from_fn(3, 4, |i, j| (i * 4 + j) as f64 * 0.5 - 2.0);
        let b = DMatrix::from_fn(4, 2, |i, j| (i + 3 * j) as f64 - 1.5);
        let mut c = DMatrix::from_element(3, 2, f64::NAN);
        gemm(1.0, &a, Op::N, &b, Op::N, 0.0, &mut c).unwrap();
        assert_eq!(c, &a * &b);
        let mut c2 = DMatrix::zeros(3, 2);
        gemm(2.0, &a.transpose(), Op::T, &b.transpose(), Op::T, 0.0, &mut c2).unwrap();
        assert_eq!(c2, (&a * &b) * 2.0);
        let mut c3 = DMatrix::from_element(4, 4, 1.0);
        gemm(1.0, &a.rows(0, 2), Op::T, &a.rows(1, 2), Op::N, 1.0, &mut c3).unwrap();
        assert_eq!(c3, a.rows(0, 2).transpose() * a.rows(1, 2) + DMatrix::from_element(4, 4, 1.0));
        // Shapes that do not fit are errors, not panics (and C is left untouched).
        let mut wrong = DMatrix::from_element(3, 3, 7.0);
        assert!(matches!(gemm(1.0, &a, Op::N, &b, Op::N, 0.0, &mut wrong), Err(GmmError::Shape { .. })));
        assert!(matches!(gemm(1.0, &a, Op::T, &b, Op::N, 0.0, &mut c), Err(GmmError::Shape { .. })));
        assert!(wrong.iter().all(|&v| v == 7.0));
    }

    #[test]
    fn the_triangular_product_reads_only_the_upper_triangle() {
        let a = DMatrix::from_fn(5, 4, |i, j| (i * 4 + j) as f64 * 0.5 - 2.0);
        let mut upper = DMatrix::from_fn(4, 4, |i, j| if i <= j { (i + 2 * j) as f64 } else { f64::NAN });
        let mut out = DMatrix::from_element(5, 4, f64::NAN);
        gemm_upper_into(&a, &upper, faer_view_mut(&mut out));
        upper.fill_lower_triangle(0.0, 1);
        assert_eq!(out, &a * &upper);
    }

    #[test]
    fn gram_matches_the_direct_product() {
        let x = DMatrix::from_fn(5000, 3, |i, j| ((i * 7 + j * 13) % 11) as f64 - 5.0);
        let g = gram(&x);
        assert!((g - x.transpose() * &x).amax() < 1e-9);
    }

    #[test]
    fn gram_is_exactly_symmetric_and_matches_the_blocked_centring() {
        // Three blocks of rows (n = 5000 > 2 GRAM_BLOCK) with a partial last one.
        let x = DMatrix::from_fn(5000, 7, |i, j| (((i * 31 + j * 17) % 23) as f64 - 11.0) * 0.37);
        let g = gram(&x);
        assert_eq!(g, g.transpose());
        assert!((&g - x.transpose() * &x).amax() <= 1e-12 * g.amax());
        let mean = column_means(&x);
        let centred = gram_with(&x, subtract_mean(&mean));
        let mut xc = x.clone();
        subtract_row(&mut xc, &mean);
        assert!((centred - xc.transpose() * &xc).amax() <= 1e-12 * g.amax());
    }

    /// Large products run on every thread of the pool; faer sums each entry in the same order
    /// whatever the number of threads: checked on 1, 2 and 3 threads in every orientation, with
    /// shapes above the parallel threshold and edges that are not multiples of the kernels'.
    #[cfg(feature = "parallel")]
    #[test]
    fn large_products_have_the_same_bits_on_any_thread_count() {
        let a = DMatrix::from_fn(1031, 263, |i, j| ((i * 7 + j * 13) % 19) as f64 / 7.0 - 1.3);
        let b = DMatrix::from_fn(263, 97, |i, j| ((i * 5 + j * 3) % 17) as f64 / 5.0 - 1.7);
        let (at, bt) = (a.transpose(), b.transpose());
        const { assert!(1031 * 263 * 97 >= PAR_MIN_WORK) };
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                let mut out = Vec::new();
                for (l, tl) in [(&a, Op::N), (&at, Op::T)] {
                    for (r, tr) in [(&b, Op::N), (&bt, Op::T)] {
                        let mut c = DMatrix::from_element(1031, 97, 0.5);
                        gemm(0.7, l, tl, r, tr, 1.0, &mut c).unwrap();
                        out.push(c);
                    }
                }
                out
            })
        };
        let one = run(1);
        assert!((&one[0] - (&a * &b * 0.7).add_scalar(0.5)).amax() < 1e-10);
        assert_eq!(one, run(2));
        assert_eq!(one, run(3));
    }

    /// The Gram products run in fixed blocks with one kernel call per block, so the thread
    /// count cannot change a bit: checked on 1, 2 and 3 threads.
    #[cfg(feature = "parallel")]
    #[test]
    fn gram_has_the_same_bits_on_any_thread_count() {
        let a = DMatrix::from_fn(5100, 13, |i, j| ((i * 7 + j * 13) % 19) as f64 / 7.0 - 1.3);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| (gram(&a), gram_with(&a, subtract_mean(&column_means(&a)))))
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one, run(3));
    }

    #[test]
    fn generalized_eigen_solves_and_sorts() {
        let a = DMatrix::from_row_slice(3, 3, &[2.0, 1.0, 0.0, 1.0, 3.0, 1.0, 0.0, 1.0, 1.0]);
        let b = DMatrix::from_row_slice(3, 3, &[4.0, 1.0, 0.0, 1.0, 2.0, 0.5, 0.0, 0.5, 1.0]);
        let ge = gen_sym_eig(&a, &b).unwrap();
        for j in 0..3 {
            let v = ge.vectors.column(j);
            let r = &a * v - (&b * v) * ge.values[j];
            assert!(r.norm() < 1e-12, "residual {}", r.norm());
        }
        assert!(ge.values[0] >= ge.values[1] && ge.values[1] >= ge.values[2]);
        let gram = ge.vectors.transpose() * &b * &ge.vectors;
        assert!((gram - DMatrix::identity(3, 3)).amax() < 1e-12);
    }

    #[test]
    fn generalized_eigen_rejects_singular_b() {
        let a = DMatrix::identity(2, 2);
        let b = DMatrix::from_row_slice(2, 2, &[1.0, 1.0, 1.0, 1.0]);
        assert!(matches!(gen_sym_eig(&a, &b), Err(GmmError::Singular { .. })));
    }

    #[test]
    fn square_roots_invert_each_other() {
        let s = DMatrix::from_row_slice(2, 2, &[5.0, 2.0, 2.0, 3.0]);
        let r = spd_sqrt(&s).unwrap();
        assert!((&r * &r - &s).amax() < 1e-12);
        let ri = spd_inv_sqrt(&s).unwrap();
        assert!((&ri * &s * &ri - DMatrix::identity(2, 2)).amax() < 1e-12);
        let indefinite = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 2.0, 1.0]);
        assert!(spd_sqrt(&indefinite).is_err());
    }

    #[test]
    fn symmetry_check_names_the_gap() {
        let s = DMatrix::from_row_slice(2, 2, &[1.0, 0.5, 0.4, 1.0]);
        assert!(matches!(checked_symmetric(&s, "S"), Err(GmmError::NotSymmetric { i: 0, j: 1, .. })));
        let nearly = DMatrix::from_row_slice(2, 2, &[1.0, 0.5, 0.5 + 1e-14, 1.0]);
        let fixed = checked_symmetric(&nearly, "S").unwrap();
        assert_eq!(fixed[(0, 1)], fixed[(1, 0)]);
    }

    #[test]
    fn rank_tolerance_counts_directions() {
        let m = DMatrix::from_row_slice(3, 2, &[1.0, 2.0, 2.0, 4.0, 3.0, 6.0]);
        assert_eq!(orthonormal_column_basis(&m, RANK_RTOL).unwrap().ncols(), 1);
        assert_eq!(orthonormal_column_basis(&DMatrix::zeros(3, 2), RANK_RTOL).unwrap().ncols(), 0);
    }

    #[test]
    fn svd_of_rank_deficient_matrices_recomposes() {
        // The all-ones 3 x 5 matrix: one singular value sqrt(15) (nalgebra#1172 gets it wrong).
        let ones = DMatrix::from_element(3, 5, 1.0);
        let f = svd(&ones).unwrap();
        assert!((f.singular_values[0] - 15f64.sqrt()).abs() < 1e-14);
        let back = &f.u * DMatrix::from_diagonal(&f.singular_values) * f.v.transpose();
        assert!((back - ones).amax() < 1e-14);
        assert!((singular_values(&DMatrix::from_element(5, 3, 1.0)).unwrap()[0] - 15f64.sqrt()).abs() < 1e-14);
    }

    #[test]
    fn log_sum_exp_is_stable() {
        assert!((log_sum_exp(&[1000.0, 1000.0]) - (1000.0 + 2f64.ln())).abs() < 1e-12);
        assert_eq!(log_sum_exp(&[f64::NEG_INFINITY]), f64::NEG_INFINITY);
        let mut huge = [-5e299, -5e299];
        log_softmax_in_place(&mut huge);
        assert_eq!(huge, [-2f64.ln(), -2f64.ln()], "a common offset cancels exactly");
    }
}
