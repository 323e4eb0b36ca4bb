//! Functions of symmetric positive definite matrices: square root and inverse square root.

use nalgebra::DMatrix;

use super::eigen::{not_positive_definite, sym_eig_desc, symmetrize};
use crate::error::{Result, check_finite};

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
