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
