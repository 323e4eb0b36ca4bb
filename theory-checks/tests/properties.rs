//! Property tests of the exact claims over random mixtures, drawn by the shared strategies of
//! `gmm_core::strategies` (C1 and C2 are property-tested once, in gmm-core/tests/identities.rs).
//! Tolerances are rounding tolerances: each compared pair is equal in exact arithmetic.
//! Failures would be saved in proptest-regressions/ (committed).

use gmm_core::gaussian_matrix;
use gmm_core::nalgebra::DMatrix;
use gmm_core::seeded;
use gmm_core::strategies::{MixtureRanges, pairs};
use proptest::prelude::*;
use ssl_losses::{Batch, Form, InfoNceLoss, Objective, Score};

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// C3 (exact part): isotropic Sigma, population PCA = F, centred or not (PCA of the
    /// covariance Sigma_T does not see the common mean).
    #[test]
    fn c3_isotropic_pca_is_fisher(g in MixtureRanges::default().isotropic().mean_offset(0.0..=3.0).strategy().unwrap()) {
        let f = g.fisher_subspace().unwrap();
        prop_assert!(g.pca_subspace(f.dim()).unwrap().sin_theta_max(&f).unwrap() < 1e-8);
    }

    /// C5 for InfoNCE on pairs of random mixtures (centred or not), random invertible G.
    #[test]
    fn c5_reparametrisation_on_mixture_samples(
        case in pairs(&MixtureRanges::default().mean_offset(0.0..=3.0), 16..=16, 0.8..=0.8).unwrap(),
        seed in any::<u64>(),
    ) {
        let (g, pairs) = (&case.gmm, &case.pairs);
        let d = g.dim();
        let m = gaussian_matrix(d, d, &mut seeded(seed ^ 3)) + DMatrix::identity(d, d) * (2.0 * (d as f64).sqrt());
        let mi = m.clone().try_inverse().unwrap();
        let a = gaussian_matrix(g.k() - 1, d, &mut seeded(seed ^ 4)) * (0.3 / (d as f64).sqrt());
        let mut loss = InfoNceLoss::new(1.0, Form::OneWay, Score::Dot).unwrap();
        let mut grad = vec![DMatrix::zeros(a.nrows(), d)];
        let before = loss.value_grad(std::slice::from_ref(&a), Batch::new(&pairs.x, &pairs.x_plus).unwrap(), &mut grad).unwrap();
        let (xm, xpm) = (&pairs.x * m.transpose(), &pairs.x_plus * m.transpose());
        let after = loss.value_grad(&[&a * &mi], Batch::new(&xm, &xpm).unwrap(), &mut grad).unwrap();
        prop_assert!((before - after).abs() <= 1e-9 * before.abs().max(1.0), "{before} vs {after}");
    }
}
