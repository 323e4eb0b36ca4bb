//! Every analytic gradient against central finite differences (relative error < 1e-6 in f64,
//! theory.md section 3), on random inputs, for every loss variant; and the reparametrisation
//! identity C5 for InfoNCE, SimSiam and CLIP.
//!
//! Finite differences use the fourth-order central stencil
//! `(8 [f(h) - f(-h)] - [f(2h) - f(-2h)]) / (12 h)` with `h = 1e-5`: truncation error
//! `O(h^4 f^(5)) ~ 1e-20 f^(5)` (small even where the cosine score's normalisation makes the loss
//! curve sharply, at embeddings of norm ~1e-2: the second-order stencil's `O(h^2 f''')` reached
//! 1.8e-6 there on random mixture pairs) and rounding error `O(eps / h) ~ 1e-11`, far below the
//! 1e-6 bound, so a wrong gradient term (typically an O(1) relative error) cannot pass.
//!
//! Where the true gradient vanishes (e.g. the cosine score with one output direction: every
//! cosine is +-1, so the loss is locally constant) a relative error compares two rounding
//! errors; the comparison then uses the stencil's own rounding floor instead (see
//! [`relative_error`]).

use gmm_core::ViewMoments;
use gmm_core::gaussian_matrix;
use gmm_core::strategies::{MixtureRanges, linear_maps, pairs};
use gmm_core::{MixtureGenerator, seeded};
use nalgebra::DMatrix;
use ssl_losses::{
    BarlowTwinsLoss, Batch, ClipLoss, Directions, Form, InfoNceLoss, Objective, PopulationInfoNceLoss, Score,
    SimSiamForm, SimSiamLoss, SpectralContrastiveLoss, VICREG_WEIGHTS, VicRegLoss, VicRegWeights, barlow_population,
    spectral_population, vicreg_population,
};

const H: f64 = 1e-5;
const REL_TOL: f64 = 1e-6;

/// Central differences of `f` over every entry of every block.
fn finite_differences(params: &[DMatrix<f64>], mut f: impl FnMut(&[DMatrix<f64>]) -> f64) -> Vec<DMatrix<f64>> {
    let mut out: Vec<DMatrix<f64>> = params.iter().map(|p| DMatrix::zeros(p.nrows(), p.ncols())).collect();
    let mut work = params.to_vec();
    for b in 0..params.len() {
        for idx in 0..params[b].len() {
            let orig = work[b][idx];
            let mut at = |t: f64| {
                work[b][idx] = orig + t;
                f(&work)
            };
            let (up, down, up2, down2) = (at(H), at(-H), at(2.0 * H), at(-2.0 * H));
            work[b][idx] = orig;
            out[b][idx] = (8.0 * (up - down) - (up2 - down2)) / (12.0 * H);
        }
    }
    out
}

/// `||a - b|| / max(||b||, floor / REL_TOL)`, `b` the finite differences of a loss of size
/// `value`: `floor = 2 eps |value| sqrt(p) / H` bounds the stencil's rounding error over `p`
/// entries (each entry's weights sum to `(8 + 8 + 1 + 1) / 12 = 1.5`), so a vanishing gradient is
/// judged against that floor, and any gradient of norm above `floor / REL_TOL` (about 1e-4 for
/// a loss of size 1 and 20 entries) against its own norm.
fn relative_error(a: &[DMatrix<f64>], b: &[DMatrix<f64>], value: f64) -> f64 {
    let diff: f64 = a.iter().zip(b).map(|(x, y)| (x - y).norm_squared()).sum::<f64>().sqrt();
    let scale: f64 = b.iter().map(|y| y.norm_squared()).sum::<f64>().sqrt();
    let entries: usize = b.iter().map(|y| y.len()).sum();
    let floor = 2.0 * f64::EPSILON * value.abs() * (entries as f64).sqrt() / H;
    diff / scale.max(floor / REL_TOL).max(1e-300)
}

fn check(
    objective: &mut dyn Objective,
    params: Vec<DMatrix<f64>>,
    left: &DMatrix<f64>,
    right: &DMatrix<f64>,
    label: &str,
) {
    let err = gradient_error(objective, params, left, right);
    assert!(err < REL_TOL, "{label}: relative gradient error {err:.3e}");
}

/// Relative error of the analytic gradient against central differences.
fn gradient_error(
    objective: &mut dyn Objective,
    params: Vec<DMatrix<f64>>,
    left: &DMatrix<f64>,
    right: &DMatrix<f64>,
) -> f64 {
    let mut grads: Vec<DMatrix<f64>> = params.iter().map(|p| DMatrix::zeros(p.nrows(), p.ncols())).collect();
    let value = objective.value_grad(&params, Batch::new(left, right).unwrap(), &mut grads).unwrap();
    let fd = finite_differences(&params, |p| {
        let mut g: Vec<DMatrix<f64>> = p.iter().map(|q| DMatrix::zeros(q.nrows(), q.ncols())).collect();
        objective.value_grad(p, Batch::new(left, right).unwrap(), &mut g).unwrap()
    });
    relative_error(&grads, &fd, value)
}

fn random(n: usize, m: usize, seed: u64) -> DMatrix<f64> {
    gaussian_matrix(n, m, &mut seeded(seed))
}

#[test]
fn infonce_gradients_all_forms_and_scores() {
    for seed in 0..4 {
        let (n, d, r) = (7, 5, 3);
        let x = random(n, d, seed);
        let xp = &x + random(n, d, seed + 100) * 0.5;
        let a = random(r, d, seed + 200) * 0.7;
        for form in [Form::OneWay, Form::Symmetric, Form::SimClr] {
            for score in [Score::Dot, Score::Cosine] {
                let mut loss = InfoNceLoss::new(0.7, form, score).unwrap();
                check(&mut loss, vec![a.clone()], &x, &xp, &format!("InfoNCE {form:?} {score:?} seed {seed}"));
            }
        }
    }
}

#[test]
fn clip_gradients() {
    for seed in 0..4 {
        let (n, dx, dy, r) = (6, 5, 4, 2);
        let x = random(n, dx, seed);
        let y = random(n, dy, seed + 10);
        let params = vec![random(r, dx, seed + 20), random(r, dy, seed + 30)];
        for score in [Score::Dot, Score::Cosine] {
            let mut loss = ClipLoss::new(0.5, score).unwrap();
            check(&mut loss, params.clone(), &x, &y, &format!("CLIP {score:?} seed {seed}"));
        }
    }
}

#[test]
fn spectral_contrastive_gradients_batch_and_population() {
    for seed in 0..4 {
        let (n, d, r) = (7, 5, 3);
        let x = random(n, d, seed);
        let xp = &x + random(n, d, seed + 100) * 0.5;
        let a = random(r, d, seed + 200) * 0.7;
        check(&mut SpectralContrastiveLoss::new(), vec![a.clone()], &x, &xp, &format!("spectral seed {seed}"));
        // The population form on arbitrary moments (K not symmetric, M symmetric positive definite).
        let k = random(d, d, seed + 300);
        let b = random(d, d, seed + 400);
        let m = &b * b.transpose() + DMatrix::identity(d, d);
        let (value, grad) = spectral_population(&a, &k, &m).unwrap();
        let fd = finite_differences(std::slice::from_ref(&a), |p| spectral_population(&p[0], &k, &m).unwrap().0);
        let err = relative_error(std::slice::from_ref(&grad), &fd, value);
        assert!(err < REL_TOL, "spectral population seed {seed}: relative gradient error {err:.3e}");
    }
}

/// Arbitrary view moments: different means and covariances per side, a non-symmetric cross moment.
fn random_moments(d: usize, seed: u64) -> ViewMoments {
    let b1 = random(d, d, seed);
    let b2 = random(d, d, seed + 1);
    ViewMoments {
        mean_left: random(d, 1, seed + 2).column(0).into_owned(),
        mean_right: random(d, 1, seed + 3).column(0).into_owned(),
        second_left: &b1 * b1.transpose() + DMatrix::identity(d, d) * 3.0,
        second_right: &b2 * b2.transpose() + DMatrix::identity(d, d) * 3.0,
        cross: random(d, d, seed + 4),
    }
}

#[test]
fn barlow_twins_gradients_batch_and_population() {
    for seed in 0..4 {
        let (n, d, r) = (9, 5, 3);
        let x = random(n, d, seed);
        let xp = &x + random(n, d, seed + 100) * 0.5;
        let a = random(r, d, seed + 200) * 0.7;
        for (lambda, eps) in [(0.0051, 1e-5), (1.0, 0.0), (10.0, 0.3)] {
            let mut loss = BarlowTwinsLoss::new(lambda, eps).unwrap();
            check(&mut loss, vec![a.clone()], &x, &xp, &format!("Barlow Twins {lambda} {eps} seed {seed}"));
            let m = random_moments(d, seed + 300);
            let (value, grad) = barlow_population(&a, &m, lambda, eps).unwrap();
            let fd =
                finite_differences(std::slice::from_ref(&a), |p| barlow_population(&p[0], &m, lambda, eps).unwrap().0);
            let err = relative_error(std::slice::from_ref(&grad), &fd, value);
            assert!(err < REL_TOL, "Barlow population {lambda} seed {seed}: relative gradient error {err:.3e}");
        }
    }
}

#[test]
fn vicreg_gradients_batch_and_population() {
    let weights = [VICREG_WEIGHTS, VicRegWeights { invariance: 1.0, variance: 2.0, covariance: 3.0 }];
    for seed in 0..4 {
        let (n, d, r) = (9, 5, 3);
        let x = random(n, d, seed);
        let xp = &x + random(n, d, seed + 100) * 0.5;
        // Rows of mixed sizes, so that some outputs' standard deviations are below 1 (the hinge
        // active) and some above.
        let mut a = random(r, d, seed + 200) * 0.7;
        a.row_mut(0).scale_mut(0.1);
        for w in &weights {
            let mut loss = VicRegLoss::new(*w, 1e-4).unwrap();
            check(&mut loss, vec![a.clone()], &x, &xp, &format!("VICReg {w:?} seed {seed}"));
            let m = random_moments(d, seed + 300);
            let (value, grad) = vicreg_population(&a, &m, w, 1e-4).unwrap();
            let fd = finite_differences(std::slice::from_ref(&a), |p| vicreg_population(&p[0], &m, w, 1e-4).unwrap().0);
            let err = relative_error(std::slice::from_ref(&grad), &fd, value);
            assert!(err < REL_TOL, "VICReg population {w:?} seed {seed}: relative gradient error {err:.3e}");
        }
    }
}

#[test]
fn simsiam_gradients_with_the_target_held_fixed() {
    for seed in 0..4 {
        let (n, d, r) = (6, 5, 3);
        let x = random(n, d, seed);
        let xp = &x + random(n, d, seed + 1) * 0.3;
        let a = random(r, d, seed + 2);
        let w = random(r, r, seed + 3);
        for form in [SimSiamForm::Mse, SimSiamForm::NegCosine] {
            for directions in [Directions::OneWay, Directions::Symmetric] {
                let mut loss = SimSiamLoss::new(form, directions);
                let params = vec![a.clone(), w.clone()];
                let mut grads = vec![DMatrix::zeros(r, d), DMatrix::zeros(r, r)];
                let batch = Batch::new(&x, &xp).unwrap();
                let value = loss.value_grad(&params, batch, &mut grads).unwrap();
                // Stop-gradient: differentiate in the online copy only.
                let fd = finite_differences(&params, |p| {
                    let mut g = vec![DMatrix::zeros(r, d), DMatrix::zeros(r, r)];
                    loss.value_grad_with_target(p, &a, batch, &mut g).unwrap()
                });
                let err = relative_error(&grads, &fd, value);
                assert!(err < REL_TOL, "SimSiam {form:?} {directions:?} seed {seed}: {err:.3e}");
            }
        }
    }
}

#[test]
fn population_infonce_gradient() {
    for (seed, delta) in [(0, 1.0), (1, 0.6), (2, 0.0)] {
        let g = MixtureGenerator::isotropic(3, 4).condition(5.0).generate(&mut seeded(seed)).unwrap();
        let x = g.sample(50, &mut seeded(seed + 7)).x;
        let mut loss = PopulationInfoNceLoss::new(&g, delta, 0.8).unwrap();
        let a = random(2, 4, seed + 9) * 0.5;
        check(&mut loss, vec![a], &x, &x, &format!("population InfoNCE delta {delta}"));
    }
}

/// Population InfoNCE on Gaussian views (coupled, one-sided and two-sided noise, a given noise
/// covariance), on centred and shifted mixtures, at two temperatures: the quadrature is a fixed
/// rule, so the gradient is exact for it (Cholesky adjoint included).
#[test]
fn population_infonce_on_views_gradient() {
    use gmm_core::{Augmentation, Gmm, NoiseShape, ViewTransform};
    use ssl_losses::{InfoNceViewPopulation, sobol_normal_nodes};
    for seed in 0..4u64 {
        let k = 3 + seed as usize % 2;
        let g = MixtureGenerator::isotropic(k, 5).condition(8.0).generate(&mut seeded(seed)).unwrap();
        let shifted = Gmm::new(g.weights().as_slice(), g.means().map(|v| v + 0.7), g.covariance().clone()).unwrap();
        let wishart = random(5, 5, seed + 20);
        let views = [
            Augmentation::coupled(0.8).unwrap(),
            Augmentation::additive_noise(NoiseShape::Isotropic(0.5)).unwrap(),
            Augmentation::identical().then_both(ViewTransform::Noise(NoiseShape::LikeCovariance(0.7))).unwrap(),
            Augmentation::additive_noise(NoiseShape::Given(&wishart * wishart.transpose() / 5.0)).unwrap(),
        ];
        for (mixture, tau) in [(&g, 1.0), (&shifted, 0.6)] {
            let q = InfoNceViewPopulation::quadrature_dim(mixture).unwrap();
            for aug in &views {
                let loss =
                    InfoNceViewPopulation::new(mixture, aug, tau, sobol_normal_nodes(256, q, 3).unwrap()).unwrap();
                let a = random(k - 1, 5, seed + 9) * 0.4;
                let (value, grad) = loss.value_grad(&a).unwrap();
                let fd = finite_differences(std::slice::from_ref(&a), |p| loss.value_grad(&p[0]).unwrap().0);
                let err = relative_error(&[grad], &fd, value);
                assert!(
                    err < REL_TOL,
                    "InfoNCE on views {aug}, tau {tau}, seed {seed}: relative gradient error {err:.3e}"
                );
            }
        }
    }
}

/// The SimSiam/BYOL flow's loss gradients in `W_p` and `W` with the target held fixed (the
/// stop-gradient), on arbitrary moments (a non-symmetric cross moment: its symmetric part is the
/// loss's). SimSiam's target is the encoder itself, so its differences hold the target at the
/// encoder of the point of expansion (a BYOL state with that target).
#[test]
fn predictor_flow_gradients_with_the_target_held_fixed() {
    use ssl_losses::{FlowRule, FlowState, PredictorFlow};
    for seed in 0..4u64 {
        let (d, r) = (5, 3);
        let m = random_moments(d, seed);
        let params = vec![random(r, r, seed + 10), random(r, d, seed + 20) * 0.5];
        let held = PredictorFlow::new(FlowRule::Byol { momentum: 0.1 }, 0.7, 0.01, &m.second_left, &m.cross).unwrap();
        for rule in [FlowRule::SimSiam, FlowRule::Byol { momentum: 0.1 }] {
            let flow = PredictorFlow::new(rule, 0.7, 0.01, &m.second_left, &m.cross).unwrap();
            let target = match rule {
                FlowRule::SimSiam => params[1].clone(),
                FlowRule::Byol { .. } => random(r, d, seed + 30),
            };
            let own = FlowState {
                predictor: params[0].clone(),
                encoder: params[1].clone(),
                target: matches!(rule, FlowRule::Byol { .. }).then(|| target.clone()),
            };
            let (value, gp, gw) = flow.loss_grad(&own).unwrap();
            let fd = finite_differences(&params, |p| {
                let s = FlowState { predictor: p[0].clone(), encoder: p[1].clone(), target: Some(target.clone()) };
                held.loss_grad(&s).unwrap().0
            });
            let err = relative_error(&[gp, gw], &fd, value);
            assert!(err < REL_TOL, "flow {rule:?} seed {seed}: relative gradient error {err:.3e}");
        }
    }
}

/// The flow's field derivative (its Jacobian, used for Newton's method and the stability
/// certificate) against central differences of the field, both rules, in random directions.
#[test]
fn predictor_flow_field_derivative() {
    use ssl_losses::{FlowRule, FlowState, PredictorFlow};
    for seed in 0..4u64 {
        let (d, r) = (5, 3);
        let m = random_moments(d, seed);
        for rule in [FlowRule::SimSiam, FlowRule::Byol { momentum: 0.3 }] {
            let flow = PredictorFlow::new(rule, 0.7, 0.05, &m.second_left, &m.cross).unwrap();
            let byol = matches!(rule, FlowRule::Byol { .. });
            let at = |s: u64| FlowState {
                predictor: random(r, r, s),
                encoder: random(r, d, s + 1) * 0.5,
                target: byol.then(|| random(r, d, s + 2)),
            };
            let (state, dir) = (at(seed + 40), at(seed + 50));
            let exact = flow.field_derivative(&state, &dir).unwrap();
            let moved = |t: f64| {
                let s = FlowState {
                    predictor: &state.predictor + &dir.predictor * t,
                    encoder: &state.encoder + &dir.encoder * t,
                    target: state.target.as_ref().zip(dir.target.as_ref()).map(|(a, b)| a + b * t),
                };
                flow.field(&s).unwrap()
            };
            // Fourth-order stencil: exact for the cubic field up to rounding.
            let (up, down, up2, down2) = (moved(H), moved(-H), moved(2.0 * H), moved(-2.0 * H));
            let fd = |pick: fn(&FlowState) -> &DMatrix<f64>| {
                (8.0 * (pick(&up) - pick(&down)) - (pick(&up2) - pick(&down2))) / (12.0 * H)
            };
            let mut pairs =
                vec![(exact.predictor.clone(), fd(|s| &s.predictor)), (exact.encoder.clone(), fd(|s| &s.encoder))];
            if byol {
                pairs.push((exact.target.clone().unwrap(), fd(|s| s.target.as_ref().unwrap())));
            }
            let (a, b): (Vec<_>, Vec<_>) = pairs.into_iter().unzip();
            let err = relative_error(&a, &b, 1.0);
            assert!(err < REL_TOL, "flow {rule:?} seed {seed}: field derivative error {err:.3e}");
        }
    }
}

/// C5: `L(A; x) = L(A G^{-1}; G x)` for invertible `G` (samples are rows: `X -> X G^T`).
#[test]
fn c5_reparametrisation_invariance() {
    for seed in 0..4 {
        let (n, d, r) = (8, 5, 2);
        let g = random(d, d, seed + 50) + DMatrix::identity(d, d) * 3.0; // well conditioned
        let g_inv = g.clone().try_inverse().unwrap();
        let x = random(n, d, seed);
        let xp = &x + random(n, d, seed + 1) * 0.4;
        let (xg, xpg) = (&x * g.transpose(), &xp * g.transpose());
        let a = random(r, d, seed + 2);
        let value = |obj: &mut dyn Objective, params: Vec<DMatrix<f64>>, l: &DMatrix<f64>, rr: &DMatrix<f64>| {
            let mut grads: Vec<DMatrix<f64>> = params.iter().map(|p| DMatrix::zeros(p.nrows(), p.ncols())).collect();
            obj.value_grad(&params, Batch::new(l, rr).unwrap(), &mut grads).unwrap()
        };
        let close =
            |u: f64, v: f64, what: &str| assert!((u - v).abs() <= 1e-10 * u.abs().max(1.0), "{what}: {u} vs {v}");
        for score in [Score::Dot, Score::Cosine] {
            let mut loss = InfoNceLoss::new(0.5, Form::Symmetric, score).unwrap();
            let before = value(&mut loss, vec![a.clone()], &x, &xp);
            let after = value(&mut loss, vec![&a * &g_inv], &xg, &xpg);
            close(before, after, "InfoNCE");
        }
        let mut siam = SimSiamLoss::new(SimSiamForm::Mse, Directions::Symmetric);
        let w = random(r, r, seed + 3);
        let before = value(&mut siam, vec![a.clone(), w.clone()], &x, &xp);
        let after = value(&mut siam, vec![&a * &g_inv, w], &xg, &xpg);
        close(before, after, "SimSiam");
        let h = random(4, 4, seed + 60) + DMatrix::identity(4, 4) * 3.0;
        let y = random(n, 4, seed + 4);
        let b = random(r, 4, seed + 5);
        let mut clip = ClipLoss::new(0.5, Score::Dot).unwrap();
        let before = value(&mut clip, vec![a.clone(), b.clone()], &x, &y);
        let after =
            value(&mut clip, vec![&a * &g_inv, &b * h.clone().try_inverse().unwrap()], &xg, &(&y * h.transpose()));
        close(before, after, "CLIP");
        // Negative control: transforming the data without the map changes the loss.
        let mut loss = InfoNceLoss::new(0.5, Form::OneWay, Score::Dot).unwrap();
        let before = value(&mut loss, vec![a.clone()], &x, &xp);
        let wrong = value(&mut loss, vec![a.clone()], &xg, &xpg);
        assert!((before - wrong).abs() > 1e-3);
    }
}

#[test]
fn bad_inputs_are_typed_errors() {
    assert!(InfoNceLoss::<f64>::new(0.0, Form::OneWay, Score::Dot).is_err());
    assert!(InfoNceLoss::<f64>::new(f64::NAN, Form::OneWay, Score::Dot).is_err());
    let mut loss = InfoNceLoss::new(1.0, Form::OneWay, Score::Dot).unwrap();
    let x = random(1, 3, 0);
    let mut g = vec![DMatrix::zeros(2, 3)];
    assert!(loss.value_grad(&[random(2, 3, 1)], Batch::new(&x, &x).unwrap(), &mut g).is_err(), "batch of 1");
    let mut x = random(4, 3, 0);
    x[(2, 1)] = f64::NAN;
    // Checked once, when the batch is built: a NaN names its side, row and column.
    let nan = Batch::new(&x, &x).unwrap_err().to_string();
    assert!(nan.contains("left side") && nan.contains("row 2") && nan.contains("column 1"), "{nan}");
    let x = random(4, 3, 0);
    assert!(Batch::new(&x, &random(3, 3, 0)).is_err(), "sides with different rows");
    assert!(loss.value_grad(&[random(2, 4, 1)], Batch::new(&x, &x).unwrap(), &mut g).is_err(), "wrong map shape");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// InfoNCE (every form, dot and cosine) on pairs of random mixtures, centred or not, and
    /// random maps, drawn by the shared strategies of `gmm_core::strategies`.
    #[test]
    fn infonce_gradients_on_random_mixture_pairs(
        case in pairs(&MixtureRanges::default().d(2..=12).mean_offset(0.0..=3.0), 6..=12, 0.0..=1.0).unwrap(),
        map in linear_maps(1..=3, 12, 0.5).unwrap(),
    ) {
        let d = case.gmm.dim();
        let a = map.components().columns(0, d).into_owned();
        for form in [Form::OneWay, Form::Symmetric, Form::SimClr] {
            for score in [Score::Dot, Score::Cosine] {
                let mut loss = InfoNceLoss::new(0.7, form, score).unwrap();
                if score == Score::Cosine && a.nrows() == 1 {
                    // Piecewise constant (every cosine is +-1): refused, not differentiated.
                    let mut g = vec![DMatrix::zeros(1, d)];
                    let batch = Batch::new(&case.pairs.x, &case.pairs.x_plus).unwrap();
                    proptest::prop_assert!(loss.value_grad(std::slice::from_ref(&a), batch, &mut g).is_err());
                    continue;
                }
                let err = gradient_error(&mut loss, vec![a.clone()], &case.pairs.x, &case.pairs.x_plus);
                proptest::prop_assert!(err < REL_TOL, "{form:?} {score:?}: relative gradient error {err:.3e}");
            }
        }
    }
}
