//! The SimSiam/BYOL flow (zoo.md item 6): its closed-form fixed point for whitened inputs, the
//! stability certificate on both branches, the fixed point of raw inputs continued from it, and
//! the certificate's meaning checked on the flow itself by Runge-Kutta integration (a certified
//! point attracts a perturbed start; the unstable branch repels it).

use gmm_core::linalg::{spd_inv_sqrt, sym_eig_desc};
use gmm_core::nalgebra::DMatrix;
use gmm_core::{Augmentation, MixtureGenerator, gaussian_matrix, seeded};
use ssl_losses::{FixedPointSettings, FlowRule, FlowState, PredictorFlow, SteadyState, whitened_fixed_point};

/// Whitened coupled-pair moments `(I, T)` of a random mixture, `T = Sigma_T^{-1/2} S_B Sigma_T^{-1/2}`,
/// with the raw ones `(Sigma_T, S_B)` and `Sigma_T^{-1/2}`.
#[allow(clippy::type_complexity)]
fn moments(
    k: usize,
    d: usize,
    seed: u64,
) -> ((DMatrix<f64>, DMatrix<f64>), (DMatrix<f64>, DMatrix<f64>), DMatrix<f64>) {
    let g = MixtureGenerator::isotropic(k, d).condition(30.0).generate(&mut seeded(seed)).unwrap();
    let m = Augmentation::coupled(1.0).unwrap().moments(&g).unwrap();
    let root = spd_inv_sqrt(&m.cov_left()).unwrap();
    let t = &root * m.cross_covariance() * &root;
    ((DMatrix::identity(d, d), t), (m.cov_left(), m.cross_covariance()), root)
}

fn whitened_moments(k: usize, d: usize, seed: u64) -> (DMatrix<f64>, DMatrix<f64>) {
    moments(k, d, seed).0
}

const RULES: [FlowRule; 2] = [FlowRule::SimSiam, FlowRule::Byol { momentum: 0.1 }];

/// The '-' branch of the whitened fixed point: `p_j = (tau_j - sqrt(tau_j^2 - 4 eta)) / 2`, `s_j = p_j`.
fn minus_branch(t: &DMatrix<f64>, r: usize, eta: f64, rule: FlowRule) -> FlowState {
    let (tau, u) = sym_eig_desc(t).unwrap();
    let p: Vec<f64> = (0..r).map(|j| (tau[j] - (tau[j].powi(2) - 4.0 * eta).sqrt()) / 2.0).collect();
    let pd = DMatrix::from_diagonal(&gmm_core::nalgebra::DVector::from_vec(p));
    let encoder = &pd * u.columns(0, r).transpose();
    FlowState { predictor: pd, target: matches!(rule, FlowRule::Byol { .. }).then(|| encoder.clone()), encoder }
}

/// The '+' branch is a certified (linearly stable) fixed point; the '-' branch, also a fixed
/// point, is not: its Jacobian has a rate with positive real part (the check can fail).
#[test]
fn closed_form_fixed_points_and_their_stability() {
    for seed in 0..3u64 {
        let (k, d) = (3 + seed as usize % 2, 6);
        let (s, t) = whitened_moments(k, d, seed);
        let tau = sym_eig_desc(&t).unwrap().0;
        let eta = tau[k - 2].powi(2) / 16.0;
        for rule in RULES {
            let flow = PredictorFlow::new(rule, 1.0, eta, &s, &t).unwrap();
            let plus = whitened_fixed_point(&t, k - 1, 1.0, eta, rule).unwrap().unwrap();
            let at = flow.fixed_point(&plus, &FixedPointSettings::default()).unwrap();
            assert!(at.certified && at.iterations == 0, "{rule:?} seed {seed}: '+' branch {at:?}");
            assert!(at.relative_residual < 1e-14 && at.max_real_part < 0.0);
            assert_eq!(at.orbit_dim, (k - 1) * (k - 2) / 2);
            let at = flow.fixed_point(&minus_branch(&t, k - 1, eta, rule), &FixedPointSettings::default()).unwrap();
            assert!(at.relative_residual < 1e-12, "{rule:?} seed {seed}: '-' branch is a fixed point {at:?}");
            assert!(!at.certified && at.max_real_part > 0.0, "{rule:?} seed {seed}: '-' branch {at:?}");
        }
        // No '+' branch where a mode's window closes (eta > tau_j^2 / 4).
        let closed = tau[k - 2].powi(2) / 4.0 * 1.01;
        assert!(whitened_fixed_point(&t, k - 1, 1.0, closed, FlowRule::SimSiam).unwrap().is_none());
    }
}

/// Fourth-order Runge-Kutta on the field, fixed step.
fn rk4(flow: &PredictorFlow, start: &FlowState, dt: f64, steps: usize) -> FlowState {
    let add = |a: &FlowState, b: &FlowState, h: f64| FlowState {
        predictor: &a.predictor + &b.predictor * h,
        encoder: &a.encoder + &b.encoder * h,
        target: a.target.as_ref().zip(b.target.as_ref()).map(|(x, y)| x + y * h),
    };
    let mut y = start.clone();
    for _ in 0..steps {
        let k1 = flow.field(&y).unwrap();
        let k2 = flow.field(&add(&y, &k1, dt / 2.0)).unwrap();
        let k3 = flow.field(&add(&y, &k2, dt / 2.0)).unwrap();
        let k4 = flow.field(&add(&y, &k3, dt)).unwrap();
        let sum = add(&add(&add(&k1, &k2, 2.0), &k3, 2.0), &k4, 1.0);
        y = add(&y, &sum, dt / 6.0);
    }
    y
}

fn perturbed(state: &FlowState, size: f64, seed: u64) -> FlowState {
    let mut rng = seeded(seed);
    let mut kick = |m: &DMatrix<f64>| {
        m + gaussian_matrix(m.nrows(), m.ncols(), &mut rng) * (size * m.norm() / (m.len() as f64).sqrt())
    };
    FlowState {
        predictor: kick(&state.predictor),
        encoder: kick(&state.encoder),
        target: state.target.as_ref().map(kick),
    }
}

/// The distance between two encoders modulo output rotations: `||A^T A - B^T B||_F / ||B^T B||_F`
/// (both branches share their row space; they differ in the rows' lengths).
fn gram_distance(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    let gb = b.transpose() * b;
    (a.transpose() * a - &gb).norm() / gb.norm()
}

/// The stability certificate means what it says on the flow itself: from a start perturbed by
/// 1e-3, Runge-Kutta integration returns to every certified fixed point (the distance modulo
/// rotations shrinks tenfold) and leaves every uncertified one (it grows at least threefold; the
/// growth saturates as the trajectory moves away): the whitened
/// '+' and '-' branches, and the fixed point of raw inputs continued from the whitened closed
/// form by Levenberg-Marquardt.
#[test]
fn certified_fixed_points_attract_and_uncertified_ones_repel() {
    let mut verdicts = [0, 0];
    for seed in 0..3u64 {
        let (k, d) = (3, 5);
        let ((ws, wt), (rs, rc), root) = moments(k, d, seed + 10);
        let tau = sym_eig_desc(&wt).unwrap().0;
        let eta = tau[k - 2].powi(2) / 8.0;
        for rule in RULES {
            let whitened = PredictorFlow::new(rule, 1.0, eta, &ws, &wt).unwrap();
            let plus = whitened_fixed_point(&wt, k - 1, 1.0, eta, rule).unwrap().unwrap();
            let raw_eta = eta * rs.trace() / d as f64;
            let raw = PredictorFlow::new(rule, 1.0, raw_eta, &rs, &rc).unwrap();
            let guess = FlowState {
                predictor: plus.predictor.clone(),
                encoder: &plus.encoder * &root,
                target: plus.target.as_ref().map(|t| t * &root),
            };
            let raw_point: SteadyState = raw.fixed_point(&guess, &FixedPointSettings::default()).unwrap();
            assert!(raw_point.relative_residual < 1e-12, "{rule:?} seed {seed}: raw fixed point {raw_point:?}");
            let minus = minus_branch(&wt, k - 1, eta, rule);
            for (flow, point) in [(&whitened, &plus), (&raw, &raw_point.state), (&whitened, &minus)] {
                let start = perturbed(point, 1e-3, seed);
                let before = gram_distance(&start.encoder, &point.encoder);
                // Ten e-folds of the slowest decaying (or the fastest growing) rate across the orbit.
                let certificate = flow.fixed_point(point, &FixedPointSettings::default()).unwrap();
                let attracts = certificate.certified;
                verdicts[usize::from(attracts)] += 1;
                // (The slowest measured, 7e-5, takes 1.4e5 time units: 4e5 RK4 steps of 0.35. A step
                // outside RK4's stability interval would blow up at a certified point and fail.)
                let horizon = 10.0 / certificate.max_real_part.abs();
                let dt = (horizon / 4e5).max(0.05);
                let end = rk4(flow, &start, dt, (horizon / dt) as usize);
                let after = gram_distance(&end.encoder, &point.encoder);
                if attracts {
                    assert!(after < before / 10.0, "{rule:?} seed {seed}: {before:.2e} -> {after:.2e}");
                } else {
                    assert!(after > before * 3.0, "{rule:?} seed {seed}: uncertified {before:.2e} -> {after:.2e}");
                }
            }
        }
    }
    // Both verdicts occur (the '-' branches and, measured, BYOL's raw fixed point at momentum
    // 0.1 are unstable), so the agreement is not vacuous.
    assert!(verdicts[0] >= 6 && verdicts[1] >= 6, "{verdicts:?}");
}

/// Bad input is a typed error, never a panic.
#[test]
fn bad_flows_and_states_are_typed_errors() {
    let (s, t) = whitened_moments(3, 5, 0);
    assert!(PredictorFlow::new(FlowRule::SimSiam, 0.0, 0.1, &s, &t).is_err());
    assert!(PredictorFlow::new(FlowRule::SimSiam, 1.0, -0.1, &s, &t).is_err());
    assert!(PredictorFlow::new(FlowRule::Byol { momentum: f64::NAN }, 1.0, 0.1, &s, &t).is_err());
    assert!(PredictorFlow::new(FlowRule::SimSiam, 1.0, 0.1, &s, &DMatrix::zeros(4, 4)).is_err());
    let mut bad = t.clone();
    bad[(0, 1)] = f64::NAN;
    assert!(PredictorFlow::new(FlowRule::SimSiam, 1.0, 0.1, &s, &bad).is_err());
    assert!(whitened_fixed_point(&t, 0, 1.0, 0.01, FlowRule::SimSiam).is_err());
    assert!(whitened_fixed_point(&t, 6, 1.0, 0.01, FlowRule::SimSiam).is_err());
    let flow = PredictorFlow::new(FlowRule::SimSiam, 1.0, 0.01, &s, &t).unwrap();
    let mut state = whitened_fixed_point(&t, 2, 1.0, 0.001, FlowRule::SimSiam).unwrap().unwrap();
    state.target = Some(state.encoder.clone());
    assert!(flow.field(&state).is_err(), "SimSiam takes no separate target");
    state.target = None;
    let mut direction = state.clone();
    direction.encoder[(0, 1)] = f64::NAN;
    assert!(flow.field_derivative(&state, &direction).is_err(), "a NaN direction is refused, not propagated");
    state.encoder[(0, 0)] = f64::INFINITY;
    assert!(flow.fixed_point(&state, &FixedPointSettings::default()).is_err());
    state.encoder[(0, 0)] = 0.0;
    let settings = FixedPointSettings { residual_rtol: -1.0, ..Default::default() };
    assert!(flow.fixed_point(&state, &settings).is_err());
    // No iteration allowed: an uncertified answer, not an error.
    let settings = FixedPointSettings { max_iters: 0, ..Default::default() };
    assert!(!flow.fixed_point(&state, &settings).unwrap().certified);
}
