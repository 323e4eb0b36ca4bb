#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod cca;
pub mod error;
pub mod kmeans;
pub mod lda;
pub mod metrics;
pub mod pca;
pub mod stats;

pub use cca::{CcaFit, CcaPairs};
pub use error::{BaselineError, Result};
pub use kmeans::{KMeans, KMeansFit};
pub use lda::{Lda, LdaFit, Shrinkage};
pub use metrics::{adjusted_rand_index, clustering_accuracy, normalized_mutual_info};
pub use pca::{Pca, PcaFit, PcaVariant};
