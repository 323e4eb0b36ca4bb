//! Shared statistics: column means, covariances by one blocked product, class means and priors,
//! and the least-squares slope of a power law.

pub use gmm_core::linalg::column_means;
use gmm_core::linalg::{gram_with, subtract_row, symmetrize};
use nalgebra::{DMatrix, DVector};

use gmm_core::{GmmError, check_at_least, check_finite_given_sums};

use crate::error::{BaselineError, Result};

/// `x` with `mean` subtracted from every row.
pub fn centred(x: &DMatrix<f64>, mean: &DVector<f64>) -> DMatrix<f64> {
    let mut c = x.clone();
    subtract_row(&mut c, mean);
    c
}

/// Labelled data checked and summarised: class means (`c x d`, row per class), priors (class
/// frequencies), and the rows centred by their own class mean.
pub struct Classes {
    /// Number of classes `c` (labels are `0..c`).
    pub count: usize,
    /// Class means, `c x d`.
    pub means: DMatrix<f64>,
    /// Class frequencies.
    pub priors: DVector<f64>,
    /// Overall mean.
    pub mean: DVector<f64>,
}

impl Classes {
    /// Validates `x` (`n x d`) and `labels` (`n`, values `0..c`, every class present).
    pub fn new(x: &DMatrix<f64>, labels: &[usize]) -> Result<Self> {
        if labels.len() != x.nrows() {
            return Err(GmmError::Shape { what: "labels against rows", expected: x.nrows(), got: labels.len() }.into());
        }
        let mut distinct = labels.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        check_at_least(distinct.len(), 2, "classes with samples")?;
        // Labels 0..c with every class present: the i-th distinct label is i.
        if let Some(class) = distinct.iter().enumerate().position(|(i, &l)| i != l) {
            return Err(BaselineError::EmptyClass { class, classes: distinct[distinct.len() - 1].saturating_add(1) });
        }
        let count = distinct.len();
        let mut sizes = vec![0usize; count];
        labels.iter().for_each(|&z| sizes[z] += 1);
        let d = x.ncols();
        let mut means = DMatrix::zeros(count, d);
        // Column by column, so that the data is read in its storage order.
        for (j, column) in x.as_slice().chunks_exact(x.nrows().max(1)).enumerate() {
            let sums = &mut means.as_mut_slice()[j * count..(j + 1) * count];
            for (&v, &z) in column.iter().zip(labels) {
                sums[z] += v;
            }
        }
        // The class sums cover every entry: no separate scan of the data.
        check_finite_given_sums(means.as_slice(), x, "data")?;
        for (z, &s) in sizes.iter().enumerate() {
            means.row_mut(z).scale_mut(1.0 / s as f64);
        }
        let n = x.nrows() as f64;
        let priors = DVector::from_iterator(count, sizes.iter().map(|&s| s as f64 / n));
        Ok(Self { count, mean: means.tr_mul(&priors), means, priors })
    }

    /// Between-class scatter from the class means: `S_B = sum_c p_c (m_c - m)(m_c - m)^T`.
    pub fn between_scatter(&self) -> DMatrix<f64> {
        let mut d = self.means.clone();
        for (c, mut row) in d.row_iter_mut().enumerate() {
            row -= self.mean.transpose();
            row *= self.priors[c].sqrt();
        }
        symmetrize(&d.tr_mul(&d))
    }

    /// Column `j` of the rows starting at row `start` of the data, centred by their class means.
    fn centre_column(&self, start: usize, j: usize, column: &mut [f64], labels: &[usize]) {
        for (v, &z) in column.iter_mut().zip(&labels[start..]) {
            *v -= self.means[(z, j)];
        }
    }

    /// `x` with each row centred by its class mean.
    pub fn within_centred(&self, x: &DMatrix<f64>, labels: &[usize]) -> DMatrix<f64> {
        let mut c = x.clone();
        let n = c.nrows();
        for (j, column) in c.as_mut_slice().chunks_exact_mut(n.max(1)).enumerate() {
            self.centre_column(0, j, column, labels);
        }
        c
    }

    /// Within-class scatter `sum_i (x_i - m_{z_i})(x_i - m_{z_i})^T` in one pass.
    pub fn within_scatter(&self, x: &DMatrix<f64>, labels: &[usize]) -> DMatrix<f64> {
        gram_with(x, |start, j, column| self.centre_column(start, j, column, labels))
    }
}

/// Makes the largest-magnitude entry of every row positive (scikit-learn's `svd_flip` rule
/// for components), so that shown directions are reproducible.
pub fn fix_row_signs(a: &mut DMatrix<f64>) {
    for mut row in a.row_iter_mut() {
        let (mut best, mut value) = (0.0f64, 0.0);
        for &v in row.iter() {
            if v.abs() > best {
                best = v.abs();
                value = v;
            }
        }
        if value < 0.0 {
            row.neg_mut();
        }
    }
}

/// Least-squares slope of `log y` against `log x`: the exponent `a` of a power law `y ~ x^a`
/// (e.g. `-1/2` for an estimator's error against its sample size).
///
/// `None` when the slope is undefined: fewer than two distinct `x`, lengths that differ, or a
/// value that is not positive and finite (its logarithm is not a number).
///
/// ```
/// let x = [100.0, 400.0, 1600.0];
/// let y: Vec<f64> = x.iter().map(|n: &f64| 3.0 / n.sqrt()).collect();
/// let a = baselines::stats::log_log_slope(&x, &y).unwrap();
/// assert!((a + 0.5).abs() < 1e-12);
/// assert_eq!(baselines::stats::log_log_slope(&[1.0, 1.0], &[1.0, 2.0]), None);
/// ```
pub fn log_log_slope(x: &[f64], y: &[f64]) -> Option<f64> {
    let positive = |v: &f64| v.is_finite() && *v > 0.0;
    if x.len() != y.len() || !x.iter().all(positive) || !y.iter().all(positive) {
        return None;
    }
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    let (mx, my) = (lx.iter().sum::<f64>() / lx.len() as f64, ly.iter().sum::<f64>() / ly.len() as f64);
    let cov: f64 = lx.iter().zip(&ly).map(|(a, b)| (a - mx) * (b - my)).sum();
    let var: f64 = lx.iter().map(|a| (a - mx).powi(2)).sum();
    (var > 0.0).then(|| cov / var)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-pass shifted centring keeps full accuracy on data far from the origin, where the
    /// uncentred formula `X^T X - n m m^T` cancels catastrophically (the nearest wrong answer,
    /// shown failing by many orders of magnitude); also on data whose first block (the shift)
    /// is far from the rest.
    #[test]
    fn centred_scatter_is_exact_on_data_with_a_large_mean() {
        let (n, d) = (5000, 4);
        // Unit-scale deviations (a fixed pseudo-random pattern) around a mean of 1e6.
        let x = DMatrix::from_fn(n, d, |i, j| 1e6 + (((i * 7919 + j * 104_729) % 1000) as f64 / 250.0 - 2.0));
        let reference = |x: &DMatrix<f64>| {
            let mean = column_means(x);
            let xc = centred(x, &mean);
            (mean, xc.transpose() * &xc)
        };
        let (mean, scatter) = reference(&x);
        let scale = scatter.amax();
        let (one_pass_mean, one_pass) = gmm_core::linalg::mean_and_centred_gram(&x, "data").unwrap();
        // Two summation orders of the same centred products: a few ulps of the largest entry.
        assert!((&one_pass - &scatter).amax() <= 1e-12 * scale, "{}", (&one_pass - &scatter).amax() / scale);
        assert!((&one_pass_mean - &mean).amax() <= 1e-15 * 1e6);
        let uncentred = x.transpose() * &x - (&mean * mean.transpose()) * n as f64;
        assert!((&uncentred - &scatter).amax() > 1e-6 * scale, "the uncentred formula should lose digits here");
        // Sorted data: the first 2048 rows (the shift) sit 50 spreads above the others.
        let sorted = DMatrix::from_fn(n, d, |i, j| x[(i, j)] + if i < 2048 { 100.0 } else { 0.0 });
        let (_, scatter) = reference(&sorted);
        let (_, one_pass) = gmm_core::linalg::mean_and_centred_gram(&sorted, "data").unwrap();
        assert!((&one_pass - &scatter).amax() <= 1e-12 * scatter.amax());
        let mut bad = x.clone();
        bad[(4000, 2)] = f64::INFINITY;
        assert!(gmm_core::linalg::mean_and_centred_gram(&bad, "data").is_err());
    }
}
