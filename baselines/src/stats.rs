//! Shared statistics: column means, covariances by one blocked product, class means and priors.

pub use gmm_core::linalg::column_means;
use gmm_core::linalg::{gram_with, subtract_row, symmetrize};
use nalgebra::{DMatrix, DVector};

use gmm_core::{GmmError, check_at_least, check_finite};

use crate::error::{BaselineError, Result};

/// `x` with `mean` subtracted from every row.
pub fn centred(x: &DMatrix<f64>, mean: &DVector<f64>) -> DMatrix<f64> {
    let mut c = x.clone();
    subtract_row(&mut c, mean);
    c
}

/// `sum_i (x_i - m)(x_i - m)^T` (`d x d`) in one pass, centring block by block.
pub fn centred_scatter(x: &DMatrix<f64>, mean: &DVector<f64>) -> DMatrix<f64> {
    gram_with(x, |_, block| subtract_row(block, mean))
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
        check_finite(x, "data")?;
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
        for (i, &z) in labels.iter().enumerate() {
            let mut row = means.row_mut(z);
            row += x.row(i);
        }
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

    /// Rows of `block` (starting at row `start` of the data) centred by their class means.
    fn centre_block(&self, start: usize, block: &mut DMatrix<f64>, labels: &[usize]) {
        let labels = &labels[start..start + block.nrows()];
        for (j, mut col) in block.column_iter_mut().enumerate() {
            for (v, &z) in col.iter_mut().zip(labels) {
                *v -= self.means[(z, j)];
            }
        }
    }

    /// `x` with each row centred by its class mean.
    pub fn within_centred(&self, x: &DMatrix<f64>, labels: &[usize]) -> DMatrix<f64> {
        let mut c = x.clone();
        self.centre_block(0, &mut c, labels);
        c
    }

    /// Within-class scatter `sum_i (x_i - m_{z_i})(x_i - m_{z_i})^T` in one pass.
    pub fn within_scatter(&self, x: &DMatrix<f64>, labels: &[usize]) -> DMatrix<f64> {
        gram_with(x, |start, block| self.centre_block(start, block, labels))
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
