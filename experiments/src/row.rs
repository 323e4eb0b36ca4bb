//! The tidy result row every experiment writes, and the typed names in it: the method, how its
//! map was obtained, and the statistics a row can carry.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A method of the comparison, written in the CSVs, plots and report as the papers write it
/// ([`Method::name`], the one spelling: rows are written and read back through it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum Method {
    /// InfoNCE (tau = 1, one-way, dot score) on a fixed sample, to its certificate.
    InfoNce,
    /// InfoNCE restricted to CCA's subspace on the same pairs (E8: `M W_cca`, `M` free): the best
    /// map there, the test of whether the full fit is a local minimum.
    InfoNceInCca,
    /// Whitened SimSiam by its recipe over epochs of a fixed set of pairs.
    SimSiamEpochs,
    /// CCA on pairs (closed form, label-free).
    Cca,
    /// PCA (closed form).
    Pca,
    /// LDA (closed form, supervised).
    Lda,
    /// CLIP's map of the first modality.
    ClipA,
    /// CLIP's map of the second modality.
    ClipB,
    /// Two-view CCA's map of the first modality (E6: the label-free closed form, the noise floor).
    CcaA,
    /// Two-view CCA's map of the second modality.
    CcaB,
    /// E9, the loss zoo: the spectral contrastive loss's population minimiser.
    ZooSpectral,
    /// Population InfoNCE on the views (`tau = 1`, infinitely many negatives).
    ZooInfoNce,
    /// Barlow Twins at the official `lambda = 0.0051`.
    ZooBarlow,
    /// Barlow Twins at `lambda = 10`.
    ZooBarlow10,
    /// VICReg at the official weights (25, 25, 1).
    ZooVicReg,
    /// VICReg at (25, 25, 100).
    ZooVicReg100,
    /// The SimSiam flow on whitened inputs (its stable fixed point).
    SimSiamFlow,
    /// The BYOL flow on whitened inputs.
    ByolFlow,
    /// The SimSiam flow on raw inputs.
    SimSiamFlowRaw,
    /// The BYOL flow on raw inputs.
    ByolFlowRaw,
}

impl Method {
    /// The methods of E1..E8.
    pub const PAPER: [Method; 10] = [
        Method::InfoNce,
        Method::InfoNceInCca,
        Method::SimSiamEpochs,
        Method::Cca,
        Method::Pca,
        Method::Lda,
        Method::ClipA,
        Method::ClipB,
        Method::CcaA,
        Method::CcaB,
    ];

    /// The zoo's losses (E9), in the zoo table's order.
    pub const ZOO: [Method; 10] = [
        Method::ZooSpectral,
        Method::ZooInfoNce,
        Method::ZooBarlow,
        Method::ZooBarlow10,
        Method::ZooVicReg,
        Method::ZooVicReg100,
        Method::SimSiamFlow,
        Method::ByolFlow,
        Method::SimSiamFlowRaw,
        Method::ByolFlowRaw,
    ];

    /// Every method: E1..E8's, then the zoo's.
    pub fn all() -> impl Iterator<Item = Method> {
        Self::PAPER.into_iter().chain(Self::ZOO)
    }

    /// The name in the CSVs, plots and report.
    pub fn name(self) -> &'static str {
        match self {
            Method::InfoNce => "InfoNCE",
            Method::InfoNceInCca => "InfoNCE in CCA's subspace",
            Method::SimSiamEpochs => "SimSiam-whitened, epochs",
            Method::Cca => "CCA",
            Method::Pca => "PCA",
            Method::Lda => "LDA",
            Method::ClipA => "CLIP map A (x)",
            Method::ClipB => "CLIP map B (y)",
            Method::CcaA => "CCA map A (x)",
            Method::CcaB => "CCA map B (y)",
            // The zoo's own names (`verdict::zoo_loss`, `ssl-gmm zoo --losses`).
            Method::ZooSpectral => "spectral",
            Method::ZooInfoNce => "infonce",
            Method::ZooBarlow => "barlow",
            Method::ZooBarlow10 => "barlow-10",
            Method::ZooVicReg => "vicreg",
            Method::ZooVicReg100 => "vicreg-100",
            Method::SimSiamFlow => "simsiam-flow",
            Method::ByolFlow => "byol-flow",
            Method::SimSiamFlowRaw => "simsiam-flow-raw",
            Method::ByolFlowRaw => "byol-flow-raw",
        }
    }

    /// Whether its map is trained (and so needs a certificate) rather than a closed form.
    pub fn trained(self) -> bool {
        !matches!(self, Method::Cca | Method::Pca | Method::Lda | Method::CcaA | Method::CcaB)
    }
}

/// A method written to a CSV: its name.
impl From<Method> for &'static str {
    fn from(m: Method) -> Self {
        m.name()
    }
}

/// A method read back from a CSV by its name.
impl TryFrom<String> for Method {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        Method::all().find(|m| m.name() == name).ok_or_else(|| {
            let known: Vec<&str> = Method::all().map(|m| m.name()).collect();
            format!("unknown method {name:?} (known: {})", known.join(", "))
        })
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Methods order by name, as the rows of the CSVs, the plots' legends and the report do.
impl Ord for Method {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.name().cmp(other.name())
    }
}

impl PartialOrd for Method {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// How a map was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Solver {
    /// L-BFGS on a fixed sample, to the relative-gradient certificate.
    Lbfgs,
    /// Epochs over a fixed set of pairs.
    Epochs,
    /// A closed form: exact.
    ClosedForm,
    /// A population objective fitted, or a flow's fixed point found, by the verdict harness (E9):
    /// certified by its gradient or residual, the agreement of its starts and its distance bound.
    Population,
}

/// A statistic a row can carry (a column of the CSVs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// `sin theta_max` between the smaller and the larger of row(A) and F (containment).
    SinThetaMax,
    /// Share of `||A Sigma^{1/2}||_F^2` outside the Fisher coordinates.
    ShareOutside,
    /// Held-out k-means adjusted Rand index.
    Ari,
    /// Held-out k-means normalised mutual information.
    Nmi,
    /// Held-out accuracy of an LDA classifier on the representation.
    Accuracy,
    /// Within-class share of the pairs' cross-covariance along CCA's directions (E7, E8).
    WithinClassShare,
}

impl Metric {
    /// The metric's value in a row.
    pub fn of(self, row: &Row) -> Option<f64> {
        match self {
            Metric::SinThetaMax => row.sin_theta_max,
            Metric::ShareOutside => row.share_outside,
            Metric::Ari => row.ari,
            Metric::Nmi => row.nmi,
            Metric::Accuracy => row.accuracy,
            Metric::WithinClassShare => row.within_class_share,
        }
    }

    /// Its column in the CSVs.
    pub fn column(self) -> &'static str {
        match self {
            Metric::SinThetaMax => "sin_theta_max",
            Metric::ShareOutside => "share_outside",
            Metric::Ari => "ari",
            Metric::Nmi => "nmi",
            Metric::Accuracy => "accuracy",
            Metric::WithinClassShare => "within_class_share",
        }
    }
}

/// One result row (tidy: one row per experiment, setting, method, seed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The experiment's id (`E1`..).
    pub experiment: String,
    /// The swept value (condition number, delta, d, n, r, steps, or the data set's index).
    pub setting: f64,
    /// The setting as shown, e.g. `condition 100`.
    pub label: String,
    /// The method.
    pub method: Method,
    /// The repetition.
    pub seed: u64,
    /// `sin theta_max` between the smaller and the larger of row(A) and the reference subspace.
    pub sin_theta_max: Option<f64>,
    /// Share of `||A Sigma^{1/2}||_F^2` outside the Fisher coordinates.
    pub share_outside: Option<f64>,
    /// Held-out k-means ARI.
    pub ari: Option<f64>,
    /// Held-out k-means NMI.
    pub nmi: Option<f64>,
    /// Held-out accuracy of an LDA classifier on the representation.
    pub accuracy: Option<f64>,
    /// Singular values of the map, descending: the CSV's columns `singular_value_1`, ... (as
    /// many as the experiment's largest map has), written and read by [`crate::Suite`].
    #[serde(skip)]
    pub singular_values: Vec<f64>,
    /// How the map was obtained.
    pub solver: Solver,
    /// Pairs or samples of the fixed sample (0 for streams).
    pub n: usize,
    /// The certificate's verdict: `Some(false)` for a trained map without one (streams,
    /// epochs), `None` for closed forms, which are exact.
    pub converged: Option<bool>,
    /// The certificate's relative gradient norm (InfoNCE, CLIP).
    pub relative_grad: Option<f64>,
    /// The certificate's absolute gradient norm `||g||_F` (InfoNCE, CLIP; in the coordinates
    /// the loss was minimised in).
    pub grad_norm: Option<f64>,
    /// The smallest curvature of the loss across the directions its symmetries leave free, at
    /// the fit (Lanczos on Hessian-vector products; docs/theory.md 5.3).
    pub curvature: Option<f64>,
    /// The bound `||g|| / curvature` carried to `sin theta_max` between the fit's row space and
    /// the local minimiser's (1 when it bounds nothing).
    pub distance_bound: Option<f64>,
    /// The fixed-sample loss at the fit (InfoNCE, CLIP): with E8's `InfoNCE in CCA's subspace`
    /// row, the test of whether the full fit is a local minimum.
    pub loss: Option<f64>,
    /// The certificate of whitened SimSiam: `sin theta_max` to the optimum of the problem its
    /// recipe solves (population moments for a stream, the sample's for epochs).
    pub sin_to_optimum: Option<f64>,
    /// E7 and E8, on every row of a job: the share of its pairs' cross-covariance along CCA's
    /// directions that is within-class ([`baselines::CcaPairsFit::within_class_share`], labels used
    /// for this diagnostic only). The paper's augmentation model makes it noise (about 0);
    /// pairs that keep an image's style in both views make it large.
    pub within_class_share: Option<f64>,
}

/// Sorts rows by experiment, setting, method and seed (the order of a single run's CSVs).
pub(crate) fn sort_rows(rows: &mut [Row]) {
    rows.sort_by(|a, b| {
        (&a.experiment, a.setting, a.method, a.seed)
            .partial_cmp(&(&b.experiment, b.setting, b.method, b.seed))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
}
