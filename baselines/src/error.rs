//! The crate's error type.

use thiserror::Error;

/// Everything that can go wrong when fitting a baseline.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum BaselineError {
    /// Too few samples, classes or features for the method.
    #[error("{what}: need at least {min}, got {got}")]
    TooFew {
        /// What was counted.
        what: &'static str,
        /// Minimum.
        min: usize,
        /// Given.
        got: usize,
    },
    /// A parameter outside its range.
    #[error("{name} = {value} is invalid: {reason}")]
    InvalidParam {
        /// The parameter.
        name: &'static str,
        /// Its value.
        value: f64,
        /// What is required.
        reason: String,
    },
    /// Shapes that do not fit together.
    #[error("shape mismatch in {what}: expected {expected}, got {got}")]
    Shape {
        /// What was checked.
        what: &'static str,
        /// Expected size.
        expected: usize,
        /// Given size.
        got: usize,
    },
    /// NaN or infinity in the data.
    #[error("non-finite value in {what} at row {row}, column {col}")]
    NonFinite {
        /// Which input.
        what: &'static str,
        /// Row.
        row: usize,
        /// Column.
        col: usize,
    },
    /// A scatter matrix that must be inverted is singular (e.g. more features than samples,
    /// or a constant feature).
    #[error("{what} is singular (a constant feature, or fewer samples than features, does this); {fix}")]
    Singular {
        /// Which matrix.
        what: &'static str,
        /// How to fix it.
        fix: &'static str,
    },
    /// An error of the linear algebra in gmm-core.
    #[error(transparent)]
    Core(#[from] gmm_core::GmmError),
}

/// Shorthand.
pub type Result<T> = std::result::Result<T, BaselineError>;

/// Checks every entry is finite.
pub fn check_finite(x: &nalgebra::DMatrix<f64>, what: &'static str) -> Result<()> {
    match x.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(p) => Err(BaselineError::NonFinite { what, row: p % x.nrows(), col: p / x.nrows() }),
    }
}
