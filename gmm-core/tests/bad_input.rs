//! Public functions answer bad shapes and non-finite values with typed errors, never a panic or
//! a silent NaN (issue: reliability).

use gmm_core::nalgebra::DMatrix;
use gmm_core::{MixtureGenerator, Subspace, seeded};

#[test]
fn shapes_and_non_finite_values_are_errors() {
    let g = MixtureGenerator::isotropic(3, 4).generate(&mut seeded(1)).unwrap();
    assert!(gmm_core::linalg::cholesky(&DMatrix::zeros(2, 3), "x").is_err());
    assert!(gmm_core::linalg::gen_sym_eig(&DMatrix::zeros(2, 3), &DMatrix::identity(2, 2)).is_err());
    assert!(g.share_outside_fisher(&DMatrix::from_element(2, 4, f64::NAN)).is_err());
    assert!(g.share_outside_fisher(&DMatrix::zeros(2, 3)).is_err());
    for rtol in [f64::NAN, -1.0, f64::INFINITY] {
        assert!(Subspace::from_columns(&DMatrix::identity(4, 2), rtol).is_err(), "rtol {rtol}");
    }
}

/// Means 1e-9 apart with `Sigma = I`: the eigengap of `Sigma_T` is 1e-18, below rounding, so the
/// population PCA direction is any direction; `describe` used to say "PCA misses a Fisher
/// direction entirely". It is not unique, and says so.
#[test]
fn population_pca_at_a_rounding_eigengap_is_not_unique() {
    use gmm_core::{Gmm, GmmError};
    let means = DMatrix::from_row_slice(2, 3, &[1e-9, 0.0, 0.0, -1e-9, 0.0, 0.0]);
    let g = Gmm::new(&[0.5, 0.5], means, DMatrix::identity(3, 3)).unwrap();
    assert!(matches!(g.pca_subspace(1), Err(GmmError::NotUnique { .. })));
    assert!(g.pca_subspace(3).is_ok(), "r = d needs no gap");
    let means = DMatrix::from_row_slice(2, 3, &[1.0, 0.0, 0.0, -1.0, 0.0, 0.0]);
    let g = Gmm::new(&[0.5, 0.5], means, DMatrix::identity(3, 3)).unwrap();
    assert!(g.pca_subspace(1).is_ok());
}
