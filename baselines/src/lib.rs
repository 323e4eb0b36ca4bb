#![doc = include_str!("../README.md")]
//!
//! Every method follows one estimator shape (gmm-core's traits, re-exported here):
//! parameters built with a builder, [`Validate`] before any work, [`Fit`] to data, then
//! [`Transform`] on every fitted model and [`Predict`] where it means something (the LDA
//! classifier, k-means). Names follow scikit-learn where it has the method (`n_components`,
//! `explained_variance_ratio`, `n_clusters`, `cluster_centers`, `n_init`, `max_iter`, `tol`).
//!
//! Features: `parallel` (default; rayon in the scatter products) and `serde` (default).

mod cca;
mod error;
mod kmeans;
mod lda;
mod metrics;
mod pca;
pub mod stats;

pub use cca::{CCA_GAP_RTOL, Cca, CcaFit, CcaPairs, CcaPairsFit};
pub use error::{BaselineError, Result};
pub use gmm_core::{Fit, Predict, Transform, Validate};
pub use kmeans::{KMeans, KMeansFit};
pub use lda::{Lda, LdaFit, Shrinkage};
pub use metrics::{adjusted_rand_index, clustering_accuracy, normalized_mutual_info};
pub use pca::{Pca, PcaFit, PcaVariant};
