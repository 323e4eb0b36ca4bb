//! The claims of docs/theory.md, run from Python.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use crate::errors::OrRaise;

/// Runs claims of docs/theory.md and returns each outcome as JSON text (one per claim).
#[pyfunction]
#[pyo3(signature = (claims = None, quick = true, seed = 20_241_105, skip = None))]
pub(crate) fn check_json(
    py: Python<'_>,
    claims: Option<Vec<String>>,
    quick: bool,
    seed: u64,
    skip: Option<Vec<String>>,
) -> PyResult<Vec<String>> {
    let budget = if quick { theory_checks::Budget::Quick } else { theory_checks::Budget::Full };
    let selected = theory_checks::select(claims.as_deref(), skip.as_deref()).or_raise()?;
    let mut out = Vec::with_capacity(selected.len());
    for claim in &selected {
        let outcome = py.detach(|| theory_checks::run(claim, budget, seed)).or_raise()?;
        out.push(serde_json::to_string(&outcome).map_err(|e| PyRuntimeError::new_err(e.to_string()))?);
        // Ctrl-C between claims.
        py.check_signals()?;
    }
    Ok(out)
}

/// Runs the loss zoo's table (`ssl-gmm zoo`) and returns each cell as JSON text.
#[pyfunction]
#[pyo3(signature = (losses = None, augmentations = None, cases = 12, seed = 20_241_105))]
pub(crate) fn zoo_json(
    py: Python<'_>,
    losses: Option<Vec<String>>,
    augmentations: Option<Vec<String>>,
    cases: usize,
    seed: u64,
) -> PyResult<Vec<String>> {
    let losses = losses.unwrap_or_else(|| verdict::ZOO_LOSSES.iter().map(|s| s.to_string()).collect());
    let views = match augmentations {
        None => verdict::View::ALL.to_vec(),
        Some(names) => names.iter().map(|n| n.parse::<verdict::View>()).collect::<Result<Vec<_>, _>>().or_raise()?,
    };
    let cells = py.detach(|| verdict::run_table(&losses, &views, cases, seed, |_| ())).or_raise()?;
    cells.iter().map(|c| serde_json::to_string(c).map_err(|e| PyRuntimeError::new_err(e.to_string()))).collect()
}
