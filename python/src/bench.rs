//! Timing helpers for `python/benches/overhead.py`, in the private submodule `_native._bench`
//! (not part of the package's API).

use nalgebra::DMatrix;
use pyo3::prelude::*;
use ssl_losses::{Batch, LossError, Objective};

use crate::convert::matrix;
use crate::errors::OrRaise;

/// Seconds per call of the InfoNCE step repeated `reps` times inside Rust on one batch (the
/// batch copied once): the reference that `python/benches/overhead.py` compares a Python call with.
#[pyfunction]
#[pyo3(signature = (a, x, x_plus, reps))]
pub(crate) fn infonce_seconds(
    py: Python<'_>,
    a: &Bound<'_, PyAny>,
    x: &Bound<'_, PyAny>,
    x_plus: &Bound<'_, PyAny>,
    reps: usize,
) -> PyResult<f64> {
    let (a, x, x_plus) = (matrix(a, "a")?, matrix(x, "x")?, matrix(x_plus, "x_plus")?);
    py.detach(|| {
        let mut loss = ssl_losses::InfoNceLoss::<f64>::new(1.0, ssl_losses::Form::OneWay, ssl_losses::Score::Dot)?;
        let params = [a];
        let mut grads = vec![DMatrix::zeros(params[0].nrows(), params[0].ncols())];
        loss.value_grad(&params, Batch::new(&x, &x_plus)?, &mut grads)?;
        let start = std::time::Instant::now();
        for _ in 0..reps {
            loss.value_grad(&params, Batch::new(&x, &x_plus)?, &mut grads)?;
        }
        Ok::<_, LossError>(start.elapsed().as_secs_f64() / reps.max(1) as f64)
    })
    .or_raise()
}
