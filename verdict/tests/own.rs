//! Verdicts on objectives the harness does not know, from samples (`sample_verdict`): a built-in
//! batch loss recovers `F`, a variance-maximising loss lands on PCA (the check's case where `F`
//! must fail), a wrong gradient is refused with its measured error, and every failure of the
//! objective is an error naming the call. Seeds are fixed: the same numbers on every run.

use gmm_core::nalgebra::DMatrix;
use gmm_core::{Augmentation, MixtureGenerator, seeded};
use ssl_losses::{Batch, Directions, Form, InfoNceLoss, LossError, Objective, Score, SimSiamForm, SimSiamLoss};
use verdict::{Outcome, SampleSettings, Scenario, Yardstick, sample_verdict};

/// Output variance under an orthonormality penalty: `-tr(A C A^T) / tr C + mu ||A A^T - I||^2`,
/// `C` the batch's second moment of both views. Its minimiser's rows span the top `r`
/// eigenvectors of `C`: PCA.
struct VarianceMax {
    mu: f64,
}

impl Objective for VarianceMax {
    fn name(&self) -> &'static str {
        "variance-max"
    }

    fn block_shapes(&self, r: usize, d: usize, _: usize) -> Vec<(usize, usize)> {
        vec![(r, d)]
    }

    fn value_grad(
        &mut self,
        params: &[DMatrix<f64>],
        batch: Batch<'_>,
        grads: &mut [DMatrix<f64>],
    ) -> ssl_losses::Result<f64> {
        let a = &params[0];
        let (x, y) = (batch.left(), batch.right());
        let c = (x.transpose() * x + y.transpose() * y) / (2.0 * x.nrows() as f64);
        let c = &c / c.trace();
        let ac = a * &c;
        let e = a * a.transpose() - DMatrix::identity(a.nrows(), a.nrows());
        grads[0] = -2.0 * &ac + 4.0 * self.mu * &e * a;
        Ok(-ac.component_mul(a).sum() + self.mu * e.norm_squared())
    }
}

/// InfoNCE whose gradient is `factor` times the true one, or that fails at call `fail_at`
/// (`Some((call, how))`: 0 a NaN loss, 1 a gradient of the wrong shape, 2 an error).
struct Faulty {
    inner: InfoNceLoss,
    factor: f64,
    fail_at: Option<(usize, u8)>,
    calls: usize,
}

impl Faulty {
    fn new(factor: f64, fail_at: Option<(usize, u8)>) -> Self {
        Self { inner: InfoNceLoss::new(1.0, Form::OneWay, Score::Dot).unwrap(), factor, fail_at, calls: 0 }
    }
}

impl Objective for Faulty {
    fn name(&self) -> &'static str {
        "faulty"
    }

    fn block_shapes(&self, r: usize, d: usize, e: usize) -> Vec<(usize, usize)> {
        self.inner.block_shapes(r, d, e)
    }

    fn value_grad(
        &mut self,
        params: &[DMatrix<f64>],
        batch: Batch<'_>,
        grads: &mut [DMatrix<f64>],
    ) -> ssl_losses::Result<f64> {
        self.calls += 1;
        let value = self.inner.value_grad(params, batch, grads)?;
        grads[0] *= self.factor;
        match self.fail_at {
            Some((call, 0)) if call == self.calls => Ok(f64::NAN),
            Some((call, 1)) if call == self.calls => {
                grads[0] = DMatrix::zeros(1, 1);
                Ok(value)
            }
            Some((call, _)) if call == self.calls => Err(LossError::Objective("the user's own failure".into())),
            _ => Ok(value),
        }
    }
}

/// Mixture `i`: `k = 3 + i % 2` components in `d = 8 + 2 i` dimensions, means at separation 2,
/// condition 10, coupled pairs, `r = k - 1`.
fn scenario(i: usize) -> Scenario {
    let (k, d) = (3 + i % 2, 8 + 2 * i);
    let g = MixtureGenerator::isotropic(k, d)
        .separation(2.0)
        .condition(10.0)
        .generate(&mut seeded(100 + i as u64))
        .unwrap();
    Scenario::new(g, Augmentation::coupled(1.0).unwrap(), k - 1).unwrap()
}

#[test]
fn infonce_on_a_sample_recovers_f_and_variance_max_lands_on_pca() {
    let settings = SampleSettings::default();
    for i in 0..3 {
        let s = scenario(i);
        let mut infonce = InfoNceLoss::<f64>::new(1.0, Form::OneWay, Score::Dot).unwrap();
        let v = sample_verdict(&mut infonce, &s, &settings, 7).unwrap();
        let (runner, runner_sin) = v.runner_up.clone().unwrap();
        // The sampling floor is measured (3x the distance to an independent sample's
        // minimiser, ~ n^{-1/2}); F is within it and the nearest wrong answer beyond it.
        assert_eq!(v.verdict.outcome, Outcome::Fisher, "case {i}: {}", v.outcome_name());
        assert!(v.resolved(&settings.classify), "case {i}");
        assert!(
            v.verdict.sin_to_fisher <= v.verdict.tolerance && runner_sin > v.verdict.tolerance,
            "case {i}: {runner}"
        );
        // A correct float64 gradient: its check measures rounding only (about 2e-8 at most,
        // the docs of `disagreement`), far below the tolerance 1e-4.
        assert!(v.gradient_check.at_start < 1e-6 && v.gradient_check.at_fit < 1e-6, "{:?}", v.gradient_check);
        assert!(v.verdict.fit.certified && v.calls == v.evaluations * (settings.pairs / settings.batch));

        let v = sample_verdict(&mut VarianceMax { mu: 1.0 }, &s, &settings, 7).unwrap();
        assert_eq!(
            v.verdict.outcome,
            Outcome::Spectral { yardstick: Yardstick::Pca },
            "case {i}: {}",
            v.outcome_name()
        );
        assert!(
            v.resolved(&settings.classify),
            "case {i}: {:?} {} {} {} {:?}",
            v.runner_up,
            v.verdict.tolerance,
            v.verdict.fit.certified,
            v.verdict.fit.relative_gradient,
            v.verdict.singular_values
        );
        // F, the answer the check must not give here, lies beyond the measured floor (as does
        // every other candidate: the verdict is resolved).
        assert!(v.verdict.sin_to_fisher > v.verdict.tolerance, "case {i}");
    }
}

#[test]
fn a_wrong_gradient_is_refused_with_its_measured_error() {
    let s = scenario(0);
    let settings = SampleSettings::default();
    // 3% too large: along the gradient's own direction the check measures 0.03 / 1.03.
    match sample_verdict(&mut Faulty::new(1.03, None), &s, &settings, 7) {
        Err(LossError::GradientMismatch { error, at, tolerance }) => {
            assert!((error - 0.03 / 1.03).abs() < 1e-6, "{error}");
            assert!(at.contains("iteration 0") && tolerance == 1e-4);
        }
        other => panic!("expected a refusal, got {:?}", other.map(|v| v.outcome_name())),
    }
    // The same loss with its true gradient passes (the check can pass: it is not the check
    // that fails above).
    assert!(sample_verdict(&mut Faulty::new(1.0, None), &s, &settings, 7).is_ok());
}

#[test]
fn every_failure_of_the_objective_is_an_error_naming_the_call() {
    let s = scenario(0);
    let settings = SampleSettings { pairs: 1024, ..SampleSettings::default() };
    for (how, what) in [(0u8, "non-finite loss"), (1, "gradient of shape (1, 1)"), (2, "the user's own failure")] {
        match sample_verdict(&mut Faulty::new(1.0, Some((3, how))), &s, &settings, 7) {
            Err(LossError::Objective(message)) => {
                assert!(message.contains("evaluation 1 (call 3, batch 3 of 4)"), "{message}");
                assert!(message.contains(what) && message.contains("iteration 0"), "{message}");
            }
            other => panic!("expected an error, got {:?}", other.map(|v| v.outcome_name())),
        }
    }
    // A failure during the fit ends the verdict too (it is not skipped as a bad start).
    match sample_verdict(&mut Faulty::new(1.0, Some((200, 2))), &s, &settings, 7) {
        Err(LossError::Objective(message)) => assert!(message.contains("in the fit") && message.contains("call 200")),
        other => panic!("expected an error, got {:?}", other.map(|v| v.outcome_name())),
    }
    // Two parameter blocks (SimSiam's predictor): not one encoder.
    let mut simsiam = SimSiamLoss::<f64>::new(SimSiamForm::Mse, Directions::Symmetric);
    let err = sample_verdict(&mut simsiam, &s, &settings, 7).err().unwrap().to_string();
    assert!(err.contains("one shared encoder"), "{err}");
    // Settings out of range.
    for bad in [SampleSettings { batch: 1, ..settings }, SampleSettings { pairs: 100, ..settings }] {
        assert!(sample_verdict(&mut Faulty::new(1.0, None), &s, &bad, 7).is_err());
    }
}

#[test]
fn a_sample_too_small_to_separate_f_from_its_runner_up_is_unresolved_and_reproducible() {
    // 512 pairs on a weakly separated mixture: the floor reaches the nearest wrong answer.
    let g = MixtureGenerator::isotropic(3, 12).condition(100.0).generate(&mut seeded(0)).unwrap();
    let s = Scenario::new(g, Augmentation::coupled(1.0).unwrap(), 2).unwrap();
    let settings = SampleSettings { pairs: 512, ..SampleSettings::default() };
    let run =
        || sample_verdict(&mut InfoNceLoss::new(1.0, Form::OneWay, Score::Dot).unwrap(), &s, &settings, 3).unwrap();
    let (v, again) = (run(), run());
    let (_, runner_sin) = v.runner_up.clone().unwrap();
    assert!(!v.separated && runner_sin <= v.verdict.tolerance, "{runner_sin} {}", v.verdict.tolerance);
    assert!(!v.resolved(&settings.classify));
    assert_eq!(v.verdict.fit.map, again.verdict.fit.map);
}
