//! The native half of the Python package `ssl_gmm` (module `ssl_gmm._native`): thin pyo3
//! wrappers over gmm-core, ssl-losses, baselines and theory-checks. Arrays come in as NumPy
//! float64 (any order or strides: read through a strided view, copied once into the column-major
//! matrices of the crates) and go out as NumPy float64; rows are samples and a map's rows are its
//! directions, as in the crates. Every library error becomes `ValueError` (bad input) or
//! `RuntimeError` (a solver that did not converge or diverged) with the library's message. Long
//! calls release the GIL; the certified fits of `train` stop on Ctrl-C after any L-BFGS
//! iteration and `check_json` between claims, raising `KeyboardInterrupt`. The
//! Python-facing API, with docstrings and types, is `ssl_gmm/__init__.py` and `ssl_gmm/_native.pyi`.

mod augmentation;
mod bench;
mod checks;
mod convert;
mod errors;
mod estimators;
mod losses;
mod models;
mod training;
mod verdicts;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<models::PyGmm>()?;
    m.add_class::<models::PyClipGmm>()?;
    m.add_class::<training::TrainResult>()?;
    m.add_class::<augmentation::PyAugmentation>()?;
    for f in [
        wrap_pyfunction!(losses::infonce, m)?,
        wrap_pyfunction!(losses::simsiam, m)?,
        wrap_pyfunction!(losses::clip, m)?,
        wrap_pyfunction!(losses::spectral_contrastive, m)?,
        wrap_pyfunction!(losses::population_infonce, m)?,
        wrap_pyfunction!(training::train, m)?,
        wrap_pyfunction!(estimators::pca_fit, m)?,
        wrap_pyfunction!(estimators::lda_fit, m)?,
        wrap_pyfunction!(estimators::cca_pairs_fit, m)?,
        wrap_pyfunction!(estimators::kmeans_fit, m)?,
        wrap_pyfunction!(estimators::ari, m)?,
        wrap_pyfunction!(estimators::nmi, m)?,
        wrap_pyfunction!(estimators::clustering_accuracy, m)?,
        wrap_pyfunction!(estimators::principal_angles, m)?,
        wrap_pyfunction!(estimators::sin_theta_max, m)?,
        wrap_pyfunction!(checks::check_json, m)?,
        wrap_pyfunction!(checks::zoo_json, m)?,
        wrap_pyfunction!(verdicts::verdict_json, m)?,
        wrap_pyfunction!(errors::set_max_memory, m)?,
        wrap_pyfunction!(errors::max_memory, m)?,
    ] {
        m.add_function(f)?;
    }
    // Timing helpers live apart from the package's API.
    let bench = PyModule::new(m.py(), "_bench")?;
    bench.add_function(wrap_pyfunction!(bench::infonce_seconds, &bench)?)?;
    m.add_submodule(&bench)?;
    Ok(())
}
