//! Population InfoNCE on views ([`InfoNceViewPopulation`]) against an independent Monte Carlo
//! estimate of the same expectation, and the Gaussian theorem of zoo.md item 4.

use gmm_core::linalg::{gen_sym_eig, spd_inv_sqrt};
use gmm_core::nalgebra::DMatrix;
use gmm_core::{Augmentation, Gmm, MixtureGenerator, NoiseShape, Subspace, ViewTransform, gaussian_matrix, seeded};
use ssl_losses::{InfoNceViewPopulation, Lbfgs, PopulationInfoNceLoss, sobol_normal_nodes};

/// The quadrature value equals a plain Monte Carlo mean over 10^6 anchors drawn from the
/// left view, with the negatives' log-mgf in closed form (`PopulationInfoNceLoss` on the
/// mixture with the right view's covariance, its trace term taken off): the gap is below five
/// of the Monte Carlo standard errors plus twice the quadrature's own spread over two scrambling
/// seeds (a false alarm of about 6e-7 per comparison at this fixed seed). A model that forgets
/// the right view's noise in the negatives is off by more than three times the bound.
#[test]
fn quadrature_matches_monte_carlo_on_every_gaussian_view() {
    let g = MixtureGenerator::isotropic(4, 6).condition(20.0).generate(&mut seeded(5)).unwrap();
    let g = Gmm::new(g.weights().as_slice(), g.means().map(|v| v + 0.3), g.covariance().clone()).unwrap();
    let views = [
        Augmentation::coupled(0.7).unwrap(),
        Augmentation::additive_noise(NoiseShape::Isotropic(0.8)).unwrap(),
        Augmentation::identical().then_both(ViewTransform::Noise(NoiseShape::LikeCovariance(0.5))).unwrap(),
    ];
    let a = gaussian_matrix(3, 6, &mut seeded(8)) * 0.15;
    let q = InfoNceViewPopulation::quadrature_dim(&g).unwrap();
    assert_eq!(q, 3);
    let n = 1_000_000;
    for aug in &views {
        let (sigma_left, sigma_right) = aug.gaussian_view_covariances(&g).unwrap().unwrap();
        let value = |seed| {
            let nodes = sobol_normal_nodes(8192, q, seed).unwrap();
            InfoNceViewPopulation::new(&g, aug, 1.0, nodes).unwrap().value_grad(&a).unwrap().0
        };
        let (quadrature, other) = (value(0), value(1));
        let anchors =
            Gmm::new(g.weights().as_slice(), g.means().clone(), sigma_left).unwrap().sample(n, &mut seeded(9)).x;
        let mc = |sigma: DMatrix<f64>| {
            let negatives = Gmm::new(g.weights().as_slice(), g.means().clone(), sigma).unwrap();
            let inner = PopulationInfoNceLoss::new(&negatives, 0.0, 1.0).unwrap();
            let trace = (&a * negatives.cross_moment(0.0).unwrap()).dot(&a);
            let lse: Vec<f64> = inner.per_sample_losses(&a, &anchors).unwrap().iter().map(|l| l + trace).collect();
            let mean = lse.iter().sum::<f64>() / n as f64;
            let var = lse.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            let cross = gmm_core::linalg::symmetrize(&aug.moments(&g).unwrap().cross);
            (-(&a * cross).dot(&a) + mean, (var / n as f64).sqrt())
        };
        let (estimate, se) = mc(sigma_right.clone());
        let bound = 5.0 * se + 2.0 * (quadrature - other).abs();
        assert!(
            (quadrature - estimate).abs() < bound,
            "{aug}: quadrature {quadrature} against Monte Carlo {estimate} (bound {bound:.2e})"
        );
        if sigma_right != *g.covariance() {
            let (wrong, _) = mc(g.covariance().clone());
            assert!((quadrature - wrong).abs() > 3.0 * bound, "{aug}: the wrong negatives are not told apart");
        }
    }
}

/// zoo.md item 4 (PROVED for Gaussian data): with `x+ = x + xi`, `xi ~ N(0, Sigma_aug)`, the
/// minimiser's row space is the top-`r` generalized eigenvectors of `(Sigma_T, Sigma_T + Sigma_aug)`.
/// A mixture whose means all coincide (`q = 0`, no quadrature) is Gaussian, so the fitted
/// minimiser must equal it to the solver's precision (1e-6 in `sin`); with `Sigma_aug` isotropic
/// that is PCA, and the Fisher-like direction a shaped noise would pick is far from it.
#[test]
fn gaussian_data_gives_the_generalized_eigenvectors() {
    let g = MixtureGenerator::isotropic(3, 5).condition(30.0).generate(&mut seeded(2)).unwrap();
    let means = DMatrix::zeros(3, 5);
    let gaussian = Gmm::new(g.weights().as_slice(), means, g.covariance().clone()).unwrap();
    assert_eq!(InfoNceViewPopulation::quadrature_dim(&gaussian).unwrap(), 0);
    let w = gaussian_matrix(5, 5, &mut seeded(4));
    let shaped = &w * w.transpose() / 5.0;
    for noise in [NoiseShape::Isotropic(0.5), NoiseShape::Given(shaped)] {
        let aug = Augmentation::additive_noise(noise).unwrap();
        let loss = InfoNceViewPopulation::new(&gaussian, &aug, 1.0, DMatrix::zeros(1, 0)).unwrap();
        let sigma_t = gaussian.total_covariance();
        let (_, sigma_right) = aug.gaussian_view_covariances(&gaussian).unwrap().unwrap();
        // Whitened parametrisation (the loss depends on A x only): A = B Sigma_T^{-1/2}.
        let root = spd_inv_sqrt(&sigma_t).unwrap();
        let mut cost = ssl_losses::FnCost::new(|p: &[DMatrix<f64>], grads: &mut [DMatrix<f64>]| {
            let (value, grad) = loss.value_grad(&(&p[0] * &root))?;
            grads[0] = grad * root.transpose();
            Ok(value)
        });
        let solver = Lbfgs { grad_rtol: 1e-12, max_iters: 5000, ..Lbfgs::default() };
        let out = solver.minimize(&mut cost, vec![gaussian_matrix(2, 5, &mut seeded(6)) * 0.3], &mut ()).unwrap();
        let fitted = Subspace::from_rows(&(&out.params[0] * &root), 1e-10).unwrap();
        let gev = gen_sym_eig(&sigma_t, &sigma_right).unwrap();
        let expected = Subspace::from_columns(&gev.vectors.columns(0, 2).into_owned(), 1e-10).unwrap();
        let sin = fitted.sin_theta_max(&expected).unwrap();
        assert!(sin < 1e-6, "{aug}: sin to GEV(Sigma_T, Sigma_T + Sigma_aug) = {sin:.2e}");
    }
}

/// The node generator refuses what the Sobol sequence cannot give, and its nodes are finite
/// standard normals (mean within 5 standard errors of 0, variance within 5% of 1 at 4096 nodes).
#[test]
fn sobol_nodes_are_finite_standard_normals_within_the_sequence() {
    assert!(sobol_normal_nodes(0, 2, 0).is_err());
    assert!(sobol_normal_nodes(65_537, 2, 0).is_err());
    assert!(sobol_normal_nodes(4, 257, 0).is_err());
    let z = sobol_normal_nodes(4096, 3, 7).unwrap();
    assert!(z.iter().all(|v| v.is_finite()));
    for j in 0..3 {
        let col = z.column(j);
        let mean = col.mean();
        let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 4095.0;
        assert!(mean.abs() < 5.0 / 64.0 && (var - 1.0).abs() < 0.05, "column {j}: mean {mean}, variance {var}");
    }
    assert_ne!(sobol_normal_nodes(8, 2, 0).unwrap(), sobol_normal_nodes(8, 2, 1).unwrap());
}
