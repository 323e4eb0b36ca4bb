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
    /// Reading or writing a CSV table (its I/O error, when it is one, is its source).
    #[error("CSV: {0}")]
    Csv(#[from] csv::Error),
    /// Encoding or decoding JSON.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Drawing a plot (the SVG backend writes its file as it draws, so its failures are the
    /// file's).
    #[error("plot: {0}")]
    Plot(String),
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

impl<E: std::error::Error + Send + Sync> From<plotters::drawing::DrawingAreaErrorKind<E>> for ExperimentError {
    fn from(e: plotters::drawing::DrawingAreaErrorKind<E>) -> Self {
        Self::Plot(e.to_string())
    }
}

/// What kind of failure an [`ExperimentError`] is, for a caller's exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad input: parameters, sweeps, data, a model or fit that cannot be computed.
    Input,
    /// Reading or writing a file (or standard output) failed.
    Io,
}

impl ExperimentError {
    /// Its kind: [`ErrorKind::Io`] for a failed read or write (including a CSV table or JSON
    /// whose reader or writer failed at the file, and a plot), [`ErrorKind::Input`] otherwise. A job's error has
    /// its cause's kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Io { .. } | Self::Write(_) | Self::Plot(_) => ErrorKind::Io,
            Self::Csv(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => ErrorKind::Io,
            Self::Json(e) if e.is_io() => ErrorKind::Io,
            Self::Job { source, .. } => source.kind(),
            _ => ErrorKind::Input,
        }
    }
}
