//! E9, the loss zoo: each loss of the zoo (and the SimSiam/BYOL flows) fitted in the population on
//! each augmentation of `e9_views`, by the verdict harness; its `sin theta_max` to `F` against
//! the augmentation (`ssl-gmm zoo` prints the same fits as a table of outcomes).

use std::collections::BTreeMap;

use ssl_losses::LossError;
use verdict::{ClassifySettings, FitSettings, Scenario, View, family_mixture, zoo_loss};

use crate::error::{ExperimentError, Result};
use crate::experiment::{About, Experiment, Job};
use crate::row::{Method, Metric, Row, Solver};
use crate::stats::Stats;
use crate::sweeps::Sweeps;

/// The master seed of E9's mixtures (the zoo table's default): the mixture of seed `s` is the
/// zoo family's mixture `s` ([`verdict::family_mixture`]).
pub const E9_MASTER_SEED: u64 = 20_241_105;

/// E9: every loss of the zoo on every augmentation of `e9_views`.
pub struct E9;

impl Experiment for E9 {
    fn about(&self) -> About {
        About {
            id: "E9",
            stem: "e9_loss_zoo",
            title: "E9 the loss zoo: distance of each population minimiser (flows: stable fixed point) to F",
            metric: Metric::SinThetaMax,
            x_label: "augmentation",
            y_label: "sin theta_max to F (whitened)",
            log_x: false,
            log_y: true,
            categorical: true,
            methods: &Method::ZOO,
            required: &[Metric::SinThetaMax],
        }
    }

    fn settings(&self, s: &Sweeps) -> Vec<(f64, String)> {
        s.e9_views.iter().enumerate().map(|(i, v)| (i as f64, v.name().to_string())).collect()
    }

    fn skip_reason(&self, s: &Sweeps) -> Option<String> {
        s.e9_views.is_empty().then(|| "e9_views is empty".into())
    }

    /// Each loss's verdict on the zoo family's mixture of this seed under the setting's
    /// augmentation, `r = k - 1`: the row's `sin_theta_max` is the row space's distance to `F` in
    /// the anchors' whitened coordinates (containment when the ranks differ), `converged` whether
    /// the verdict is resolved, `distance_bound` its tolerance. InfoNCE on masked views, which
    /// has no population form, is decided from samples ([`verdict::held_out_verdict`]): its row
    /// has solver `lbfgs`, the sample fit's `sin` and no distance bound. A loss that does not
    /// take the augmentation (a flow without a fixed point of rank `r`) has no row.
    fn rows(&self, job: &Job<'_>, s: &Sweeps) -> Result<Vec<Row>> {
        let view = s.e9_views.get(job.setting as usize).copied().ok_or_else(|| {
            ExperimentError::Config(format!("E9 setting {} names no augmentation of e9_views", job.setting))
        })?;
        let g = family_mixture(E9_MASTER_SEED, job.seed as usize)?;
        let scenario = Scenario::new(g.clone(), view.augmentation(&g)?, g.k() - 1)?;
        let (fit_settings, classify_settings) = (FitSettings::default(), ClassifySettings::default());
        let mut rows = Vec::new();
        for method in Method::ZOO {
            let loss = zoo_loss(method.name())?;
            let v = match loss.verdict(&scenario, &fit_settings, &classify_settings, 1000 * job.seed + 51) {
                Err(LossError::WrongModel(_)) => continue,
                other => other?,
            };
            let solver = if v.held_out.is_some() { Solver::Lbfgs } else { Solver::Population };
            let mut row = job.row(method, solver);
            row.sin_theta_max = Some(v.containment());
            row.singular_values = v.singular_values.clone();
            row.converged = Some(v.resolved(&classify_settings));
            row.relative_grad = Some(v.fit.relative_gradient);
            row.curvature = v.fit.bound.map(|b| b.curvature);
            row.distance_bound = v.held_out.is_none().then_some(v.tolerance);
            if let Some(test) = &v.held_out {
                (row.grad_norm, row.n) = (Some(test.grad_norm), test.settings.pairs);
            }
            row.loss = Some(v.fit.value);
            rows.push(row);
        }
        Ok(rows)
    }

    fn sentence(&self, rows: &[Row], _: &Stats) -> String {
        // Per augmentation, the losses whose every resolved fit lies in F within its tolerance.
        let mut in_f: BTreeMap<&str, BTreeMap<Method, bool>> = BTreeMap::new();
        for r in rows.iter().filter(|r| r.converged == Some(true)) {
            let within = r.sin_theta_max.zip(r.distance_bound).is_some_and(|(sin, tol)| sin <= tol);
            *in_f.entry(r.label.as_str()).or_default().entry(r.method).or_insert(true) &= within;
        }
        let mut parts = Vec::new();
        for view in View::ALL {
            let Some(methods) = in_f.get(view.name()) else { continue };
            let names: Vec<&str> = methods.iter().filter(|(_, all)| **all).map(|(m, _)| m.name()).collect();
            let list = if names.is_empty() { "none".to_string() } else { names.join(", ") };
            parts.push(format!("{}: {list}", view.name()));
        }
        format!(
            "Losses whose every resolved population fit (flows: stable fixed point) lies in F within its tolerance, by augmentation ({}). Off F the plot shows how far: the flows on raw inputs are ridge-biased by about 1e-2, the rest sit at spectral subspaces (sin near 1); InfoNCE on masked views is decided from samples (solver lbfgs: the best map in F loses on held-out pairs, so not F); `ssl-gmm zoo` names each outcome.",
            parts.join("; ")
        )
    }
}
