//! Property tests of the exact claims over random mixtures (shared strategies,
//! theory-checks::strategies). Tolerances are rounding tolerances: each compared pair is equal
//! in exact arithmetic. Failures would be saved in proptest-regressions/ (committed).

use gmm_core::generate::gaussian_matrix;
use gmm_core::linalg::RANK_RTOL;
use gmm_core::{Subspace, seeded};
use nalgebra::DMatrix;
use proptest::prelude::*;
use ssl_losses::{Batch, Form, InfoNce, Objective, Score};
use theory_checks::strategies::mixtures;

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// C1 over random mixtures.
    #[test]
    fn c1_posterior_from_fisher_coordinates(case in mixtures()) {
        let g = case.gmm();
        let x = g.sample(8, &mut seeded(case.seed ^ 1)).x;
        let p = g.fisher_projector().unwrap();
        let gap = (g.posterior(&x).unwrap() - g.posterior(&(&x * p.transpose())).unwrap()).amax();
        prop_assert!(gap < 1e-9, "gap {gap:e}");
    }

    /// C2 over random mixtures.
    #[test]
    fn c2_two_forms_of_the_fisher_subspace(case in mixtures()) {
        let g = case.gmm();
        let sb = g.between_scatter();
        let a = Subspace::from_columns(&g.solve_covariance(&sb).unwrap(), RANK_RTOL).unwrap();
        let b = Subspace::from_columns(&g.total_covariance().cholesky().unwrap().solve(&sb), RANK_RTOL).unwrap();
        prop_assert_eq!(a.dim(), g.k() - 1);
        prop_assert!(a.sin_theta_max(&b).unwrap() < 1e-8);
    }

    /// C3 (exact part): isotropic Sigma, population PCA = F.
    #[test]
    fn c3_isotropic_pca_is_fisher(mut case in mixtures()) {
        case.log_condition = 0.0;
        case.noise = false;
        let g = case.gmm();
        let f = g.fisher_subspace().unwrap();
        prop_assert!(g.pca_subspace(f.dim()).unwrap().sin_theta_max(&f).unwrap() < 1e-8);
    }

    /// C5 for InfoNCE on samples of random mixtures, random invertible G.
    #[test]
    fn c5_reparametrisation_on_mixture_samples(case in mixtures()) {
        let g = case.gmm();
        let d = g.dim();
        let pairs = g.sample_pairs(16, 0.8, &mut seeded(case.seed ^ 2)).unwrap();
        let m = gaussian_matrix(d, d, &mut seeded(case.seed ^ 3)) + DMatrix::identity(d, d) * (2.0 * (d as f64).sqrt());
        let mi = m.clone().try_inverse().unwrap();
        let a = gaussian_matrix(g.k() - 1, d, &mut seeded(case.seed ^ 4)) * (0.3 / (d as f64).sqrt());
        let mut loss = InfoNce::new(1.0, Form::OneWay, Score::Dot).unwrap();
        let mut grad = vec![DMatrix::zeros(a.nrows(), d)];
        let before = loss.value_grad(std::slice::from_ref(&a), Batch::new(&pairs.x, &pairs.x_plus), &mut grad).unwrap();
        let (xm, xpm) = (&pairs.x * m.transpose(), &pairs.x_plus * m.transpose());
        let after = loss.value_grad(&[&a * &mi], Batch::new(&xm, &xpm), &mut grad).unwrap();
        prop_assert!((before - after).abs() <= 1e-9 * before.abs().max(1.0), "{before} vs {after}");
    }
}
