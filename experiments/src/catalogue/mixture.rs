//! The mixture experiments' common job (E1..E5): InfoNCE to its certificate, whitened SimSiam by
//! its recipe, CCA on pairs, PCA and LDA on one mixture, with the angles to its Fisher subspace
//! and (when asked) downstream statistics on held-out samples.

use baselines::{CcaPairs, Fit, Lda, Pca};
use gmm_core::{Gmm, MixtureGenerator, seeded};
use ssl_losses::InfoNce;

use super::fitted::{Fitted, whitened_epochs};
use super::held_out::downstream;
use crate::error::Result;
use crate::experiment::{About, Job};
use crate::row::{Method, Metric, Row};
use crate::sweeps::Sweeps;

/// The methods of a mixture job.
const METHODS: &[Method] = &[Method::InfoNce, Method::SimSiamEpochs, Method::Cca, Method::Pca, Method::Lda];

/// The statistics every row of a mixture job fills.
const ANGLES: &[Metric] = &[Metric::SinThetaMax, Metric::ShareOutside];

/// The names and plot of a mixture experiment: `sin theta_max` to F against its setting (`x_label`,
/// a logarithmic axis when `log_x`), the mixture's methods, the angles filled in every row.
pub(super) fn about(
    (id, stem, title): (&'static str, &'static str, &'static str),
    x_label: &'static str,
    log_x: bool,
) -> About {
    About {
        id,
        stem,
        title,
        metric: Metric::SinThetaMax,
        x_label,
        y_label: "sin θ_max to F",
        log_x,
        log_y: false,
        categorical: false,
        methods: METHODS,
        required: ANGLES,
    }
}

/// The seed of a job's mixture.
fn mixture_seed(job: &Job<'_>) -> u64 {
    7919 * job.seed + 1
}

/// The mixture of E2..E5 in dimension `d`: `k` isotropic components made anisotropic
/// (condition 30) with a strong noise direction, seeded by the job.
pub(super) fn base(job: &Job<'_>, s: &Sweeps, d: usize) -> Result<Gmm> {
    Ok(MixtureGenerator::isotropic(s.k, d)
        .condition(30.0)
        .noise_direction(2.0)
        .generate(&mut seeded(mixture_seed(job)))?)
}

/// E1's mixture: `k` components in dimension `d` whose covariance has condition number
/// `condition`, seeded by the job.
pub(super) fn conditioned(job: &Job<'_>, s: &Sweeps, condition: f64) -> Result<Gmm> {
    Ok(MixtureGenerator::isotropic(s.k, s.d).condition(condition).generate(&mut seeded(mixture_seed(job)))?)
}

/// What one mixture job varies: coupling, output dimension, fixed-sample size, streaming steps,
/// whether whitened SimSiam (a streaming method) takes part, and whether to evaluate downstream.
#[derive(Clone, Copy)]
pub(super) struct Setup {
    pub(super) delta: f64,
    pub(super) r: usize,
    pub(super) n: usize,
    pub(super) steps: usize,
    pub(super) simsiam: bool,
    pub(super) evaluate: bool,
}

impl Setup {
    pub(super) fn new(s: &Sweeps) -> Self {
        Self { delta: 1.0, r: s.k - 1, n: s.samples, steps: s.steps, simsiam: true, evaluate: false }
    }
}

/// The methods on a mixture with coupling `delta`, output dimension `r`, a fixed sample of `n`
/// pairs (InfoNCE to the certificate, CCA) or samples (PCA, LDA), and whitened SimSiam on a
/// stream of `5 * steps` batches (when `simsiam`).
fn fit_methods(g: &Gmm, setup: &Setup, s: &Sweeps, seed: u64) -> Result<Vec<Fitted>> {
    let Setup { delta, r, n, steps, simsiam, .. } = *setup;
    let pairs = g.sample_pairs(n, delta, &mut seeded(seed + 2))?;
    let infonce = InfoNce::new(r).batch(s.batch).seed(seed).bound_distance(true).fit(&pairs)?;
    let siam = if simsiam {
        Some(whitened_epochs((&pairs.x, &pairs.x_plus), &infonce.preconditioner, r, (steps, s.batch), seed)?)
    } else {
        None
    };
    let mut out = vec![Fitted::infonce(infonce, n)];
    out.extend(siam);
    let cca = CcaPairs::new(r).fit(&pairs)?.map;
    let data = g.sample(n, &mut seeded(seed + 3));
    let pca = Pca::new(r).fit(&data.x)?.map;
    let lda = Lda::new().n_components(r.min(g.k() - 1)).fit(&data)?.map;
    out.extend([
        Fitted::closed_form(Method::Cca, cca, n),
        Fitted::closed_form(Method::Pca, pca, n),
        Fitted::closed_form(Method::Lda, lda, n),
    ]);
    Ok(out)
}

/// The rows of a mixture job: each method's map against the mixture's Fisher subspace.
pub(super) fn mixture_rows(job: &Job<'_>, g: &Gmm, setup: Setup, s: &Sweeps) -> Result<Vec<Row>> {
    let seed = 1000 * job.seed + 17;
    let f = g.fisher_subspace()?;
    let (train_set, test_set) =
        (g.sample(s.samples.min(5000), &mut seeded(seed + 5)), g.sample(s.samples.min(5000), &mut seeded(seed + 6)));
    let mut rows = Vec::new();
    for fitted in fit_methods(g, &setup, s, seed)? {
        let mut out = fitted.row(job);
        // Containment, not ranking (docs/theory.md 5.6): sin theta_max between the smaller of
        // row(A) and F and the larger, i.e. how far F is from lying in row(A) when r > k - 1.
        out.sin_theta_max = fitted.map.row_space().ok().and_then(|l| l.sin_theta_max(&f).ok());
        out.share_outside = g.share_outside_fisher(fitted.map.components()).ok();
        out.singular_values = fitted.map.singular_values().unwrap_or_default();
        if setup.evaluate {
            (out.ari, out.nmi, out.accuracy) =
                downstream(&fitted.map, (&train_set.x, &train_set.z), (&test_set.x, &test_set.z), g.k(), seed);
        }
        rows.push(out);
    }
    Ok(rows)
}
