//! The crate's error type.

use thiserror::Error;

/// Everything that can go wrong in `gmm-core`. Library code never panics on user input: each
/// check of a constructor or a parameter maps to one variant here.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum GmmError {
    /// Two inputs that must agree in size do not.
    #[error("dimension mismatch in {what}: expected {expected}, got {got}")]
    DimensionMismatch {
        /// What was being checked.
        what: &'static str,
        /// The size required.
        expected: usize,
        /// The size given.
        got: usize,
    },
    /// A count (components, dimension, samples) below its minimum.
    #[error("{what} must be at least {min}, got {got}")]
    TooSmall {
        /// What was counted.
        what: &'static str,
        /// The smallest allowed value.
        min: usize,
        /// The value given.
        got: usize,
    },
    /// A NaN or an infinity in the input.
    #[error("non-finite value {value} in {what} at row {row}, column {col}")]
    NonFinite {
        /// Which input.
        what: &'static str,
        /// Row of the offending entry (0-based).
        row: usize,
        /// Column of the offending entry (0-based).
        col: usize,
        /// The offending value.
        value: f64,
    },
    /// A mixture weight that is zero or negative.
    #[error("{what}: weight {index} is {value}, but every weight must be > 0")]
    NonPositiveWeight {
        /// Which weight vector.
        what: &'static str,
        /// Index of the weight.
        index: usize,
        /// Its value.
        value: f64,
    },
    /// Mixture weights that do not sum to one.
    #[error("{what}: weights sum to {sum}, but must sum to 1 within {tol:e}")]
    WeightsNotNormalised {
        /// Which weight vector.
        what: &'static str,
        /// Their sum.
        sum: f64,
        /// The tolerance allowed.
        tol: f64,
    },
    /// A matrix that must be symmetric is not, beyond rounding.
    #[error("{what} is not symmetric: |C[{i},{j}] - C[{j},{i}]| = {gap:e} exceeds {tol:e} (relative to max |C|)")]
    NotSymmetric {
        /// Which matrix.
        what: &'static str,
        /// Row of the worst gap.
        i: usize,
        /// Column of the worst gap.
        j: usize,
        /// The gap, relative to the largest entry.
        gap: f64,
        /// The relative tolerance.
        tol: f64,
    },
    /// A matrix that must be positive definite is not (its Cholesky factorisation failed).
    #[error("{what} is not positive definite (Cholesky factorisation failed)")]
    NotPositiveDefinite {
        /// Which matrix.
        what: &'static str,
    },
    /// A real parameter outside its allowed range.
    #[error("{name} = {value} is outside its allowed range {range}")]
    OutOfRange {
        /// The parameter.
        name: &'static str,
        /// Its value.
        value: f64,
        /// The allowed range, written out.
        range: &'static str,
    },
    /// An iterative decomposition did not converge.
    #[error("{what} did not converge")]
    NoConvergence {
        /// Which decomposition.
        what: &'static str,
    },
    /// A subspace with no directions where one is needed (e.g. the row space of a zero map).
    #[error("{what} is the zero subspace (the matrix has numerical rank 0)")]
    EmptySubspace {
        /// Which subspace.
        what: &'static str,
    },
    /// An unknown preset name.
    #[error("unknown preset {name:?}; known presets: {known}")]
    UnknownPreset {
        /// The name asked for.
        name: String,
        /// The names known, comma separated.
        known: String,
    },
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, GmmError>;
