//! The claims of docs/theory.md, run from Python.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use crate::errors::OrRaise;

/// Runs claims of docs/theory.md and returns each outcome as JSON text (one per claim).
#[pyfunction]
#[pyo3(signature = (claims = None, quick = true, seed = 20_241_105))]
pub(crate) fn check_json(py: Python<'_>, claims: Option<Vec<String>>, quick: bool, seed: u64) -> PyResult<Vec<String>> {
    let budget = if quick { theory_checks::Budget::Quick } else { theory_checks::Budget::Full };
    let selected = theory_checks::select(claims.as_deref()).or_raise()?;
    let mut out = Vec::with_capacity(selected.len());
    for claim in &selected {
        let outcome = py.detach(|| theory_checks::run(claim, budget, seed)).or_raise()?;
        out.push(serde_json::to_string(&outcome).map_err(|e| PyRuntimeError::new_err(e.to_string()))?);
        // Ctrl-C between claims.
        py.check_signals()?;
    }
    Ok(out)
}
