//! The crate's error type.

use std::path::PathBuf;

use baselines::BaselineError;
use gmm_core::GmmError;
use ssl_losses::LossError;
use thiserror::Error;

/// Everything that can go wrong in an experiment run: the errors of the library crates, bad
/// data or sweeps, and input/output.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ExperimentError {
    /// Bad input or a failed decomposition (the shared error core).
    #[error(transparent)]
    Core(#[from] GmmError),
    /// Training.
    #[error(transparent)]
    Loss(#[from] LossError),
    /// A baseline fit.
    #[error(transparent)]
    Baseline(#[from] BaselineError),
    /// A data table or label column that cannot be used, with where.
    #[error("{0}")]
    Data(String),
    /// Sweeps that cannot run.
    #[error("{0}")]
    Config(String),
    /// Reading or writing a file.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done ("cannot create", ...).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Writing CSV, JSON or SVG output (an encoding or drawing failure).
    #[error("output: {0}")]
    Output(String),
    /// Writing a file failed (the message names it: [`crate::io::write_atomic`]'s errors do).
    #[error(transparent)]
    Write(std::io::Error),
    /// One job of a run, named.
    #[error("{job}: {source}")]
    Job {
        /// Experiment, setting and seed.
        job: String,
        /// The cause.
        source: Box<ExperimentError>,
    },
}

/// Shorthand.
pub type Result<T> = std::result::Result<T, ExperimentError>;

impl From<std::io::Error> for ExperimentError {
    fn from(e: std::io::Error) -> Self {
        Self::Write(e)
    }
}

impl From<csv::Error> for ExperimentError {
    fn from(e: csv::Error) -> Self {
        Self::Output(e.to_string())
    }
}

impl From<serde_json::Error> for ExperimentError {
    fn from(e: serde_json::Error) -> Self {
        Self::Output(e.to_string())
    }
}

impl<E: std::error::Error + Send + Sync> From<plotters::drawing::DrawingAreaErrorKind<E>> for ExperimentError {
    fn from(e: plotters::drawing::DrawingAreaErrorKind<E>) -> Self {
        Self::Output(format!("plot: {e}"))
    }
}
