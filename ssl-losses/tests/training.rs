//! The trainer end to end: InfoNCE recovers the Fisher subspace where PCA fails, the result is
//! reproducible bit for bit, and divergence is a typed error.

use std::ops::ControlFlow;

use gmm_core::nalgebra::DMatrix;
use gmm_core::{Fit, LinearMap, MixtureGenerator, seeded};
use ssl_losses::{
    Constraint, Ending, Form, GmmStream, InfoNce, InfoNceLoss, LabelledPairs, LossError, Objective, OptimizerKind,
    PairSource, Progress, Score, TrainConfig, small_random_init, train, train_whitened_simsiam, train_with,
    whitened_optimum,
};

fn trap() -> gmm_core::Gmm {
    MixtureGenerator::isotropic(3, 10).noise_direction(4.0).generate(&mut seeded(11)).unwrap()
}

fn sin_to_fisher(a: &DMatrix<f64>, g: &gmm_core::Gmm) -> f64 {
    LinearMap::new(a.clone()).row_space().unwrap().sin_theta_max(&g.fisher_subspace().unwrap()).unwrap()
}

#[test]
fn infonce_finds_fisher_where_pca_fails() {
    let g = trap();
    let pca = g.pca_subspace(2).unwrap().sin_theta_max(&g.fisher_subspace().unwrap()).unwrap();
    assert!(pca > 0.99, "the trap must trap PCA (sin {pca})");
    let mut loss = InfoNceLoss::new(1.0, Form::OneWay, Score::Dot).unwrap();
    let mut data = GmmStream::new(&g, 1.0, 256).unwrap();
    let out =
        train(&mut loss, &mut data, vec![small_random_init(2, 10, 0.1, 1)], &TrainConfig::default(), &mut ()).unwrap();
    let sin = sin_to_fisher(&out.params[0], &g);
    // Statistical error of a stochastic-gradient estimate with ~5e5 pairs is O(n^{-1/2}) ~ 1e-3
    // per entry; 0.05 is the acceptance bound of the issue, not a tuned tolerance.
    assert!(sin < 0.05, "InfoNCE sin theta_max to Fisher = {sin}");
}

#[test]
fn same_seed_same_bits() {
    let g = trap();
    let run = || {
        let mut loss = InfoNceLoss::new(0.5, Form::Symmetric, Score::Cosine).unwrap();
        let mut data = GmmStream::new(&g, 0.8, 64).unwrap();
        let config = TrainConfig { steps: 50, seed: 9, ..TrainConfig::default() };
        train(&mut loss, &mut data, vec![small_random_init(2, 10, 0.1, 3)], &config, &mut ()).unwrap()
    };
    let (a, b) = (run(), run());
    assert_eq!(a.params, b.params);
    assert_eq!(a.run.losses, b.run.losses);
}

#[test]
fn divergence_is_a_typed_error_naming_the_step() {
    let g = trap();
    let mut loss = InfoNceLoss::new(1.0, Form::OneWay, Score::Dot).unwrap();
    let mut data = GmmStream::new(&g, 1.0, 64).unwrap();
    let config = TrainConfig { lr: 1e6, optimizer: OptimizerKind::SGD_MOMENTUM, ..TrainConfig::default() };
    let err = train(&mut loss, &mut data, vec![small_random_init(2, 10, 0.1, 1)], &config, &mut ()).unwrap_err();
    assert!(matches!(err, LossError::Diverged { .. }), "{err}");
    assert!(err.to_string().contains("learning rate"));
}

#[test]
fn invalid_settings_are_rejected_before_work() {
    let g = trap();
    let mut loss = InfoNceLoss::new(1.0, Form::OneWay, Score::Dot).unwrap();
    let mut data = GmmStream::new(&g, 1.0, 8).unwrap();
    for config in [
        TrainConfig { lr: 0.0, ..TrainConfig::default() },
        TrainConfig { lr: -1.0, ..TrainConfig::default() },
        TrainConfig { steps: 0, ..TrainConfig::default() },
    ] {
        let called = std::cell::Cell::new(false);
        let r = train(&mut loss, &mut data, vec![small_random_init(2, 10, 0.1, 1)], &config, &mut |_: &Progress,
                                                                                                   _: &[DMatrix<
            f64,
        >]| {
            called.set(true);
            ControlFlow::Continue(())
        });
        assert!(r.is_err() && !called.get());
    }
    assert!(GmmStream::new(&g, 1.5, 8).is_err());
    let mut nan = small_random_init(2, 10, 0.1, 1);
    nan[(0, 0)] = f64::NAN;
    assert!(train(&mut loss, &mut data, vec![nan], &TrainConfig::default(), &mut ()).is_err());
}

#[test]
fn whitened_simsiam_closed_form_and_trained_optimum_span_fisher() {
    let g = MixtureGenerator::isotropic(3, 8).condition(100.0).generate(&mut seeded(4)).unwrap();
    let a = whitened_optimum(&g.second_moment(), &g.cross_moment(1.0).unwrap(), 2).unwrap();
    assert!(sin_to_fisher(&a, &g) < 1e-10);
    let constraint = &a * g.second_moment() * a.transpose();
    assert!((constraint - DMatrix::identity(2, 2)).amax() < 1e-10);
    let mut data = GmmStream::new(&g, 1.0, 256).unwrap();
    // The slow direction converges at a rate set by the smallest nonzero eigenvalue of
    // M^{-1/2} C M^{-1/2} (0.08 here against 0.58): 2000 steps leave it at sin ~ 0.8, 10000 reach
    // the stochastic floor (~0.02).
    let config = TrainConfig { steps: 10_000, ..TrainConfig::default() };
    let out = train_whitened_simsiam(&mut data, small_random_init(2, 8, 0.1, 2), &config, 1.0, &mut ()).unwrap();
    let sin = sin_to_fisher(&out.params[0], &g);
    assert!(sin < 0.05, "trained whitened SimSiam sin theta_max = {sin}");
}

#[test]
fn labelled_pairs_respect_delta_and_classes() {
    let x = DMatrix::from_fn(40, 2, |i, j| (i * 2 + j) as f64);
    let labels: Vec<usize> = (0..40).map(|i| i % 4).collect();
    let mut src = LabelledPairs::new(x.clone(), labels, 1.0, 10).unwrap();
    let mut rng = seeded(1);
    for _ in 0..8 {
        let b = src.next_batch(&mut rng).unwrap();
        for i in 0..10 {
            let (l, r) = (b.left()[(i, 0)] as usize / 2, b.right()[(i, 0)] as usize / 2);
            assert_eq!(l % 4, r % 4, "delta = 1 pairs stay in their class");
            assert_ne!(l, r, "the positive is another sample");
        }
    }
    assert!(LabelledPairs::new(x.clone(), vec![0; 39], 1.0, 10).is_err());
    assert!(LabelledPairs::new(x, vec![0; 40], 1.0, 1).is_err());
}

#[test]
fn same_bits_on_any_thread_count() {
    let g = trap();
    let pairs = g.sample_pairs(300, 1.0, &mut seeded(3)).unwrap();
    let a = vec![small_random_init(2, 10, 0.5, 4)];
    let eval = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let mut loss = InfoNceLoss::new(0.7, Form::OneWay, Score::Dot).unwrap();
            let mut grad = vec![DMatrix::zeros(2, 10)];
            let value =
                loss.value_grad(&a, ssl_losses::Batch::new(&pairs.x, &pairs.x_plus).unwrap(), &mut grad).unwrap();
            (value, grad)
        })
    };
    let (one, two, three) = (eval(1), eval(2), eval(3));
    assert_eq!(one, two);
    assert_eq!(one, three);
}

#[test]
fn observers_see_the_parameters_and_can_stop_the_run() {
    let g = trap();
    let mut loss = InfoNceLoss::new(1.0, Form::OneWay, Score::Dot).unwrap();
    let mut data = GmmStream::new(&g, 1.0, 64).unwrap();
    let config = TrainConfig::default();
    let mut optimizer = config.optimizer.build(&[(2, 10)]).unwrap();
    let mut seen = Vec::new();
    let mut stop_at_five = |info: &Progress, params: &[DMatrix<f64>]| {
        seen.push(params[0].clone());
        if info.iteration == 4 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    };
    let init = vec![small_random_init(2, 10, 0.1, 1)];
    let out = train_with(&mut loss, &mut data, init, &config, &mut optimizer, None, &mut stop_at_five).unwrap();
    assert_eq!((out.run.iterations, out.run.ending), (5, Ending::Interrupted));
    assert_eq!(seen.last(), Some(&out.params[0]), "the observer sees the updated parameters");
}

/// A constraint that keeps every entry of block 0 in [-c, c] and counts the batches it saw.
struct BoxConstraint {
    c: f64,
    batches: usize,
}

impl Constraint for BoxConstraint {
    fn observe_batch(&mut self, _batch: &ssl_losses::Batch<'_>) -> ssl_losses::Result<()> {
        self.batches += 1;
        Ok(())
    }

    fn project(&mut self, params: &mut [DMatrix<f64>]) -> ssl_losses::Result<()> {
        params[0].apply(|v| *v = v.clamp(-self.c, self.c));
        Ok(())
    }
}

#[test]
fn a_user_constraint_is_kept_after_every_step() {
    let g = trap();
    let mut loss = InfoNceLoss::new(1.0, Form::OneWay, Score::Dot).unwrap();
    let mut data = GmmStream::new(&g, 1.0, 64).unwrap();
    let config = TrainConfig { steps: 200, lr: 0.05, ..TrainConfig::default() };
    let mut optimizer = config.optimizer.build(&[(2, 10)]).unwrap();
    let mut constraint = BoxConstraint { c: 0.05, batches: 0 };
    let mut check = |_: &Progress, p: &[DMatrix<f64>]| {
        assert!(p[0].amax() <= 0.05);
        ControlFlow::Continue(())
    };
    let init = vec![small_random_init(2, 10, 0.1, 1)];
    let out =
        train_with(&mut loss, &mut data, init, &config, &mut optimizer, Some(&mut constraint), &mut check).unwrap();
    assert_eq!(constraint.batches, 200);
    assert!((out.params[0].amax() - 0.05).abs() < 1e-15, "the box binds: unconstrained InfoNCE grows A");
}

#[test]
fn a_growing_contrastive_loss_is_divergence() {
    // Adam steps of size lr move every entry by ~lr per step: at lr = 10 the logits explode
    // within a few steps while staying finite; the loss passes 10x its start (log 64 ~ 4.2).
    let g = trap();
    let mut loss = InfoNceLoss::new(1.0, Form::OneWay, Score::Dot).unwrap();
    let mut data = GmmStream::new(&g, 1.0, 64).unwrap();
    let config = TrainConfig { lr: 10.0, schedule: ssl_losses::Schedule::Constant, ..TrainConfig::default() };
    let err = train(&mut loss, &mut data, vec![small_random_init(2, 10, 0.1, 1)], &config, &mut ()).unwrap_err();
    assert!(matches!(err, LossError::Diverged { lr: 10.0, .. }), "{err}");
    assert!(err.to_string().contains("divergence factor"), "{err}");
}

#[test]
fn certified_infonce_fit_is_reproducible_and_finds_fisher_where_pca_fails() {
    let g = trap();
    let pairs = g.sample_pairs(4000, 1.0, &mut seeded(5)).unwrap();
    let fit = InfoNce::new(2).seed(3).fit(&pairs).unwrap();
    assert!(fit.run.converged(), "{:?}", fit.run);
    assert!(fit.run.certificate.is_some_and(|c| c.relative <= 1e-5));
    // The sample error of a label-free fit on 4000 pairs: CCA on the same pairs is the yardstick.
    let cca = cca_sin(&g, &pairs);
    let sin = sin_to_fisher(fit.map.components(), &g);
    assert!(sin < 3.0 * cca.max(0.01), "InfoNCE {sin} against CCA {cca}");
    // Everything but the wall time is a result and must repeat bit for bit.
    let again = InfoNce::new(2).seed(3).fit(&pairs).unwrap();
    assert_eq!(fit.map, again.map, "same seed, same bits");
    assert_eq!(
        (&fit.run.losses, fit.run.certificate, fit.run.ending),
        (&again.run.losses, again.run.certificate, again.run.ending)
    );
}

/// sin theta_max of the population-free closed form on the same pairs: the top k - 1
/// generalized eigenvectors of sym(Cov(x+, x)) w = lambda Cov(x) w (CCA on pairs), computed here
/// without the baselines crate.
fn cca_sin(g: &gmm_core::Gmm, p: &gmm_core::Pairs) -> f64 {
    let n = p.len() as f64;
    let mean = (gmm_core::linalg::column_means(&p.x) + gmm_core::linalg::column_means(&p.x_plus)) * 0.5;
    let (mut cx, mut cp) = (p.x.clone(), p.x_plus.clone());
    gmm_core::linalg::subtract_row(&mut cx, &mean);
    gmm_core::linalg::subtract_row(&mut cp, &mean);
    let cov = (cx.transpose() * &cx + cp.transpose() * &cp) / (2.0 * n);
    let cross = cp.transpose() * &cx / n;
    let ge = gmm_core::linalg::gen_sym_eig(&gmm_core::linalg::symmetrize(&cross), &cov).unwrap();
    sin_to_fisher(&ge.vectors.columns(0, 2).transpose(), g)
}

#[test]
fn epochs_over_fixed_pairs_visit_every_pair_once_per_epoch() {
    let x = DMatrix::from_fn(12, 2, |i, j| (10 * i + j) as f64);
    let x_plus = &x * 2.0;
    let mut src = ssl_losses::FixedPairs::new(x.clone(), x_plus, 4).unwrap();
    let mut rng = seeded(2);
    let mut seen = Vec::new();
    for _ in 0..3 {
        let b = src.next_batch(&mut rng).unwrap();
        for i in 0..4 {
            assert_eq!(b.right()[(i, 0)], 2.0 * b.left()[(i, 0)], "rows stay paired");
            seen.push(b.left()[(i, 0)] as usize / 10);
        }
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..12).collect::<Vec<_>>(), "one epoch = every pair once");
    assert!(ssl_losses::FixedPairs::new(x.clone(), DMatrix::zeros(11, 2), 4).is_err());
    assert!(ssl_losses::FixedPairs::new(x.clone(), x.clone(), 13).is_err());
    assert!(LabelledPairs::new(x, vec![usize::MAX; 12], 1.0, 4).is_err(), "huge labels: an error, not an allocation");
}

/// Least squares `L(A) = (1/n) ||X A^T - Y||_F^2` in a scalar of one's choice, on a fixed batch.
struct LeastSquares;

impl<T: ssl_losses::Real> Objective<T> for LeastSquares {
    fn name(&self) -> &'static str {
        "least-squares"
    }

    fn block_shapes(&self, r: usize, d_left: usize, _: usize) -> Vec<(usize, usize)> {
        vec![(r, d_left)]
    }

    fn value_grad(
        &mut self,
        params: &[DMatrix<T>],
        batch: ssl_losses::Batch<'_, T>,
        grads: &mut [DMatrix<T>],
    ) -> ssl_losses::Result<T> {
        let n = T::from_subset(&(batch.len() as f64));
        let residual = batch.left() * params[0].transpose() - batch.right();
        grads[0] = residual.transpose() * batch.left() * (T::from_subset(&2.0) / n);
        Ok(residual.norm_squared() / n)
    }
}

/// The same fixed batch every step.
struct Fixed<T: ssl_losses::Real> {
    x: DMatrix<T>,
    y: DMatrix<T>,
}

impl<T: ssl_losses::Real> PairSource<T> for Fixed<T> {
    fn next_batch(&mut self, _: &mut gmm_core::SeedRng) -> ssl_losses::Result<ssl_losses::Batch<'_, T>> {
        ssl_losses::Batch::new(&self.x, &self.y)
    }

    fn dims(&self) -> (usize, usize) {
        (self.x.ncols(), self.y.ncols())
    }
}

#[test]
fn the_executor_trains_in_f32_as_in_f64() {
    let x64 = gmm_core::gaussian_matrix(64, 3, &mut seeded(1));
    let target = DMatrix::from_row_slice(2, 3, &[1.0, -2.0, 0.5, 0.0, 1.0, 3.0]);
    let y64 = &x64 * target.transpose();
    let config = TrainConfig { steps: 3000, lr: 0.05, ..TrainConfig::default() };
    let mut f32_source = Fixed { x: x64.map(|v| v as f32), y: y64.map(|v| v as f32) };
    let mut optimizer = OptimizerKind::ADAM.build::<f32>(&[(2, 3)]).unwrap();
    let init = vec![DMatrix::<f32>::zeros(2, 3)];
    let out = train_with(&mut LeastSquares, &mut f32_source, init, &config, &mut optimizer, None, &mut ()).unwrap();
    // The least-squares minimiser is the target exactly (noise-free data). What is left is f32
    // rounding: eps_f32 = 1.2e-7 times the largest entry (3) times ~10 for the conditioning of
    // X^T X on 64 Gaussian rows, ~4e-6 (measured 1.2e-6); f64 lands ~1e-9 from it.
    let err = (out.params[0].map(f64::from) - &target).amax();
    assert!(err < 1e-5, "f32 map off by {err}");
    let mut f64_source = Fixed { x: x64, y: y64 };
    let mut optimizer = OptimizerKind::ADAM.build::<f64>(&[(2, 3)]).unwrap();
    let init = vec![DMatrix::<f64>::zeros(2, 3)];
    let out64 = train_with(&mut LeastSquares, &mut f64_source, init, &config, &mut optimizer, None, &mut ()).unwrap();
    let gap = (out.params[0].map(f64::from) - &out64.params[0]).amax();
    assert!(gap < 1e-5, "f32 and f64 runs differ by {gap}");
}

#[test]
fn exploding_simsiam_parameters_are_divergence_and_a_normal_run_is_not() {
    // SimSiam has no loss-based divergence factor (its loss rightly grows from a small start),
    // so an exploding step size used to end "successfully" at a loss of 3e22. The parameter
    // norm bound (PARAM_DIVERGENCE_FACTOR = 1e3 times max(start, 1)) catches it; the default
    // rate stays far below it (the control).
    use ssl_losses::{Directions, SimSiamForm, SimSiamLoss};
    let g = trap();
    let init = || vec![small_random_init(2, 10, 0.1, 1), DMatrix::identity(2, 2)];
    let mut loss = SimSiamLoss::new(SimSiamForm::Mse, Directions::Symmetric);
    let mut data = GmmStream::new(&g, 1.0, 64).unwrap();
    let config = TrainConfig { steps: 50, lr: 1e6, ..TrainConfig::default() };
    let err = train(&mut loss, &mut data, init(), &config, &mut ()).unwrap_err();
    assert!(matches!(err, LossError::Diverged { .. }) && err.to_string().contains("grew beyond"), "{err}");
    let config = TrainConfig { steps: 200, ..TrainConfig::default() };
    let out = train(&mut loss, &mut data, init(), &config, &mut ()).unwrap();
    let norm: f64 = out.params.iter().map(|p| p.norm_squared()).sum::<f64>().sqrt();
    assert!(norm < ssl_losses::PARAM_DIVERGENCE_FACTOR, "{norm}");
}
