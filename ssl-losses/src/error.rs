//! The crate's error type.

use thiserror::Error;

/// Everything that can go wrong in `ssl-losses`.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum LossError {
    /// A parameter outside its allowed range (checked before any work starts).
    #[error("{name} = {value} is invalid: {reason}")]
    InvalidParam {
        /// The parameter.
        name: &'static str,
        /// Its value.
        value: f64,
        /// What is required.
        reason: &'static str,
    },
    /// Matrices whose shapes do not fit together.
    #[error("shape mismatch in {what}: expected {expected:?}, got {got:?}")]
    Shape {
        /// What was checked.
        what: &'static str,
        /// Expected (rows, cols).
        expected: (usize, usize),
        /// Given (rows, cols).
        got: (usize, usize),
    },
    /// Non-finite input data.
    #[error("non-finite value in {what} at row {row}, column {col}")]
    NonFiniteInput {
        /// Which input.
        what: &'static str,
        /// Row.
        row: usize,
        /// Column.
        col: usize,
    },
    /// Training diverged: the loss or the gradient stopped being finite.
    #[error(
        "{quantity} became non-finite at step {step} (loss before: {last_loss:.4e}); the learning rate {lr:.4e} is likely too large"
    )]
    Diverged {
        /// "loss" or "gradient".
        quantity: &'static str,
        /// Step at which it happened (0-based).
        step: usize,
        /// Learning rate in force.
        lr: f64,
        /// Last finite loss.
        last_loss: f64,
    },
    /// An error of the mixture crate.
    #[error(transparent)]
    Core(#[from] gmm_core::GmmError),
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, LossError>;

/// Checks that every entry of `m` is finite.
pub fn check_finite(m: &nalgebra::DMatrix<f64>, what: &'static str) -> Result<()> {
    match m.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(p) => Err(LossError::NonFiniteInput { what, row: p % m.nrows(), col: p / m.nrows() }),
    }
}

/// Checks a matrix shape.
pub fn check_shape(m: &nalgebra::DMatrix<f64>, expected: (usize, usize), what: &'static str) -> Result<()> {
    if m.shape() != expected { Err(LossError::Shape { what, expected, got: m.shape() }) } else { Ok(()) }
}

/// Checks `value > 0` and finite.
pub fn check_positive(value: f64, name: &'static str) -> Result<()> {
    if value > 0.0 && value.is_finite() {
        Ok(())
    } else {
        Err(LossError::InvalidParam { name, value, reason: "must be positive and finite" })
    }
}
