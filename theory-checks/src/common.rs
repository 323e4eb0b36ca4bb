//! Helpers shared by the checks: mixtures, subspace errors, short training runs.

use gmm_core::{ClipGmm, Gmm, LinearMap, MixtureGenerator, Side, Subspace, seeded};
use nalgebra::DMatrix;
use ssl_losses::{
    Centering, Clip, ClipStream, Form, GmmStream, InfoNce, PreconditionedSource, Score, Sides, SimSiam, SimSiamForm,
    TrainConfig, Whitening, small_random_init, train, train_whitened_simsiam,
};

use crate::evidence::Result;

/// A random mixture over theory.md's ranges (`k` components, dimension `d`, condition number,
/// optional dominant noise direction), from `seed`.
pub fn mixture(k: usize, d: usize, condition: f64, noise: bool, seed: u64) -> Result<Gmm> {
    let mut g = MixtureGenerator::isotropic(k, d).condition(condition);
    if noise {
        g = g.noise_direction(4.0);
    }
    Ok(g.generate(&mut seeded(seed))?)
}

/// The `(k, d, condition, noise)` of case `i` of a sweep: k in 2..=6, d in k..=40, condition
/// number log-spaced up to 1e3, every third case with a dominant noise direction.
pub fn case_shape(i: usize) -> (usize, usize, f64, bool) {
    let k = 2 + i % 5;
    let d = (k + (7 * i) % 35).min(40);
    let condition = 10f64.powf((i % 4) as f64);
    (k, d, condition, i.is_multiple_of(3))
}

/// `sin theta_max` between the row space of `a` (its top `dim` right singular subspace) and `s`.
pub fn sin_to(a: &DMatrix<f64>, s: &Subspace) -> Result<f64> {
    Ok(LinearMap::new(a.clone()).top_subspace(s.dim())?.sin_theta_max(s)?)
}

/// InfoNCE (one-way, dot score, tau = 1) trained on streaming pairs; the default schedule.
pub fn train_infonce(g: &Gmm, delta: f64, r: usize, steps: usize, seed: u64) -> Result<DMatrix<f64>> {
    let mut loss = InfoNce::new(1.0, Form::OneWay, Score::Dot)?;
    let mut data = GmmStream::new(g, delta, 256)?;
    let config = TrainConfig { steps, seed, ..TrainConfig::default() };
    let out =
        train(&mut loss, &mut data, vec![small_random_init(r, g.dim(), 0.1, seed ^ 0x5eed)], &config, &mut |_| {})?;
    Ok(out.params[0].clone())
}

/// SimSiam (MSE, symmetrised, predictor starting at I) trained on streaming pairs, with the
/// whitening constraint (SGD with momentum) or without it (Adam).
pub fn train_simsiam(g: &Gmm, r: usize, steps: usize, whitened: bool, seed: u64) -> Result<DMatrix<f64>> {
    let mut data = GmmStream::new(g, 1.0, 256)?;
    let config = TrainConfig { steps, seed, ..TrainConfig::default() };
    let a0 = small_random_init(r, g.dim(), 0.1, seed ^ 0x5eed);
    let out = if whitened {
        let mut no_observer = |_: &ssl_losses::StepInfo, _: &[DMatrix<f64>]| std::ops::ControlFlow::Continue(());
        train_whitened_simsiam(&mut data, a0, &config, &mut no_observer)?
    } else {
        let mut loss = SimSiam::new(SimSiamForm::Mse, ssl_losses::Directions::Symmetric);
        train(&mut loss, &mut data, vec![a0, DMatrix::identity(r, r)], &config, &mut |_| {})?
    };
    Ok(out.params[0].clone())
}

/// CLIP (dot score, tau = 1) trained on streaming pairs; returns `(A, B)`.
pub fn train_clip(c: &ClipGmm, r: usize, steps: usize, seed: u64) -> Result<(DMatrix<f64>, DMatrix<f64>)> {
    let mut loss = Clip::new(1.0, Score::Dot)?;
    // Each modality centred and whitened by a warm-up sample of its own (label-free,
    // docs/theory.md 5.4); the maps are mapped back to the original coordinates.
    let stream = ClipStream::new(c, 256)?;
    let (center, white) = (Centering::SampleMean, Whitening::SampleCovariance);
    let mut data = PreconditionedSource::new(stream, 16, seed ^ 0x5741_524d, Sides::Separate, center, white)?;
    let (dx, dy) = (c.modality(Side::X).dim(), c.modality(Side::Y).dim());
    let config = TrainConfig { steps, seed, ..TrainConfig::default() };
    let init = vec![small_random_init(r, dx, 0.1, seed ^ 1), small_random_init(r, dy, 0.1, seed ^ 2)];
    let out = train(&mut loss, &mut data, init, &config, &mut |_| {})?;
    Ok((data.map_back(&out.params[0], false).components, data.map_back(&out.params[1], true).components))
}

/// Least-squares slope of `log y` against `log x`.
pub fn log_log_slope(x: &[f64], y: &[f64]) -> f64 {
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    let (mx, my) = (lx.iter().sum::<f64>() / lx.len() as f64, ly.iter().sum::<f64>() / ly.len() as f64);
    let cov: f64 = lx.iter().zip(&ly).map(|(a, b)| (a - mx) * (b - my)).sum();
    let var: f64 = lx.iter().map(|a| (a - mx).powi(2)).sum();
    cov / var
}
