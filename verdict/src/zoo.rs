//! The zoo's table: each loss against each augmentation, over a family of random mixtures, with
//! each cell's outcomes and statistics (`ssl-gmm zoo`).

use std::collections::BTreeMap;
use std::time::Instant;

use gmm_core::rand::RngExt;
use gmm_core::{Augmentation, Gmm, MixtureGenerator, NoiseShape, ViewTransform, seeded, stable_hash};
use rayon::prelude::*;
use ssl_losses::{
    BARLOW_LAMBDA, BYOL_MOMENTUM, FlowRule, INFONCE_VIEW_NODES, LossError, Result, VICREG_EPS, VICREG_WEIGHTS,
    VicRegWeights,
};

use crate::classify::{ClassifySettings, Outcome, classify};
use crate::fit::FitSettings;
use crate::flow::{FlowLoss, Inputs};
use crate::loss::{PopulationLoss, Scenario, ZooLoss};
use crate::sampled::{HeldOutSettings, held_out_verdict};
use crate::verdict;

/// The augmentations of the table, built per mixture (noise scales are relative to the data's
/// mean variance `tr(Sigma_T) / d`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum View {
    /// Coupled pairs at `delta = 1` (the paper's model).
    Coupled,
    /// `x+ = x + xi`, `xi ~ N(0, s2 I)`, `s2 = tr(Sigma_T) / d`.
    #[cfg_attr(feature = "serde", serde(rename = "noise-iso"))]
    IsotropicNoise,
    /// `x+ = x + xi`, `xi ~ N(0, Sigma)`.
    #[cfg_attr(feature = "serde", serde(rename = "noise-sigma"))]
    SigmaNoise,
    /// Both views noisy: `x1 = x + xi1`, `x2 = x + xi2`, isotropic as above.
    NoiseBoth,
    /// `x+ = D x`, one Bernoulli(0.5) mask.
    Mask,
}

impl View {
    /// Every view of the table.
    pub const ALL: [View; 5] = [Self::Coupled, Self::IsotropicNoise, Self::SigmaNoise, Self::NoiseBoth, Self::Mask];

    /// Its name in tables and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Coupled => "coupled",
            Self::IsotropicNoise => "noise-iso",
            Self::SigmaNoise => "noise-sigma",
            Self::NoiseBoth => "noise-both",
            Self::Mask => "mask",
        }
    }

    /// The augmentation for `gmm`.
    ///
    /// # Errors
    /// A mixture whose variance is not positive (not possible for a valid mixture).
    pub fn augmentation(self, gmm: &Gmm) -> Result<Augmentation> {
        let s2 = gmm.total_covariance().trace() / gmm.dim() as f64;
        let iso = ViewTransform::Noise(NoiseShape::Isotropic(s2));
        Ok(match self {
            Self::Coupled => Augmentation::coupled(1.0)?,
            Self::IsotropicNoise => Augmentation::identical().then_right(iso)?,
            Self::SigmaNoise => Augmentation::additive_noise(NoiseShape::LikeCovariance(1.0))?,
            Self::NoiseBoth => Augmentation::identical().then_both(iso)?,
            Self::Mask => Augmentation::masking(0.5)?,
        })
    }
}

impl std::str::FromStr for View {
    type Err = gmm_core::GmmError;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let table: Vec<(&str, View)> = Self::ALL.iter().map(|v| (v.name(), *v)).collect();
        gmm_core::parse_name("augmentation", s, &table)
    }
}

/// A row of the table: a population loss the harness minimises, or a flow whose stable fixed
/// point it certifies.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TableLoss {
    /// A loss of the zoo ([`ZooLoss`]).
    Population(ZooLoss),
    /// SimSiam or BYOL without the whitening constraint ([`FlowLoss`]).
    Flow(FlowLoss),
}

impl From<ZooLoss> for TableLoss {
    fn from(loss: ZooLoss) -> Self {
        Self::Population(loss)
    }
}

impl From<FlowLoss> for TableLoss {
    fn from(flow: FlowLoss) -> Self {
        Self::Flow(flow)
    }
}

impl TableLoss {
    /// Its name with the hyper-parameters.
    pub fn name(&self) -> String {
        match self {
            Self::Population(loss) => loss.name(),
            Self::Flow(flow) => flow.name(),
        }
    }

    /// The verdict on `scenario` (`seed` seeds a population loss's random starts, or the pairs
    /// of a verdict from samples). InfoNCE on views that are not Gaussian mixtures (a mask) has
    /// no population form; its verdict is [`crate::held_out_verdict`]'s, from samples.
    ///
    /// # Errors
    /// As [`crate::verdict`], [`FlowLoss::fit`] and [`crate::held_out_verdict`].
    pub fn verdict(
        &self,
        scenario: &Scenario,
        fit_settings: &FitSettings,
        classify_settings: &ClassifySettings,
        seed: u64,
    ) -> Result<crate::Verdict> {
        match self {
            Self::Population(ZooLoss::InfoNce { tau, .. })
                if scenario.augmentation.gaussian_view_covariances(&scenario.gmm)?.is_none() =>
            {
                held_out_verdict(scenario, *tau, &HeldOutSettings::default(), classify_settings, seed)
            }
            Self::Population(loss) => verdict(&mut { *loss }, scenario, fit_settings, classify_settings, seed),
            Self::Flow(flow) => classify(flow.fit(scenario)?, scenario, classify_settings),
        }
    }
}

/// The losses of the table, by name: `spectral`, `infonce` (`tau = 1`), `barlow` (official `lambda = 0.0051`),
/// `barlow-10`, `vicreg` (official `(25, 25, 1)`), `vicreg-100` (`(25, 25, 100)`), and the flows
/// `simsiam-flow`, `byol-flow` (whitened inputs) and `simsiam-flow-raw`, `byol-flow-raw` (raw
/// inputs), all at weight decay `tau_r^2 / 16` and BYOL's rate 0.1 (zoo.md item 6).
///
/// A name may set hyper-parameters after a colon, `key=value` pairs separated by colons:
/// `infonce:tau=0.5`, `barlow:lambda=0.1`, `vicreg:inv=25:var=25:cov=10`,
/// `byol-flow:decay=0.1:momentum=0.05` (keys: `tau` for InfoNCE; `lambda` for Barlow Twins;
/// `inv`, `var`, `cov` for VICReg; `decay` for the flows and `momentum` for BYOL's).
///
/// # Errors
/// An unknown name or key; a value that is not a finite number in the key's range (positive
/// `tau`, non-negative weights and decay, `momentum` in `(0, 1]`).
pub fn zoo_loss(name: &str) -> Result<TableLoss> {
    let (base, settings) = name.split_once(':').unwrap_or((name, ""));
    let strong = VicRegWeights { covariance: 100.0, ..VICREG_WEIGHTS };
    let flow = |rule, inputs| TableLoss::Flow(FlowLoss { rule, inputs, decay: 1.0 / 16.0 });
    let byol = FlowRule::Byol { momentum: BYOL_MOMENTUM };
    let mut loss = gmm_core::parse_name(
        "loss",
        base,
        &[
            ("spectral", TableLoss::Population(ZooLoss::SpectralContrastive)),
            ("infonce", TableLoss::Population(ZooLoss::InfoNce { tau: 1.0, nodes: INFONCE_VIEW_NODES, seed: 0 })),
            ("barlow", TableLoss::Population(ZooLoss::BarlowTwins { lambda: BARLOW_LAMBDA, eps: 0.0 })),
            ("barlow-10", TableLoss::Population(ZooLoss::BarlowTwins { lambda: 10.0, eps: 0.0 })),
            ("vicreg", TableLoss::Population(ZooLoss::VicReg { weights: VICREG_WEIGHTS, eps: VICREG_EPS })),
            ("vicreg-100", TableLoss::Population(ZooLoss::VicReg { weights: strong, eps: VICREG_EPS })),
            ("simsiam-flow", flow(FlowRule::SimSiam, Inputs::Whitened)),
            ("byol-flow", flow(byol, Inputs::Whitened)),
            ("simsiam-flow-raw", flow(FlowRule::SimSiam, Inputs::Raw)),
            ("byol-flow-raw", flow(byol, Inputs::Raw)),
        ],
    )?;
    for setting in settings.split(':').filter(|s| !s.is_empty()) {
        set_hyperparameter(&mut loss, setting)?;
    }
    Ok(loss)
}

/// Sets one `key=value` of a zoo loss ([`zoo_loss`]).
fn set_hyperparameter(loss: &mut TableLoss, setting: &str) -> Result<()> {
    let (key, text) = setting.split_once('=').unwrap_or((setting, ""));
    let value: f64 = text.trim().parse().map_err(|_| {
        gmm_core::GmmError::unknown_name("hyper-parameter value (key=number)", setting, &["key=number"])
    })?;
    let at_least_zero = |name: &'static str| -> Result<f64> {
        if value.is_finite() && value >= 0.0 {
            Ok(value)
        } else {
            Err(gmm_core::GmmError::out_of_range(name, value, "finite and >= 0").into())
        }
    };
    match (loss, key) {
        (TableLoss::Population(ZooLoss::InfoNce { tau, .. }), "tau") => {
            gmm_core::check_positive(value, "InfoNCE temperature tau")?;
            *tau = value;
        }
        (TableLoss::Population(ZooLoss::BarlowTwins { lambda, .. }), "lambda") => {
            *lambda = at_least_zero("Barlow Twins lambda")?;
        }
        (TableLoss::Population(ZooLoss::VicReg { weights, .. }), "inv") => {
            weights.invariance = at_least_zero("VICReg invariance weight")?;
        }
        (TableLoss::Population(ZooLoss::VicReg { weights, .. }), "var") => {
            weights.variance = at_least_zero("VICReg variance weight")?;
        }
        (TableLoss::Population(ZooLoss::VicReg { weights, .. }), "cov") => {
            weights.covariance = at_least_zero("VICReg covariance weight")?;
        }
        (TableLoss::Flow(flow), "decay") => flow.decay = at_least_zero("weight decay of a flow")?,
        (TableLoss::Flow(FlowLoss { rule: FlowRule::Byol { momentum }, .. }), "momentum") => {
            if !(value > 0.0 && value <= 1.0) {
                return Err(gmm_core::GmmError::out_of_range("BYOL's momentum rate", value, "in (0, 1]").into());
            }
            *momentum = value;
        }
        (loss, key) => {
            let known: &[&str] = match loss {
                TableLoss::Population(ZooLoss::InfoNce { .. }) => &["tau"],
                TableLoss::Population(ZooLoss::BarlowTwins { .. }) => &["lambda"],
                TableLoss::Population(ZooLoss::VicReg { .. }) => &["inv", "var", "cov"],
                TableLoss::Population(ZooLoss::SpectralContrastive) => &[],
                TableLoss::Flow(FlowLoss { rule: FlowRule::Byol { .. }, .. }) => &["decay", "momentum"],
                TableLoss::Flow(_) => &["decay"],
            };
            return Err(gmm_core::GmmError::unknown_name("hyper-parameter of this loss", key, known).into());
        }
    }
    Ok(())
}

/// The names [`zoo_loss`] knows, in table order.
pub const ZOO_LOSSES: [&str; 10] = [
    "spectral",
    "infonce",
    "barlow",
    "barlow-10",
    "vicreg",
    "vicreg-100",
    "simsiam-flow",
    "byol-flow",
    "simsiam-flow-raw",
    "byol-flow-raw",
];

/// One cell of the table: a loss on an augmentation over the family's mixtures.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Cell {
    /// The loss's name.
    pub loss: String,
    /// The augmentation's name.
    pub view: &'static str,
    /// Mixtures fitted.
    pub cases: usize,
    /// Fits with a verdict (certified, rank resolved, tolerance small enough to name the outcome).
    pub resolved: usize,
    /// How often each outcome was the verdict (resolved fits only), by its name; "none" carries
    /// the nearest yardstick, e.g. `none (nearest PCA)`.
    pub outcomes: BTreeMap<String, usize>,
    /// The median `sin` to `F` of the resolved fits (the containment when the ranks differ);
    /// `None` when no fit resolved.
    pub median_sin_to_fisher: Option<f64>,
    /// The largest.
    pub max_sin_to_fisher: Option<f64>,
    /// The median `sin` to the nearest yardstick of the resolved fits whose outcome is "none".
    pub median_sin_to_nearest: Option<f64>,
    /// The median tolerance of the resolved population fits ([`crate::Verdict::tolerance`]: the
    /// distance bound and the discretisation's floor).
    pub median_tolerance: Option<f64>,
    /// For verdicts from samples ([`crate::held_out_verdict`]): the median held-out loss gap
    /// (nats) between the best map inside `F` and the unrestricted fit, over the resolved fits.
    pub median_held_out_gap: Option<f64>,
    /// The smallest of their t statistics.
    pub min_held_out_t: Option<f64>,
    /// Why the loss does not apply to the augmentation (no fit was made), e.g. a flow whose
    /// views have no fixed point of rank `r`.
    pub not_applicable: Option<String>,
    /// Wall time of the cell.
    pub seconds: f64,
}

impl Cell {
    /// Each certified outcome with its count, the most frequent first (ties by name); with
    /// `with_unresolved`, the fits without a verdict ranked among them as "unresolved".
    pub fn ranked_outcomes(&self, with_unresolved: bool) -> Vec<(String, usize)> {
        let mut counts: Vec<(String, usize)> = self.outcomes.iter().map(|(o, n)| (o.clone(), *n)).collect();
        if with_unresolved && self.resolved < self.cases {
            counts.push(("unresolved".into(), self.cases - self.resolved));
        }
        counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        counts
    }
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied()
}

/// The table's name of a resolved verdict's outcome.
pub(crate) fn outcome_key(v: &crate::Verdict) -> String {
    match v.outcome {
        Outcome::Collapsed { .. } => "collapsed in F".to_string(),
        Outcome::NotFisher => "not F (held-out loss)".to_string(),
        Outcome::Spectral { .. } => v.matching_yardsticks(),
        Outcome::Other => match v.nearest_yardstick() {
            Some((_, sin)) => {
                let near: Vec<&str> =
                    v.yardsticks.iter().filter(|(_, s)| *s <= sin + v.tolerance).map(|(y, _)| y.name()).collect();
                format!("none (nearest {})", near.join(" = "))
            }
            None => "none".to_string(),
        },
        other => other.to_string(),
    }
}

/// Mixture `i` of the table's family at master seed `seed`: `k` cycling 3..6, `d` in 8..20,
/// condition `10^u`, `u` in [0.5, 3], every third with a dominant noise direction (the claims'
/// family).
///
/// # Errors
/// None for these parameters (the generator's own checks).
pub fn family_mixture(seed: u64, i: usize) -> Result<Gmm> {
    let case_seed = stable_hash(format!("zoo/{seed}/{i}").as_bytes());
    let mut rng = seeded(case_seed);
    let k = 3 + i % 4;
    let d = rng.random_range(8..=20);
    let condition = 10f64.powf(rng.random_range(0.5..=3.0));
    let mut generator = MixtureGenerator::isotropic(k, d).condition(condition);
    if i.is_multiple_of(3) {
        generator = generator.noise_direction(4.0);
    }
    Ok(generator.generate(&mut rng)?)
}

/// Runs the table: every loss of `losses` on every view of `views` over `cases` mixtures of the
/// family at master seed `seed`, `r = k - 1`, with the default settings. `progress` is called
/// after each cell.
///
/// # Errors
/// An unknown loss name; a fit's errors.
pub fn run_table(
    losses: &[String],
    views: &[View],
    cases: usize,
    seed: u64,
    mut progress: impl FnMut(&Cell),
) -> Result<Vec<Cell>> {
    gmm_core::check_at_least(cases, 1, "mixtures per cell of the zoo table")?;
    let mixtures = (0..cases).map(|i| family_mixture(seed, i)).collect::<Result<Vec<_>>>()?;
    let (fit_settings, classify_settings) = (FitSettings::default(), ClassifySettings::default());
    let mut cells = Vec::new();
    for name in losses {
        let loss = zoo_loss(name)?;
        for &view in views {
            let started = Instant::now();
            // The mixtures in parallel, each fit on its own and collected in order: the same
            // numbers on any thread count.
            let results: Vec<Result<(crate::Verdict, bool)>> = mixtures
                .par_iter()
                .enumerate()
                .map(|(i, g)| {
                    let scenario = Scenario::new(g.clone(), view.augmentation(g)?, g.k() - 1)?;
                    let v = loss.verdict(&scenario, &fit_settings, &classify_settings, seed ^ i as u64)?;
                    let resolved = v.resolved(&classify_settings);
                    Ok((v, resolved))
                })
                .collect();
            let mut cell = Cell {
                loss: loss.name(),
                view: view.name(),
                cases,
                resolved: 0,
                outcomes: BTreeMap::new(),
                median_sin_to_fisher: None,
                max_sin_to_fisher: None,
                median_sin_to_nearest: None,
                median_tolerance: None,
                median_held_out_gap: None,
                min_held_out_t: None,
                not_applicable: None,
                seconds: 0.0,
            };
            let (mut sins, mut nearest, mut tolerances, mut gaps) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for result in results {
                let (v, resolved) = match result {
                    Err(LossError::WrongModel(why)) => {
                        cell.not_applicable = Some(why.to_string());
                        break;
                    }
                    other => other?,
                };
                if resolved {
                    cell.resolved += 1;
                    *cell.outcomes.entry(outcome_key(&v)).or_insert(0) += 1;
                    sins.push(v.sin_to_fisher);
                    match &v.held_out {
                        Some(test) => gaps.push((test.gap, test.t)),
                        None => tolerances.push(v.tolerance),
                    }
                    if let (Outcome::Other, Some((_, sin))) = (v.outcome, v.nearest_yardstick()) {
                        nearest.push(sin);
                    }
                }
            }
            cell.max_sin_to_fisher = sins.iter().copied().max_by(f64::total_cmp);
            cell.median_sin_to_fisher = median(sins);
            cell.median_sin_to_nearest = median(nearest);
            cell.median_tolerance = median(tolerances);
            cell.min_held_out_t = gaps.iter().map(|g| g.1).min_by(f64::total_cmp);
            cell.median_held_out_gap = median(gaps.into_iter().map(|g| g.0).collect());
            cell.seconds = started.elapsed().as_secs_f64();
            progress(&cell);
            cells.push(cell);
        }
    }
    Ok(cells)
}
