//! Library errors as the Python exceptions their kinds call for, and the memory budget (a
//! size above it raises `MemoryError` before anything is allocated).

use gmm_core::GmmError;
use pyo3::exceptions::{PyMemoryError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use ssl_losses::LossError;

/// Whether a core error is a solver's failure (RuntimeError) rather than bad input (ValueError).
fn is_runtime(e: &GmmError) -> bool {
    matches!(e, GmmError::NoConvergence { .. })
}

/// A library error as the Python exception its kind calls for.
trait ToPyErr {
    fn py_err(self) -> PyErr;
}

fn raise(runtime: bool, message: String) -> PyErr {
    if runtime { PyRuntimeError::new_err(message) } else { PyValueError::new_err(message) }
}

impl ToPyErr for GmmError {
    fn py_err(self) -> PyErr {
        if matches!(self, GmmError::OverBudget { resource: "memory budget", .. }) {
            // A size beyond the memory budget: Python's own exception for it, with the CLI's
            // message (a count beyond the work bound is a ValueError, as other bad parameters).
            return PyMemoryError::new_err(self.to_string());
        }
        raise(is_runtime(&self), self.to_string())
    }
}

impl ToPyErr for LossError {
    fn py_err(self) -> PyErr {
        match self {
            LossError::Core(e) => e.py_err(),
            LossError::WrongModel(why) => raise(false, why.to_string()),
            other => raise(true, other.to_string()),
        }
    }
}

impl ToPyErr for baselines::BaselineError {
    fn py_err(self) -> PyErr {
        match self {
            baselines::BaselineError::Core(e) => e.py_err(),
            other => raise(false, other.to_string()),
        }
    }
}

/// Checks that `dims` values of 8 bytes fit the process-wide memory budget (`MemoryError`
/// otherwise, before anything is allocated).
pub(crate) fn budget(what: &str, dims: &[usize]) -> PyResult<()> {
    gmm_core::budget::check_memory(what, dims).or_raise()
}

/// Sets the memory budget for the largest allocations, as the CLI's ``--max-memory``.
///
/// Parameters
/// ----------
/// bytes : int or None
///     The budget in bytes, at least 1 (None: half of the available memory, the default).
#[pyfunction]
#[pyo3(signature = (bytes = None))]
pub(crate) fn set_max_memory(bytes: Option<u64>) -> PyResult<()> {
    if bytes == Some(0) {
        return Err(PyValueError::new_err("set_max_memory: the budget must be at least 1 byte"));
    }
    gmm_core::budget::set_memory_budget(bytes);
    Ok(())
}

/// The memory budget in bytes.
#[pyfunction]
pub(crate) fn max_memory() -> u64 {
    gmm_core::budget::memory_budget()
}

impl ToPyErr for theory_checks::CheckError {
    fn py_err(self) -> PyErr {
        match self {
            theory_checks::CheckError::Core(e) => e.py_err(),
            theory_checks::CheckError::Loss(e) => e.py_err(),
            theory_checks::CheckError::Baseline(e) => e.py_err(),
            other => PyValueError::new_err(other.to_string()),
        }
    }
}

/// `Result` of the library as a `PyResult`.
pub(crate) trait OrRaise<T> {
    fn or_raise(self) -> PyResult<T>;
}

impl<T, E: ToPyErr> OrRaise<T> for Result<T, E> {
    fn or_raise(self) -> PyResult<T> {
        self.map_err(ToPyErr::py_err)
    }
}
