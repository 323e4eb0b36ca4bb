//! The error core of the workspace: [`GmmError`] and the input checks every crate uses.
//!
//! The higher crates (`ssl-losses`, `baselines`, `theory-checks`) wrap [`GmmError`] in their own
//! error type (`Core(GmmError)`) and add only what is theirs (divergence of training, bad
//! labels, ...). A shape, a non-finite value, a parameter out of range, a count below its
//! minimum and a singular matrix are therefore reported the same way by every crate, by the
//! checks below: [`check_shape`], [`check_finite`], [`check_positive`],
//! [`check_non_negative`], [`check_at_least`].
//!
//! ```
//! use gmm_core::nalgebra::DMatrix;
//! use gmm_core::{GmmError, check_finite, check_shape};
//!
//! let x = DMatrix::from_row_slice(2, 2, &[1.0, f64::NAN, 0.0, 1.0]);
//! assert!(check_shape(&x, 2, 2, "data").is_ok());
//! let err = check_finite(&x, "data").unwrap_err();
//! assert!(matches!(err, GmmError::NonFinite { row: 0, col: 1, .. }));
//! assert_eq!(err.to_string(), "non-finite value NaN in data at row 0, column 1");
//! ```

use std::borrow::Cow;

use nalgebra::{DMatrix, Dim, Dyn, Matrix, RawStorage};
use thiserror::Error;

/// Everything that can go wrong in `gmm-core`, and the shared variants of the other crates'
/// errors. Library code never panics on user input: each check of a constructor or a parameter
/// maps to one variant here.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum GmmError {
    /// Two sizes that must agree do not (a matrix shape, a vector length, a number of blocks).
    #[error("shape mismatch in {what}: expected {expected}, got {got}")]
    Shape {
        /// What was being checked.
        what: &'static str,
        /// The size required.
        expected: usize,
        /// The size given.
        got: usize,
    },
    /// A count (components, dimension, samples, classes) below its minimum.
    #[error("{what}: need at least {min}, got {got}")]
    TooFew {
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
    /// A parameter outside its allowed range (checked before any work starts).
    #[error("{name} = {value} is out of range: expected {expected}")]
    OutOfRange {
        /// The parameter.
        name: &'static str,
        /// Its value (a count is given as a float).
        value: f64,
        /// What is allowed, written out (e.g. `"in [0, 1]"`, `"between 1 and d = 5"`).
        expected: Cow<'static, str>,
    },
    /// A matrix that must be positive definite (to be factorised or inverted) is not: it is
    /// singular, indefinite, or not a covariance.
    #[error("{what} is singular or not positive definite; {fix}")]
    Singular {
        /// Which matrix.
        what: &'static str,
        /// What to do about it.
        fix: &'static str,
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
    /// A quantity that is not unique (e.g. a principal subspace at an eigengap of rounding size),
    /// so any answer would be noise.
    #[error("{what} is not unique; {fix}")]
    NotUnique {
        /// Which quantity, and why.
        what: &'static str,
        /// What to do instead.
        fix: &'static str,
    },
    /// An unknown name (preset, method, form) where one of a fixed set is expected.
    #[error("unknown {what} {name:?}; known: {known}")]
    UnknownName {
        /// What kind of name.
        what: &'static str,
        /// The name given.
        name: String,
        /// The names known, comma separated.
        known: String,
    },
    /// A size or count above its budget ([`crate::budget`]): refused before anything is
    /// allocated or run.
    #[error("{what} needs {needed}, above the {resource} of {limit}; {fix}")]
    OverBudget {
        /// What was asked for.
        what: String,
        /// How much it needs, written out.
        needed: String,
        /// The budget, written out.
        limit: String,
        /// Which budget (`"memory budget"`, `"work bound"`).
        resource: &'static str,
        /// What to do about it.
        fix: &'static str,
    },
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, GmmError>;

impl GmmError {
    /// [`GmmError::OutOfRange`] for a parameter `name = value`; `expected` says what is allowed.
    pub fn out_of_range(name: &'static str, value: f64, expected: impl Into<Cow<'static, str>>) -> Self {
        Self::OutOfRange { name, value, expected: expected.into() }
    }

    /// [`GmmError::UnknownName`] listing the `known` names.
    pub fn unknown_name(what: &'static str, name: &str, known: &[&str]) -> Self {
        Self::UnknownName { what, name: name.to_string(), known: known.join(", ") }
    }
}

/// The value of `name` in a table of `(name, value)` pairs: the one parser behind the `FromStr`
/// implementations of the workspace's option types.
///
/// # Errors
/// [`GmmError::UnknownName`] listing the known names.
pub fn parse_name<T: Copy>(what: &'static str, name: &str, table: &[(&str, T)]) -> Result<T> {
    match table.iter().find(|(n, _)| *n == name) {
        Some(&(_, value)) => Ok(value),
        None => Err(GmmError::unknown_name(what, name, &table.iter().map(|(n, _)| *n).collect::<Vec<_>>())),
    }
}

/// Returns [`GmmError::NonFinite`] naming the first (column-major) non-finite entry of `m` (a
/// matrix or a vector, in any real scalar: `f64`, `f32`).
///
/// # Errors
/// A NaN or an infinity anywhere in `m`.
pub fn check_finite<T: nalgebra::RealField + Copy, C: Dim, S: RawStorage<T, Dyn, C>>(
    m: &Matrix<T, Dyn, C, S>,
    what: &'static str,
) -> Result<()> {
    let (rows, (row_stride, col_stride)) = (m.nrows(), m.strides());
    // SAFETY: with a row stride of 1, column j is `rows` consecutive values starting
    // `j * col_stride` values after the first, all inside the borrowed storage.
    let column = |j: usize| unsafe { std::slice::from_raw_parts(m.as_ptr().add(j * col_stride), rows) };
    if row_stride == 1 && (0..m.ncols()).all(|j| all_finite(column(j))) {
        return Ok(());
    }
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            let value = m[(i, j)];
            if !value.is_finite() {
                // f32 and f64 convert to f64 exactly (NaN for a scalar without an f64 value).
                let value = value.to_subset().unwrap_or(f64::NAN);
                return Err(GmmError::NonFinite { what, row: i, col: j, value });
            }
        }
    }
    Ok(())
}

/// Whether every value is finite, without a branch per value so that the loop vectorises:
/// `v * 0` is exactly (signed) 0 for a finite `v` and NaN for an infinite or NaN one, and a sum of zeros
/// stays 0. Any real scalar (`f64`, `f32`).
pub fn all_finite<T: nalgebra::RealField + Copy>(values: &[T]) -> bool {
    crate::linalg::lane_sum_by(values, |v| v * T::zero()) == T::zero()
}

/// Checks `x` for finiteness given sums of its entries (column or class sums, or means): a sum is
/// finite only if every entry in it is, so finite `sums` (covering every entry of `x`) prove
/// `x` finite without a second pass; otherwise the entry-by-entry scan names the first bad
/// entry. Finite data whose sums overflow passes (the callers' later checks see the overflow).
///
/// # Errors
/// [`GmmError::NonFinite`] naming `what` and the first non-finite entry of `x`.
pub fn check_finite_given_sums(sums: &[f64], x: &DMatrix<f64>, what: &'static str) -> Result<()> {
    if all_finite(sums) { Ok(()) } else { check_finite(x, what) }
}

/// Returns [`GmmError::Shape`] unless `m` is `rows x cols` (the row count is checked first).
///
/// # Errors
/// A matrix of another shape.
pub fn check_shape<T: nalgebra::Scalar>(m: &DMatrix<T>, rows: usize, cols: usize, what: &'static str) -> Result<()> {
    if m.nrows() != rows {
        return Err(GmmError::Shape { what, expected: rows, got: m.nrows() });
    }
    if m.ncols() != cols {
        return Err(GmmError::Shape { what, expected: cols, got: m.ncols() });
    }
    Ok(())
}

/// Returns [`GmmError::OutOfRange`] unless `value` is finite and `> 0`.
///
/// # Errors
/// Zero, a negative value, NaN or an infinity.
pub fn check_positive(value: f64, name: &'static str) -> Result<()> {
    if value > 0.0 && value.is_finite() {
        Ok(())
    } else {
        Err(GmmError::out_of_range(name, value, "positive and finite"))
    }
}

/// Returns [`GmmError::OutOfRange`] unless `value` is finite and `>= 0`.
///
/// # Errors
/// A negative value, NaN or an infinity.
pub fn check_non_negative(value: f64, name: &'static str) -> Result<()> {
    if value >= 0.0 && value.is_finite() { Ok(()) } else { Err(GmmError::out_of_range(name, value, ">= 0 and finite")) }
}

/// Returns [`GmmError::TooFew`] unless `got >= min`.
///
/// # Errors
/// A count below its minimum.
pub fn check_at_least(got: usize, min: usize, what: &'static str) -> Result<()> {
    if got >= min { Ok(()) } else { Err(GmmError::TooFew { what, min, got }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_name_the_problem() {
        let m = DMatrix::from_row_slice(2, 3, &[0.0, 1.0, 2.0, 3.0, f64::INFINITY, 5.0]);
        assert_eq!(check_shape(&m, 2, 4, "x"), Err(GmmError::Shape { what: "x", expected: 4, got: 3 }));
        assert_eq!(check_shape(&m, 3, 3, "x"), Err(GmmError::Shape { what: "x", expected: 3, got: 2 }));
        assert!(matches!(check_finite(&m, "x"), Err(GmmError::NonFinite { row: 1, col: 1, .. })));
        assert!(check_finite(&m.columns(0, 1), "first column").is_ok());
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(check_positive(bad, "lr"), Err(GmmError::OutOfRange { name: "lr", .. })));
        }
        assert!(check_non_negative(0.0, "ridge").is_ok());
        assert!(check_non_negative(-1e-300, "ridge").is_err());
        assert_eq!(check_at_least(1, 2, "classes"), Err(GmmError::TooFew { what: "classes", min: 2, got: 1 }));
        assert_eq!(
            GmmError::unknown_name("preset", "foo", &["a", "b"]).to_string(),
            "unknown preset \"foo\"; known: a, b"
        );
    }
}
