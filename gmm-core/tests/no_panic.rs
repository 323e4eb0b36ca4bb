//! No input makes the checked public functions of gmm-core panic or answer `Ok` with a
//! non-finite number: matrices of arbitrary small shapes (0..5 x 0..5) whose entries mix
//! ordinary values with NaN, infinities, subnormals, zeros and extremes. The product `gemm`
//! take any three shapes and either fit them or return a shape error.

use gmm_core::nalgebra::DMatrix;
use gmm_core::strategies::{hostile_f64, spoiled_matrices};
use gmm_core::{Gmm, LinearMap, Subspace, linalg};
use proptest::prelude::*;

/// An entry: usually ordinary, sometimes hostile.
fn entry() -> impl Strategy<Value = f64> {
    prop_oneof![4 => -10.0..10.0f64, 1 => hostile_f64()]
}

fn matrix() -> impl Strategy<Value = DMatrix<f64>> {
    spoiled_matrices(0..5, 0..5)
}

/// A symmetric matrix of a random size, entries hostile too.
fn symmetric() -> impl Strategy<Value = DMatrix<f64>> {
    matrix().prop_map(|m| {
        let n = m.nrows().min(m.ncols());
        let s = m.view((0, 0), (n, n)).into_owned();
        (&s + s.transpose()) * 0.5
    })
}

fn finite(m: &DMatrix<f64>) -> bool {
    m.iter().all(|v| v.is_finite())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn decompositions_answer_with_finite_values_or_errors(s in symmetric(), b in symmetric(), m in matrix()) {
        if let Ok(c) = linalg::cholesky(&s, "s") {
            prop_assert!(finite(&c.l()));
        }
        if let Ok((l, v)) = linalg::sym_eig_desc(&s) {
            prop_assert!(l.iter().all(|x| x.is_finite()) && finite(&v));
        }
        if let Ok(g) = linalg::gen_sym_eig(&s, &b) {
            prop_assert!(g.values.iter().all(|x| x.is_finite()));
        }
        for f in [linalg::spd_sqrt, linalg::spd_inv_sqrt] {
            if let Ok(r) = f(&s) {
                prop_assert!(finite(&r));
            }
        }
        if let Ok(v) = linalg::singular_values(&m) {
            prop_assert!(v.iter().all(|x| x.is_finite()));
        }
        let _ = linalg::orthonormal_column_basis(&m, 1e-10);
        let _ = linalg::checked_symmetric(&m, "m");
    }

    #[test]
    fn products_of_any_shapes_fit_or_are_shape_errors(
        a in matrix(), b in matrix(), rows in 0usize..5, cols in 0usize..5, ta in any::<bool>(), tb in any::<bool>()
    ) {
        let op = |t: bool| if t { linalg::Op::T } else { linalg::Op::N };
        let (oa, ob) = (if ta { a.transpose() } else { a.clone() }, if tb { b.transpose() } else { b.clone() });
        let mut c = DMatrix::zeros(rows, cols);
        let fits = oa.ncols() == ob.nrows() && (rows, cols) == (oa.nrows(), ob.ncols());
        let result = linalg::gemm(1.0, &a, op(ta), &b, op(tb), 0.0, &mut c);
        prop_assert_eq!(result.is_ok(), fits);
        if let Err(e) = result {
            prop_assert!(matches!(e, gmm_core::GmmError::Shape { .. }), "not a shape error: {}", e);
        }
    }

    #[test]
    fn subspaces_and_maps_answer_with_finite_values_or_errors(
        a in matrix(), b in matrix(), x in matrix(), rtol in entry()
    ) {
        if let (Ok(s), Ok(t)) = (Subspace::from_columns(&a, rtol), Subspace::from_columns(&b, 1e-10))
            && let Ok(v) = s.sin_theta_max(&t)
        {
            prop_assert!(v.is_finite() && (0.0..=1.0 + 1e-12).contains(&v));
        }
        if let Ok(z) = LinearMap::new(a.clone()).transform(&x) {
            prop_assert!(finite(&z) || !finite(&a), "finite inputs, non-finite output");
        }
    }

    #[test]
    fn mixtures_are_built_only_from_meaningful_parameters(
        w in proptest::collection::vec(entry(), 0..4), means in matrix(), cov in symmetric()
    ) {
        if let Ok(g) = Gmm::new(&w, means, cov) {
            prop_assert!(g.weights().iter().all(|v| v.is_finite() && *v >= 0.0));
            let _ = g.fisher_subspace();
            let _ = g.mean_span();
            let _ = g.pca_subspace(1);
        }
    }
}
