//! The objectives the harness fits: anything that gives a population loss and its gradient in a
//! map `A` for a [`Scenario`] ([`PopulationLoss`]), and the built-in zoo ([`ZooLoss`]).

use gmm_core::nalgebra::DMatrix;
use gmm_core::{Augmentation, Gmm, GmmError, ViewMoments, check_shape};
use ssl_losses::{Result, VicRegWeights, barlow_population, spectral_population, vicreg_hinges, vicreg_population};

/// One case of a verdict: a mixture, the augmentation that makes its views, their exact
/// moments, and the number of outputs `r`.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The mixture.
    pub gmm: Gmm,
    /// How the views are made.
    pub augmentation: Augmentation,
    /// The views' population moments (`augmentation.moments(&gmm)`).
    pub views: ViewMoments,
    /// Number of outputs of the linear encoder.
    pub r: usize,
}

impl Scenario {
    /// The scenario of `gmm` under `augmentation` with `r` outputs.
    ///
    /// # Errors
    /// `r` outside `1..=d`; an augmentation that does not fit the mixture.
    pub fn new(gmm: Gmm, augmentation: Augmentation, r: usize) -> Result<Self> {
        if r == 0 || r > gmm.dim() {
            return Err(GmmError::out_of_range("outputs r", r as f64, format!("in 1..={}", gmm.dim())).into());
        }
        let views = augmentation.moments(&gmm)?;
        Ok(Self { gmm, augmentation, views, r })
    }
}

/// A population objective in the map `A` (`r x d`): its value, and its gradient written into
/// `grad` (same shape as `a`). Implement it to put a loss of your own through the harness.
pub trait PopulationLoss {
    /// A short name with the hyper-parameters, e.g. `barlow-twins(lambda 10)`.
    fn name(&self) -> String;

    /// The loss at `a` for `scenario`, its gradient into `grad`.
    ///
    /// # Errors
    /// Shapes; a non-finite value.
    fn value_grad(&mut self, a: &DMatrix<f64>, scenario: &Scenario, grad: &mut DMatrix<f64>) -> Result<f64>;

    /// The terms of the loss that are not differentiable at `a` (a hinge at its kink, within
    /// [`KINK_RTOL`]): for each, its gradient when active and whether `value_grad` counted it.
    /// The harness certifies a fit by the smallest gradient over the subdifferential (Clarke
    /// stationarity), so a minimiser at a kink is recognised. Default: none (a smooth loss).
    ///
    /// # Errors
    /// Shapes.
    fn kinks(&self, _a: &DMatrix<f64>, _scenario: &Scenario) -> Result<Vec<Kink>> {
        Ok(Vec::new())
    }

    /// Rows of `a` near a kink that sits at a fixed anchor-view variance `a_j^T Cov(x) a_j`:
    /// `(row, that variance)` for each row within `window` (relative) of it. The harness then
    /// polishes with those rows held on their kink (an active set), where a minimiser on the kink
    /// is a smooth problem, and certifies the result by the subdifferential. Default: none.
    ///
    /// # Errors
    /// Shapes.
    fn kink_rows(&self, _a: &DMatrix<f64>, _scenario: &Scenario, _window: f64) -> Result<Vec<(usize, f64)>> {
        Ok(Vec::new())
    }
}

/// How close (relative) to its kink a hinge counts as at it.
pub const KINK_RTOL: f64 = 1e-6;

/// A non-differentiable term at the current map: its gradient when active (`r x d`), and
/// whether the loss's gradient included it.
#[derive(Clone, Debug)]
pub struct Kink {
    /// The term's gradient when active.
    pub active_gradient: DMatrix<f64>,
    /// Whether `value_grad` counted it.
    pub counted: bool,
}

/// The zoo's population losses whose value depends on the views' second moments only.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case", tag = "loss"))]
pub enum ZooLoss {
    /// The spectral contrastive loss on the raw cross moment `E[v2 v1^T]` and the anchors' raw
    /// second moment ([`ssl_losses::spectral_population`]).
    SpectralContrastive,
    /// Barlow Twins ([`ssl_losses::barlow_population`]).
    BarlowTwins {
        /// Off-diagonal weight.
        lambda: f64,
        /// Standardisation eps.
        eps: f64,
    },
    /// VICReg ([`ssl_losses::vicreg_population`]).
    VicReg {
        /// The three weights.
        weights: VicRegWeights,
        /// Standard-deviation eps.
        eps: f64,
    },
}

impl PopulationLoss for ZooLoss {
    fn name(&self) -> String {
        match self {
            Self::SpectralContrastive => "spectral-contrastive".into(),
            Self::BarlowTwins { lambda, .. } => format!("barlow-twins(lambda {lambda})"),
            Self::VicReg { weights: w, .. } => {
                format!("vicreg({}, {}, {})", w.invariance, w.variance, w.covariance)
            }
        }
    }

    fn value_grad(&mut self, a: &DMatrix<f64>, scenario: &Scenario, grad: &mut DMatrix<f64>) -> Result<f64> {
        check_shape(grad, a.nrows(), a.ncols(), "gradient against the map")?;
        let v = &scenario.views;
        let (value, g) = match *self {
            Self::SpectralContrastive => spectral_population(a, &v.cross.transpose(), &v.second_left)?,
            Self::BarlowTwins { lambda, eps } => barlow_population(a, v, lambda, eps)?,
            Self::VicReg { weights, eps } => vicreg_population(a, v, &weights, eps)?,
        };
        grad.copy_from(&g);
        Ok(value)
    }

    /// VICReg's hinges sit at `S_jj = 1 - eps`; held there for views with equal covariances
    /// (then both sides' hinges are at the same place).
    fn kink_rows(&self, a: &DMatrix<f64>, scenario: &Scenario, window: f64) -> Result<Vec<(usize, f64)>> {
        let Self::VicReg { weights, eps } = *self else { return Ok(Vec::new()) };
        let (left, right) = (scenario.views.cov_left(), scenario.views.cov_right());
        if (&left - &right).amax() > 1e-12 * left.amax() || eps >= 1.0 {
            return Ok(Vec::new());
        }
        Ok(vicreg_hinges(a, &scenario.views, &weights, eps)?
            .into_iter()
            .filter(|h| h.side == 0 && (h.std - 1.0).abs() <= window)
            .map(|h| (h.row, 1.0 - eps))
            .collect())
    }

    /// VICReg's standard-deviation hinges ([`ssl_losses::vicreg_hinges`]) at their kink.
    fn kinks(&self, a: &DMatrix<f64>, scenario: &Scenario) -> Result<Vec<Kink>> {
        let Self::VicReg { weights, eps } = *self else { return Ok(Vec::new()) };
        Ok(vicreg_hinges(a, &scenario.views, &weights, eps)?
            .into_iter()
            .filter(|h| (h.std - 1.0).abs() <= KINK_RTOL)
            .map(|h| Kink { active_gradient: h.active_gradient, counted: h.std < 1.0 })
            .collect())
    }
}
