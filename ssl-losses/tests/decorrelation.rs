//! The batch forms of Barlow Twins and VICReg against their population forms: on a large sample
//! of view pairs the batch loss (the official code's normalisation) is the population loss (the
//! views' exact moments, `gmm_core::Augmentation::moments`) up to sampling error, for symmetric
//! and asymmetric views. The batch losses are smooth functions of sample moments, so their error
//! is `O(n^{-1/2})` (delta method): at `n = 400 000` a few times `1.6e-3` relative; the bound
//! 2e-2 is about ten standard errors; the nearest wrong moments (the asymmetric views treated
//! as symmetric) are off by more than the bound (checked below). Measured at these seeds:
//! 3e-4 to 8.8e-3 (the largest: Barlow Twins with one masked view); the wrong moments 0.49 and 1.65.

use gmm_core::{Augmentation, MixtureGenerator, NoiseShape, ViewTransform, seeded};
use nalgebra::DMatrix;
use ssl_losses::{
    BARLOW_EPS, BARLOW_LAMBDA, BarlowTwinsLoss, Batch, Objective, VICREG_EPS, VICREG_WEIGHTS, VicRegLoss,
    barlow_population, vicreg_population,
};

const N: usize = 400_000;
const REL_TOL: f64 = 2e-2;

fn batch_value(objective: &mut dyn Objective, a: &DMatrix<f64>, x: &DMatrix<f64>, xp: &DMatrix<f64>) -> f64 {
    let mut grads = vec![DMatrix::zeros(a.nrows(), a.ncols())];
    objective.value_grad(std::slice::from_ref(a), Batch::new(x, xp).unwrap(), &mut grads).unwrap()
}

#[test]
fn batch_losses_estimate_the_population_losses() {
    let g = MixtureGenerator::isotropic(3, 6).condition(10.0).generate(&mut seeded(4)).unwrap();
    let models = [
        Augmentation::coupled(1.0).unwrap(),
        Augmentation::additive_noise(NoiseShape::Isotropic(0.5)).unwrap(),
        Augmentation::masking(0.6).unwrap(),
        Augmentation::identical().then_both(ViewTransform::Mask { keep: 0.7 }).unwrap(),
    ];
    let a = gmm_core::gaussian_matrix(3, 6, &mut seeded(5)) * 0.5;
    for model in &models {
        let m = model.moments(&g).unwrap();
        let p = model.sample(&g, N, &mut seeded(6)).unwrap();
        let pop = barlow_population(&a, &m, BARLOW_LAMBDA, BARLOW_EPS).unwrap().0;
        let batch = batch_value(&mut BarlowTwinsLoss::official(), &a, &p.x, &p.x_plus);
        assert!((batch - pop).abs() <= REL_TOL * pop.abs(), "Barlow, {model}: batch {batch}, population {pop}");
        let pop = vicreg_population(&a, &m, &VICREG_WEIGHTS, VICREG_EPS).unwrap().0;
        let batch = batch_value(&mut VicRegLoss::official(), &a, &p.x, &p.x_plus);
        assert!((batch - pop).abs() <= REL_TOL * pop.abs(), "VICReg, {model}: batch {batch}, population {pop}");
        // The nearest wrong population moments: both views with the anchors' covariance (the
        // symmetric model). Off by more than the bound for the asymmetric views, where they differ.
        if !model.is_exchangeable() {
            let mut wrong = m.clone();
            wrong.second_right = m.second_left.clone();
            wrong.mean_right = m.mean_left.clone();
            let off = barlow_population(&a, &wrong, BARLOW_LAMBDA, BARLOW_EPS).unwrap().0;
            let batch = batch_value(&mut BarlowTwinsLoss::official(), &a, &p.x, &p.x_plus);
            assert!((batch - off).abs() > REL_TOL * off.abs(), "{model}: the wrong moments agree ({batch} vs {off})");
        }
    }
}

/// `vicreg_hinges` names each standard-deviation hinge with its gradient when active: with only
/// the variance weight, the population gradient is the sum of the active hinges' gradients (all
/// active: rows small enough that every standard deviation is below 1).
#[test]
fn vicreg_hinges_sum_to_the_variance_term_gradient() {
    use ssl_losses::{VicRegWeights, vicreg_hinges};
    let g = MixtureGenerator::isotropic(3, 5).condition(10.0).generate(&mut seeded(2)).unwrap();
    let m = Augmentation::masking(0.7).unwrap().moments(&g).unwrap();
    let a = gmm_core::gaussian_matrix(3, 5, &mut seeded(3)) * 0.05;
    let w = VicRegWeights { invariance: 0.0, variance: 25.0, covariance: 0.0 };
    let (_, grad) = vicreg_population(&a, &m, &w, VICREG_EPS).unwrap();
    let hinges = vicreg_hinges(&a, &m, &w, VICREG_EPS).unwrap();
    assert_eq!(hinges.len(), 6);
    assert!(hinges.iter().all(|h| h.std < 1.0));
    let sum = hinges.iter().fold(DMatrix::zeros(3, 5), |s, h| s + &h.active_gradient);
    assert!((sum - &grad).amax() <= 1e-12 * grad.amax(), "{grad}");
}
