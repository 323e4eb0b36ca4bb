//! The objectives the harness fits: anything that gives a population loss and its gradient in a
//! map `A` for a [`Scenario`] ([`PopulationLoss`]), and the built-in zoo ([`ZooLoss`]).

use std::sync::{Arc, Mutex, OnceLock};

use gmm_core::nalgebra::DMatrix;
use gmm_core::{Augmentation, Gmm, GmmError, ViewMoments, check_shape};
use ssl_losses::{
    InfoNceViewPopulation, Result, VicRegWeights, barlow_population, sobol_normal_nodes, spectral_population,
    vicreg_hinges, vicreg_population,
};

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
    /// The population InfoNCE objectives built so far, by quadrature.
    infonce: QuadratureCache,
    /// `Cov(v1)^{1/2}`, built at first use ([`Scenario::unwhitening`]).
    unwhitening: OnceLock<DMatrix<f64>>,
}

/// The population InfoNCE of a scenario at `tau = 1`, one per quadrature `(nodes, seed)`, built
/// at first use (the nodes and the means' basis are computed once, not at every evaluation).
#[derive(Debug, Default)]
struct QuadratureCache(Mutex<Vec<Built>>);

/// One built objective and its quadrature `(nodes, seed)`.
type Built = ((usize, u32), Arc<InfoNceViewPopulation>);

impl Clone for QuadratureCache {
    fn clone(&self) -> Self {
        Self(Mutex::new(self.0.lock().map(|built| built.clone()).unwrap_or_default()))
    }
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
        Ok(Self { gmm, augmentation, views, r, infonce: QuadratureCache::default(), unwhitening: OnceLock::new() })
    }

    /// `Cov(v1)^{1/2}`, the map from the anchors' whitened coordinates back to raw ones: a
    /// whitened map is `B = A Cov(v1)^{1/2}`, a raw column basis `V` is `Cov(v1)^{1/2} V` there.
    ///
    /// # Errors
    /// `Cov(v1)` not positive semi-definite.
    pub fn unwhitening(&self) -> Result<&DMatrix<f64>> {
        if let Some(root) = self.unwhitening.get() {
            return Ok(root);
        }
        let root = gmm_core::linalg::spd_sqrt(&self.views.cov_left())?;
        Ok(self.unwhitening.get_or_init(|| root))
    }

    /// A raw subspace in the anchors' whitened coordinates, where the harness fits and compares.
    ///
    /// # Errors
    /// As [`Scenario::unwhitening`].
    pub fn whiten(&self, subspace: &gmm_core::Subspace) -> Result<gmm_core::Subspace> {
        Ok(gmm_core::Subspace::from_columns(&(self.unwhitening()? * subspace.basis()), 0.0)?)
    }

    /// The population InfoNCE of the views at `tau = 1` ([`InfoNceViewPopulation`]) integrated by
    /// `nodes` scrambled-Sobol nodes of scrambling seed `seed`, built once per quadrature.
    ///
    /// # Errors
    /// A masked view (not a Gaussian mixture); `nodes` outside `1..=65536`.
    pub fn infonce(&self, nodes: usize, seed: u32) -> Result<Arc<InfoNceViewPopulation>> {
        let found =
            |built: &[Built]| built.iter().find(|(key, _)| *key == (nodes, seed)).map(|(_, loss)| Arc::clone(loss));
        if let Some(loss) = self.infonce.0.lock().ok().and_then(|built| found(&built)) {
            return Ok(loss);
        }
        let q = InfoNceViewPopulation::quadrature_dim(&self.gmm)?;
        let points = sobol_normal_nodes(nodes, q, seed)?;
        let loss = Arc::new(InfoNceViewPopulation::new(&self.gmm, &self.augmentation, 1.0, points)?);
        if let Ok(mut built) = self.infonce.0.lock() {
            built.push(((nodes, seed), Arc::clone(&loss)));
        }
        Ok(loss)
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

    /// The generators `E` (`r x r`) of the continuous symmetries the loss has at `a`:
    /// `L(exp(t E) A) = L(A)` for every `t` (rotations of the rows, `E` skew, for a loss of
    /// `A^T A`; scalings of a row, `E = e_j e_j^T`, for one of standardised outputs). The harness
    /// then bounds the distance from the fit to the minimiser by the curvature across the other
    /// directions (`||g|| / lambda_min`, docs/theory.md 5.3) and classifies within that bound.
    /// Default `None`: the symmetries are not known, and the classification uses a fixed
    /// tolerance.
    fn symmetries(&self, _a: &DMatrix<f64>) -> Option<Vec<DMatrix<f64>>> {
        None
    }

    /// The same loss with an independent discretisation (InfoNCE: another quadrature seed), or
    /// `None` for a loss computed exactly; a loss on a sample: the same loss on an independent
    /// sample. The harness refits from the best map with it; the distance between the two
    /// minimisers measures the discretisation's (or the sample's) floor.
    fn replicate(&self) -> Option<Box<dyn PopulationLoss + '_>> {
        None
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
    /// InfoNCE with infinitely many negatives at temperature `tau`
    /// ([`ssl_losses::InfoNceViewPopulation`], Gaussian views only).
    InfoNce {
        /// The temperature.
        tau: f64,
        /// Quadrature nodes ([`ssl_losses::INFONCE_VIEW_NODES`] by default).
        nodes: usize,
        /// The quadrature's scrambling seed.
        seed: u32,
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
            Self::InfoNce { tau, .. } => format!("infonce(tau {tau})"),
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
            // L_tau(A) = L_1(A / sqrt(tau)), so dL_tau/dA = dL_1/dA (A / sqrt(tau)) / sqrt(tau).
            Self::InfoNce { tau, nodes, seed } => {
                gmm_core::check_positive(tau, "temperature tau")?;
                let (value, g) = scenario.infonce(nodes, seed)?.value_grad(&(a / tau.sqrt()))?;
                (value, g / tau.sqrt())
            }
        };
        grad.copy_from(&g);
        Ok(value)
    }

    /// Row rotations for the spectral contrastive loss and InfoNCE (functions of `A^T A`); row
    /// scalings for Barlow Twins without eps (standardised outputs); none for VICReg (its
    /// variance hinge fixes the scale; a minimiser on the hinge's kink gets no bound: the
    /// Hessian is not defined there).
    fn symmetries(&self, a: &DMatrix<f64>) -> Option<Vec<DMatrix<f64>>> {
        let r = a.nrows();
        let unit = |i: usize, j: usize| {
            let mut e = DMatrix::zeros(r, r);
            e[(i, j)] = 1.0;
            e
        };
        match *self {
            Self::SpectralContrastive | Self::InfoNce { .. } => Some(
                (0..r).flat_map(|i| (i + 1..r).map(move |j| (i, j))).map(|(i, j)| unit(i, j) - unit(j, i)).collect(),
            ),
            Self::BarlowTwins { eps: 0.0, .. } => Some((0..r).map(|j| unit(j, j)).collect()),
            Self::BarlowTwins { .. } => None,
            Self::VicReg { .. } => Some(Vec::new()),
        }
    }

    /// InfoNCE's quadrature with the next scrambling seed.
    fn replicate(&self) -> Option<Box<dyn PopulationLoss + '_>> {
        match *self {
            Self::InfoNce { tau, nodes, seed } => {
                Some(Box::new(Self::InfoNce { tau, nodes, seed: seed.wrapping_add(1) }))
            }
            _ => None,
        }
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
