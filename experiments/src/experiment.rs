//! The typed list of experiments: each one's file stem, title, plotted metric and axes.

use serde::{Deserialize, Serialize};

use crate::run::Row;

/// One experiment of the reproduction (see README: E1..E8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Experiment {
    /// Anisotropy: the condition number of `Sigma`.
    E1,
    /// Augmentation noise: the coupling `delta`, with downstream k-means and LDA accuracy.
    E2,
    /// Dimension `d`.
    E3,
    /// Sample size `n` (a fixed sample, trained to the certificate): log-log slopes are rates.
    E4,
    /// Output dimension `r`: containment of F in row(A), and the weight outside F.
    E5,
    /// CLIP-GMM: weight outside each modality's shared Fisher subspace over training.
    E6,
    /// Real data (wine, digits) with supervised pairing: held-out k-means ARI.
    E7,
    /// Digits with label-free augmentations (two views of an image are a pair): held-out
    /// k-means ARI after whitening each representation by its own covariance.
    E8,
}

/// The statistic an experiment plots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// `sin theta_max` between the smaller and the larger of row(A) and F (containment).
    SinThetaMax,
    /// Share of `||A Sigma^{1/2}||_F^2` outside the Fisher coordinates.
    ShareOutside,
    /// Held-out k-means adjusted Rand index.
    Ari,
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
            Metric::WithinClassShare => row.within_class_share,
        }
    }
}

impl Experiment {
    /// Every experiment, in order.
    pub const ALL: [Experiment; 8] = [
        Experiment::E1,
        Experiment::E2,
        Experiment::E3,
        Experiment::E4,
        Experiment::E5,
        Experiment::E6,
        Experiment::E7,
        Experiment::E8,
    ];

    /// `E1`..`E8`.
    pub fn id(self) -> &'static str {
        match self {
            Experiment::E1 => "E1",
            Experiment::E2 => "E2",
            Experiment::E3 => "E3",
            Experiment::E4 => "E4",
            Experiment::E5 => "E5",
            Experiment::E6 => "E6",
            Experiment::E7 => "E7",
            Experiment::E8 => "E8",
        }
    }

    /// File stem of its CSV and SVG.
    pub fn stem(self) -> &'static str {
        match self {
            Experiment::E1 => "e1_variance",
            Experiment::E2 => "e2_augmentation_noise",
            Experiment::E3 => "e3_dimension",
            Experiment::E4 => "e4_sample_size",
            Experiment::E5 => "e5_output_dimension",
            Experiment::E6 => "e6_clip",
            Experiment::E7 => "e7_real_data",
            Experiment::E8 => "e8_augmented_digits",
        }
    }

    /// Title of its plot and report section.
    pub fn title(self) -> &'static str {
        match self {
            Experiment::E1 => "E1 variance structure: condition number of Σ",
            Experiment::E2 => "E2 augmentation noise: coupling δ",
            Experiment::E3 => "E3 dimension d",
            Experiment::E4 => "E4 sample size n",
            Experiment::E5 => "E5 output dimension r",
            Experiment::E6 => "E6 CLIP-GMM: weight outside the shared Fisher subspace",
            Experiment::E7 => "E7 real data, supervised pairing: k-means ARI on held-out samples",
            Experiment::E8 => "E8 digits, label-free augmentations: held-out k-means ARI (whitened)",
        }
    }

    /// The plotted metric.
    pub fn metric(self) -> Metric {
        match self {
            Experiment::E6 => Metric::ShareOutside,
            Experiment::E7 | Experiment::E8 => Metric::Ari,
            _ => Metric::SinThetaMax,
        }
    }

    /// The y-axis label.
    pub fn y_label(self) -> &'static str {
        match self {
            Experiment::E5 => "sin θ_max: F against row(A) (containment)",
            Experiment::E6 => "share outside the shared Fisher subspace",
            Experiment::E7 | Experiment::E8 => "k-means ARI (held-out)",
            _ => "sin θ_max to F",
        }
    }

    /// The x-axis label.
    pub fn x_label(self) -> &'static str {
        match self {
            Experiment::E1 => "condition number of Σ",
            Experiment::E2 => "coupling δ",
            Experiment::E3 => "dimension d",
            Experiment::E4 => "pairs / samples n",
            Experiment::E5 => "output dimension r",
            Experiment::E6 => "training steps",
            Experiment::E7 => "data set",
            Experiment::E8 => "augmentations",
        }
    }

    /// Logarithmic `(x, y)` axes.
    pub fn log_axes(self) -> (bool, bool) {
        match self {
            Experiment::E1 | Experiment::E3 => (true, false),
            Experiment::E4 | Experiment::E6 => (true, true),
            _ => (false, false),
        }
    }

    /// Whether the x axis is categorical (named settings).
    pub fn categorical(self) -> bool {
        matches!(self, Experiment::E7 | Experiment::E8)
    }
}
