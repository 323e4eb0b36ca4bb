//! Verdicts on objectives the harness does not know, from samples.

use gmm_core::nalgebra::DMatrix;
use ssl_losses::{Batch, Form, InfoNceLoss, LossError, Objective, Score};
use verdict::{Outcome, SampleSettings, Scenario, View, family_mixture, sample_verdict};

/// Output variance under an orthonormality penalty:
/// `-tr(A C A^T) + mu ||A A^T - I||^2`, `C` the batch's second moment of both views. Its
/// minimiser's rows span the top `r` eigenvectors of `C`: PCA.
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

    fn value_grad(&mut self, params: &[DMatrix<f64>], batch: Batch<'_>, grads: &mut [DMatrix<f64>]) -> ssl_losses::Result<f64> {
        let a = &params[0];
        let (x, y) = (batch.left(), batch.right());
        let n = 2.0 * x.nrows() as f64;
        let c = (x.transpose() * x + y.transpose() * y) / n;
        let c = &c / c.trace();
        let ac = a * &c;
        let e = a * a.transpose() - DMatrix::identity(a.nrows(), a.nrows());
        grads[0] = -2.0 * &ac + 4.0 * self.mu * &e * a;
        Ok(-(ac.component_mul(a)).sum() + self.mu * e.norm_squared())
    }
}

fn scenario(i: usize, view: View) -> Scenario {
    let g = family_mixture(555_001, i).unwrap();
    let aug = view.augmentation(&g).unwrap();
    let r = g.k() - 1;
    Scenario::new(g, aug, r).unwrap()
}

#[test]
fn explore() {
    let settings = SampleSettings::default();
    for i in 0..4 {
        for view in [View::Coupled, View::IsotropicNoise] {
            let s = scenario(i, view);
            let t = std::time::Instant::now();
            let mut infonce = InfoNceLoss::<f64>::new(1.0, Form::OneWay, Score::Dot).unwrap();
            let v = sample_verdict(&mut infonce, &s, &settings, 7).unwrap();
            println!("{i} {} infonce {} sinF {:.3} tol {:.3} runner {:?} sep {} res {} cert {} ev {} {:.1}s chk {:.1e} {:.1e}",
                view.name(), v.outcome_name(), v.verdict.sin_to_fisher, v.verdict.tolerance, v.runner_up, v.separated,
                v.resolved(&settings.classify), v.verdict.fit.certified, v.evaluations, t.elapsed().as_secs_f64(),
                v.gradient_check.at_start, v.gradient_check.at_fit);
            let t = std::time::Instant::now();
            let v = sample_verdict(&mut VarianceMax { mu: 1.0 }, &s, &settings, 7).unwrap();
            println!("{i} {} varmax {} sinF {:.3} tol {:.3} runner {:?} sep {} res {} ev {} {:.1}s chk {:.1e} {:.1e}",
                view.name(), v.outcome_name(), v.verdict.sin_to_fisher, v.verdict.tolerance, v.runner_up, v.separated,
                v.resolved(&settings.classify), v.evaluations, t.elapsed().as_secs_f64(), v.gradient_check.at_start, v.gradient_check.at_fit);
        }
    }
    let _ = (Outcome::Fisher, LossError::Objective(String::new()));
}
#[test]
fn explore3() {
    let mut settings = SampleSettings { pairs: 32768, ..SampleSettings::default() };
    settings.classify.bound_max = 0.5;
    for i in 0..8 {
        let s = scenario(i, View::Coupled);
        let t = std::time::Instant::now();
        let mut infonce = InfoNceLoss::<f64>::new(1.0, Form::OneWay, Score::Dot).unwrap();
        let v = sample_verdict(&mut infonce, &s, &settings, 7).unwrap();
        println!("{i} k{} d{} infonce {} sinF {:.3} tol {:.3} runner {:?} res {} {:.1}s", s.gmm.k(), s.gmm.dim(), v.outcome_name(), v.verdict.sin_to_fisher, v.verdict.tolerance, v.runner_up, v.resolved(&settings.classify), t.elapsed().as_secs_f64());
    }
}
