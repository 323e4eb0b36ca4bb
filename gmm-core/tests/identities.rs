//! Claims C1 and C2 of docs/theory.md as exact identities over random mixtures (the shared
//! strategies of `gmm_core::strategies`, centred and non-centred), and the principal-angle
//! metric against constructed angles under random rotations.
//!
//! Tolerances are rounding tolerances: the quantities compared are equal in exact arithmetic,
//! and the bounds (1e-8 on sines, 1e-9 on probabilities) leave room for `eps * cond(Sigma)`
//! with `cond(Sigma) <= 1e3 * (1 + noise factor)`.

use gmm_core::linalg::RANK_RTOL;
use gmm_core::random_orthogonal;
use gmm_core::strategies::MixtureRanges;
use gmm_core::{Gmm, MixtureGenerator, Subspace, seeded};
use nalgebra::DMatrix;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// C1: the Bayes posterior computed from x equals the one computed from P x.
    #[test]
    fn c1_posterior_depends_only_on_fisher_coordinates(
        g in MixtureRanges::default().mean_offset(0.0..=3.0).strategy().unwrap(), seed in any::<u64>()
    ) {
        let x = g.sample(16, &mut seeded(seed ^ 1)).x;
        let p = g.fisher_projector().unwrap();
        let px = &x * p.transpose();
        let diff = (g.posterior(&x).unwrap() - g.posterior(&px).unwrap()).amax();
        prop_assert!(diff < 1e-9, "max posterior difference {diff}");
        // P is a projector onto the span of the centred means.
        prop_assert!((&p * &p - &p).amax() < 1e-8 * p.amax().max(1.0));
    }

    /// C2: range(Sigma^{-1} S_B) = range(Sigma_T^{-1} S_B) = the Fisher subspace.
    #[test]
    fn c2_fisher_subspace_two_ways(g in MixtureRanges::default().mean_offset(0.0..=3.0).strategy().unwrap()) {
        let sb = g.between_scatter();
        let via_sigma = Subspace::from_columns(&g.covariance().clone().cholesky().unwrap().solve(&sb), RANK_RTOL).unwrap();
        let via_total = Subspace::from_columns(&g.total_covariance().cholesky().unwrap().solve(&sb), RANK_RTOL).unwrap();
        let fisher = g.fisher_subspace().unwrap();
        prop_assert_eq!(fisher.dim(), g.k() - 1);
        prop_assert_eq!(via_sigma.dim(), fisher.dim());
        prop_assert_eq!(via_total.dim(), fisher.dim());
        prop_assert!(via_sigma.sin_theta_max(&via_total).unwrap() < 1e-8);
        prop_assert!(fisher.sin_theta_max(&via_sigma).unwrap() < 1e-8);
    }

    /// Principal angles: constructed angles (down to 1e-10) are recovered after a random rotation.
    #[test]
    fn principal_angles_recover_constructed_angles(
        d in 4usize..30, m in 1usize..4, seed in any::<u64>(), tiny in any::<bool>()
    ) {
        prop_assume!(2 * m <= d);
        let mut rng = seeded(seed);
        let thetas: Vec<f64> = (0..m)
            .map(|i| if tiny && i == 0 { 1e-10 } else { (i as f64 + 1.0) / (m as f64 + 1.0) * std::f64::consts::FRAC_PI_2 })
            .collect();
        let mut u = DMatrix::zeros(d, m);
        let mut v = DMatrix::zeros(d, m);
        for (i, t) in thetas.iter().enumerate() {
            u[(i, i)] = 1.0;
            v[(i, i)] = t.cos();
            v[(m + i, i)] = t.sin();
        }
        let r = random_orthogonal(d, &mut rng);
        let su = Subspace::from_columns(&(&r * u), 1e-12).unwrap();
        let sv = Subspace::from_columns(&(&r * v), 1e-12).unwrap();
        let mut expected = thetas.clone();
        expected.sort_by(f64::total_cmp);
        let got = su.principal_angles(&sv).unwrap();
        for (g, e) in got.iter().zip(&expected) {
            // Absolute error ~ eps for small angles (sine branch), ~ sqrt(eps)-free here since the
            // cosine branch is only used for angles above pi/4.
            prop_assert!((g - e).abs() < 1e-13 + 1e-12 * e, "{:?} vs {:?}", got, expected);
        }
        let pd = su.projection_distance(&sv).unwrap();
        let expected_pd = expected.iter().map(|t| t.sin().powi(2)).sum::<f64>().sqrt();
        prop_assert!((pd - expected_pd).abs() < 1e-12);
    }
}

#[test]
fn orthogonal_subspaces_have_right_angles() {
    let a = Subspace::from_columns(&DMatrix::identity(5, 2), 1e-12).unwrap();
    let b = Subspace::from_columns(&DMatrix::identity(5, 5).columns(2, 3).into_owned(), 1e-12).unwrap();
    let angles = a.principal_angles(&b).unwrap();
    assert!(angles.iter().all(|t| (t - std::f64::consts::FRAC_PI_2).abs() < 1e-15));
    assert_eq!(a.sin_theta_max(&b).unwrap(), 1.0);
}

#[test]
fn textbook_trap_and_its_control() {
    // s2 > 1 + a^2: PCA misses F; s2 < 1 + a^2 (control): PCA finds it.
    let trap = gmm_core::textbook_2d(1.5, 9.0).unwrap();
    let fine = gmm_core::textbook_2d(1.5, 2.0).unwrap();
    let sin = |g: &Gmm| g.pca_subspace(1).unwrap().sin_theta_max(&g.fisher_subspace().unwrap()).unwrap();
    assert!(sin(&trap) > 1.0 - 1e-12);
    assert!(sin(&fine) < 1e-12);
}

#[test]
fn c1_negative_control_orthogonal_projection_is_not_sufficient() {
    // With anisotropic Sigma, projecting orthogonally onto the span of the means (instead of the
    // oblique Fisher projector) changes the posterior: the identity of C1 is specific to P.
    let g = MixtureGenerator::isotropic(3, 8).condition(100.0).generate(&mut seeded(5)).unwrap();
    let x = g.sample(16, &mut seeded(6)).x;
    let q = g.mean_span().unwrap();
    let diff = (g.posterior(&x).unwrap() - g.posterior(&(&x * q.projector())).unwrap()).amax();
    assert!(diff > 1e-3, "orthogonal projection kept the posterior (diff {diff})");
}

#[test]
fn the_posterior_sums_to_one_at_the_ends_of_the_range() {
    // Means +-1e301 on a covariance of 1e300: the logits carry a common offset of -5e301,
    // which used to absorb log 2 and give a posterior of [1, 1]. Midway it is [1/2, 1/2].
    use gmm_core::nalgebra::DMatrix;
    let means = DMatrix::from_row_slice(2, 2, &[0.0, 1e301, 0.0, -1e301]);
    let g = gmm_core::Gmm::new(&[0.5, 0.5], means, DMatrix::identity(2, 2) * 1e300).unwrap();
    let p = g.posterior(&DMatrix::from_row_slice(1, 2, &[1.0, 0.0])).unwrap();
    assert!((p[(0, 0)] - 0.5).abs() < 1e-12 && (p[(0, 1)] - 0.5).abs() < 1e-12, "{p}");
    // Logits that overflow (10 x 1e308) are an error, not NaN.
    assert!(g.posterior(&DMatrix::from_row_slice(1, 2, &[0.0, 1e308])).is_err());
}
