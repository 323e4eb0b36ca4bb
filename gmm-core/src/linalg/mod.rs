//! Dense linear-algebra helpers, by job: products ([`gemm`]), Gram and scatter matrices
//! ([`gram`], [`mean_and_centred_gram`]), decompositions and solves ([`sym_eig_desc`],
//! [`gen_sym_eig`], [`svd`], [`cholesky`]), functions of SPD matrices ([`spd_inv_sqrt`]) and
//! reductions ([`lane_sum_by`], [`log_sum_exp`]).
//!
//! The public API speaks nalgebra. The symmetric eigendecomposition and the SVD run in faer:
//! nalgebra 0.35's SVD returns wrong singular values and vectors on some inputs (rank-deficient
//! ones among them, dimforge/nalgebra#1172), which the principal-angle metric cannot afford;
//! faer is also faster at large d (bench/README.md). Errors are mapped into [`crate::GmmError`]. Eigenvalues and
//! singular values are always returned **sorted in descending order**.

mod eigen;
mod gram;
mod product;
mod reduce;
mod spd;
#[cfg(test)]
mod tests;

pub use eigen::{
    GeneralizedEigen, Svd, checked_symmetric, cholesky, eigenvalues, gen_sym_eig, orthonormal_column_basis,
    singular_values, svd, sym_eig_desc, symmetrize,
};
pub(crate) use eigen::{solve_lower_in_place, solve_lower_transpose_in_place};
pub use gram::{column_means, gram, gram_with, mean_and_centred_gram, stacked_gram_with, subtract_mean, subtract_row};
pub use product::{GemmScalar, Op, gemm};
pub(crate) use product::{faer_view_mut, gemm_upper_into};
pub use reduce::{lane_sum_by, log_softmax_in_place, log_sum_exp};
pub use spd::{spd_inv_sqrt, spd_sqrt};

/// Relative tolerance for symmetry of user-supplied matrices:
/// `max |C_ij - C_ji| <= SYMMETRY_RTOL * max |C_ij|`. Within it the matrix is symmetrised.
pub const SYMMETRY_RTOL: f64 = 1e-10;

/// Default relative rank tolerance: singular values `s_i <= RANK_RTOL * s_max` count as zero.
pub const RANK_RTOL: f64 = 1e-9;
