//! The native half of the Python package `ssl_gmm` (module `ssl_gmm._native`): thin pyo3
//! wrappers over gmm-core, ssl-losses, baselines and theory-checks. Arrays come in as NumPy
//! float64 (any order or strides: read through a strided view, copied once into the column-major
//! matrices of the crates) and go out as NumPy float64; rows are samples and a map's rows are its
//! directions, as in the crates. Every library error becomes `ValueError` (bad input) or
//! `RuntimeError` (a solver that did not converge or diverged) with the library's message. Long
//! calls release the GIL; the certified fits of `train` stop on Ctrl-C after any L-BFGS
//! iteration and `check_json` between claims, raising `KeyboardInterrupt`. The
//! Python-facing API, with docstrings and types, is `ssl_gmm/__init__.py` and `ssl_gmm/_native.pyi`.

use std::ops::ControlFlow;

use gmm_core::{ClipGmm, Fit, Gmm, GmmError, LinearMap, Model, Side, Subspace, seeded};
use nalgebra::DMatrix;
use numpy::{PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods, ToPyArray};
use pyo3::exceptions::{PyMemoryError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use ssl_losses::{Batch, LossError, Objective};

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
fn budget(what: &str, dims: &[usize]) -> PyResult<()> {
    gmm_core::budget::check_memory(what, dims).or_raise()
}

/// Sets the memory budget for the largest allocations, in bytes (`None`: half of the available
/// memory, the default), as the CLI's `--max-memory`.
#[pyfunction]
#[pyo3(signature = (bytes = None))]
fn set_max_memory(bytes: Option<u64>) -> PyResult<()> {
    if bytes == Some(0) {
        return Err(PyValueError::new_err("set_max_memory: the budget must be at least 1 byte"));
    }
    gmm_core::budget::set_memory_budget(bytes);
    Ok(())
}

/// The memory budget in bytes.
#[pyfunction]
fn max_memory() -> u64 {
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
trait OrRaise<T> {
    fn or_raise(self) -> PyResult<T>;
}

impl<T, E: ToPyErr> OrRaise<T> for Result<T, E> {
    fn or_raise(self) -> PyResult<T> {
        self.map_err(ToPyErr::py_err)
    }
}

/// The one intake of 2-d arrays from Python: a float64 NumPy array, typed, or `TypeError`.
fn array_2d<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<PyReadonlyArray2<'py, f64>> {
    obj.extract().map_err(|_| {
        let got = describe(obj);
        PyTypeError::new_err(format!("{what}: expected a 2-d NumPy array of float64, got {got}"))
    })
}

/// Copies a float64 array of any layout into `buf` (resized if needed): C- or Fortran-contiguous
/// data by [`fill`], every other layout (zero strides from `np.broadcast_to`, negative strides
/// from `[::-1]`, any step) element by element through ndarray's view, which indexes by the
/// array's real strides. No nalgebra view is ever built over NumPy memory: a nalgebra strided
/// view cannot represent zero or negative strides, and reading one through it reads outside the
/// array (dimforge/nalgebra#1616).
fn read_into(array: &PyReadonlyArray2<'_, f64>, buf: &mut DMatrix<f64>) {
    if let Some(src) = contiguous(array) {
        fill(src, buf);
        return;
    }
    let view = array.as_array();
    let (n, d) = view.dim();
    if buf.shape() != (n, d) {
        *buf = DMatrix::zeros(n, d);
    }
    // Column by column, so that the column-major destination is written in order.
    for (j, col) in buf.column_iter_mut().enumerate() {
        for (o, v) in col.into_iter().zip(view.column(j)) {
            *o = *v;
        }
    }
}

/// A 2-d float64 NumPy array (any order and strides) as a column-major matrix (one copy).
fn matrix(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<DMatrix<f64>> {
    let mut buf = DMatrix::zeros(0, 0);
    read_into(&array_2d(obj, what)?, &mut buf);
    Ok(buf)
}

/// `out` (column-major `n x d`) from `rows` (row-major `n x d`), by blocks of 32 rows (at most
/// 32 KiB of the source at d = 128, which stays in the L1 cache while it is read) and, within a
/// block, four columns at a time: each pass reads four adjacent values of every row of the block
/// and writes them down four columns. Without the row blocks the source's cache lines fell out of
/// cache between passes and the copy cost a fifth of an InfoNCE step at n = 1024, d = 128.
fn transpose_rows_into(rows: &[f64], n: usize, d: usize, out: &mut [f64]) {
    const ROWS: usize = 32;
    for i0 in (0..n).step_by(ROWS) {
        let h = ROWS.min(n - i0);
        let block = &rows[i0 * d..(i0 + h) * d];
        for (jb, cols) in out.chunks_mut(4 * n).enumerate() {
            let j0 = 4 * jb;
            if cols.len() == 4 * n {
                let (c0, rest) = cols.split_at_mut(n);
                let (c1, rest) = rest.split_at_mut(n);
                let (c2, c3) = rest.split_at_mut(n);
                let dst = c0[i0..i0 + h]
                    .iter_mut()
                    .zip(&mut c1[i0..i0 + h])
                    .zip(&mut c2[i0..i0 + h])
                    .zip(&mut c3[i0..i0 + h]);
                for (row, (((a, b), c), e)) in block.chunks_exact(d).zip(dst) {
                    let r = &row[j0..j0 + 4];
                    (*a, *b, *c, *e) = (r[0], r[1], r[2], r[3]);
                }
            } else {
                for (k, col) in cols.chunks_exact_mut(n).enumerate() {
                    for (o, row) in col[i0..i0 + h].iter_mut().zip(block.chunks_exact(d)) {
                        *o = row[j0 + k];
                    }
                }
            }
        }
    }
}

/// A contiguous float64 array's data: `(values, n, d, rows_contiguous)`.
type Contiguous<'a> = (&'a [f64], usize, usize, bool);

/// The data of a C- or Fortran-contiguous array, `None` for other layouts. NumPy's contiguity
/// flags ignore the strides of axes of length 0 or 1 only, so a flagged array's `n * d` values
/// are exactly its elements, in C order when `rows_contiguous`.
fn contiguous<'a>(array: &'a PyReadonlyArray2<'_, f64>) -> Option<Contiguous<'a>> {
    let data = array.as_slice().ok()?;
    let (n, d) = array.as_array().dim();
    Some((data, n, d, array.is_c_contiguous()))
}

/// `buf` (resized if needed) from contiguous data: C order transposed, Fortran order copied.
fn fill((data, n, d, c_order): Contiguous<'_>, buf: &mut DMatrix<f64>) {
    if buf.shape() != (n, d) {
        *buf = DMatrix::zeros(n, d);
    }
    if c_order {
        transpose_rows_into(data, n, d, buf.as_mut_slice());
    } else {
        buf.as_mut_slice().copy_from_slice(data);
    }
}

/// Copies a 2-d float64 NumPy array into `buf`, reusing its storage when the shape is unchanged.
fn copy_into(obj: &Bound<'_, PyAny>, what: &str, buf: &mut DMatrix<f64>) -> PyResult<()> {
    read_into(&array_2d(obj, what)?, buf);
    Ok(())
}

/// Both sides of a batch into `(left, right)`. Contiguous arrays are copied on the rayon pool, one
/// side per worker, with the GIL held (so no Python thread writes to them meanwhile): on the
/// calling thread the copies competed for the cores with the pool's workers, which spin for a
/// while after each step, and cost a fifth of an InfoNCE step at n = 1024, d = 128.
fn copy_pair(
    (x, y): (&Bound<'_, PyAny>, &Bound<'_, PyAny>),
    names: (&str, &str),
    (left, right): (&mut DMatrix<f64>, &mut DMatrix<f64>),
) -> PyResult<()> {
    let (ax, ay) = (x.extract::<PyReadonlyArray2<'_, f64>>(), y.extract::<PyReadonlyArray2<'_, f64>>());
    if let (Ok(ax), Ok(ay)) = (&ax, &ay)
        && let (Some(sx), Some(sy)) = (contiguous(ax), contiguous(ay))
    {
        // Small batches on the calling thread: a hand-off to the pool costs more than the copy.
        if sx.0.len() + sy.0.len() >= 1 << 15 {
            rayon::join(|| fill(sx, left), || fill(sy, right));
        } else {
            fill(sx, left);
            fill(sy, right);
        }
        return Ok(());
    }
    copy_into(x, names.0, left)?;
    copy_into(y, names.1, right)
}

/// A 1-d float64 NumPy array as a vector.
fn vector(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<f64>> {
    let array: PyReadonlyArray1<'_, f64> = obj.extract().map_err(|_| {
        let got = describe(obj);
        PyTypeError::new_err(format!("{what}: expected a 1-d NumPy array of float64, got {got}"))
    })?;
    Ok(array.as_array().to_vec())
}

/// Class labels: a 1-d NumPy integer array or a sequence of non-negative integers.
fn labels(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<usize>> {
    if let Ok(array) = obj.extract::<PyReadonlyArray1<'_, i64>>() {
        return array
            .as_array()
            .iter()
            .map(|&v| {
                usize::try_from(v).map_err(|_| {
                    PyValueError::new_err(format!("{what}: labels must be non-negative integers, got {v}"))
                })
            })
            .collect();
    }
    obj.extract::<Vec<usize>>().map_err(|_| {
        let got = describe(obj);
        PyTypeError::new_err(format!("{what}: expected non-negative integer labels (a 1-d int64 array), got {got}"))
    })
}

/// `type(obj)` and, for arrays, the dtype and shape: for error messages.
fn describe(obj: &Bound<'_, PyAny>) -> String {
    let kind = obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into());
    match (obj.getattr("dtype"), obj.getattr("shape")) {
        (Ok(dtype), Ok(shape)) => format!("{kind} of dtype {dtype} and shape {shape}"),
        _ => kind,
    }
}

fn array2<'py>(py: Python<'py>, m: &DMatrix<f64>) -> Bound<'py, PyArray2<f64>> {
    m.to_pyarray(py)
}

fn array1<'py>(py: Python<'py>, v: Vec<f64>) -> Bound<'py, PyArray1<f64>> {
    PyArray1::from_vec(py, v)
}

fn label_array<'py>(py: Python<'py>, z: &[usize]) -> Bound<'py, PyArray1<i64>> {
    PyArray1::from_vec(py, z.iter().map(|&v| v as i64).collect())
}

/// A subspace as a matrix whose orthonormal rows span it.
fn rows_of(s: &Subspace) -> DMatrix<f64> {
    s.basis().transpose()
}

/// The row space of `a` (rows span it), rank by the default tolerance.
fn row_space(a: &DMatrix<f64>) -> PyResult<Subspace> {
    LinearMap::new(a.clone()).row_space().or_raise()
}

fn parse<T: std::str::FromStr<Err = GmmError>>(s: &str) -> PyResult<T> {
    s.parse::<T>().or_raise()
}

/// A model from its JSON text (the format of the CLI's `--config` files), validated.
fn from_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> PyResult<T> {
    serde_json::from_str(text).map_err(|e| PyValueError::new_err(format!("invalid {what}: {e}")))
}

/// A model as JSON text (floats round-trip exactly).
fn to_json<T: serde::Serialize>(value: &T) -> PyResult<String> {
    serde_json::to_string(value).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// A shared-covariance Gaussian mixture (see `ssl_gmm.Gmm`).
#[pyclass(name = "Gmm", module = "ssl_gmm", frozen)]
#[derive(Clone)]
struct PyGmm {
    inner: Gmm,
}

#[pymethods]
impl PyGmm {
    #[new]
    fn new(weights: &Bound<'_, PyAny>, means: &Bound<'_, PyAny>, covariance: &Bound<'_, PyAny>) -> PyResult<Self> {
        let w = vector(weights, "weights")?;
        let inner = Gmm::new(&w, matrix(means, "means")?, matrix(covariance, "covariance")?).or_raise()?;
        Ok(Self { inner })
    }

    /// A built-in model by name: a `Gmm`, or a `ClipGmm` for the CLIP presets.
    #[staticmethod]
    fn preset(py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        match gmm_core::preset(name).or_raise()? {
            Model::Gmm(inner) => Ok(Py::new(py, Self { inner })?.into_any()),
            Model::Clip(inner) => Ok(Py::new(py, PyClipGmm { inner: *inner })?.into_any()),
        }
    }

    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        Ok(Self { inner: from_json(text, "mixture")? })
    }

    fn to_json(&self) -> PyResult<String> {
        to_json(&self.inner)
    }

    #[getter]
    fn k(&self) -> usize {
        self.inner.k()
    }

    #[getter]
    fn dim(&self) -> usize {
        self.inner.dim()
    }

    #[getter]
    fn weights<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        array1(py, self.inner.weights().iter().copied().collect())
    }

    #[getter]
    fn means<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        array2(py, self.inner.means())
    }

    #[getter]
    fn covariance<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        array2(py, self.inner.covariance())
    }

    fn fisher_subspace<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        Ok(array2(py, &rows_of(&self.inner.fisher_subspace().or_raise()?)))
    }

    fn pca_subspace<'py>(&self, py: Python<'py>, r: usize) -> PyResult<Bound<'py, PyArray2<f64>>> {
        Ok(array2(py, &rows_of(&self.inner.pca_subspace(r).or_raise()?)))
    }

    fn posterior<'py>(&self, py: Python<'py>, x: &Bound<'_, PyAny>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let x = matrix(x, "x")?;
        let p = py.detach(|| self.inner.posterior(&x)).or_raise()?;
        Ok(array2(py, &p))
    }

    #[pyo3(signature = (n, seed = 0))]
    fn sample<'py>(&self, py: Python<'py>, n: usize, seed: u64) -> PyResult<Bound<'py, PyDict>> {
        budget(&format!("sample({n})"), &[n, self.inner.dim() + 1, 2])?;
        let s = py.detach(|| self.inner.sample(n, &mut seeded(seed)));
        let d = PyDict::new(py);
        d.set_item("x", array2(py, &s.x))?;
        d.set_item("z", label_array(py, &s.z))?;
        Ok(d)
    }

    #[pyo3(signature = (n, delta, seed = 0))]
    fn sample_pairs<'py>(&self, py: Python<'py>, n: usize, delta: f64, seed: u64) -> PyResult<Bound<'py, PyDict>> {
        budget(&format!("sample_pairs({n})"), &[n, 2 * self.inner.dim() + 2, 2])?;
        let p = py.detach(|| self.inner.sample_pairs(n, delta, &mut seeded(seed))).or_raise()?;
        let d = PyDict::new(py);
        d.set_item("x", array2(py, &p.x))?;
        d.set_item("x_plus", array2(py, &p.x_plus))?;
        d.set_item("z", label_array(py, &p.z))?;
        d.set_item("z_plus", label_array(py, &p.z_plus))?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!("Gmm(k={}, dim={})", self.inner.k(), self.inner.dim())
    }
}

/// A two-modality CLIP-GMM (see `ssl_gmm.ClipGmm`).
#[pyclass(name = "ClipGmm", module = "ssl_gmm", frozen)]
#[derive(Clone)]
struct PyClipGmm {
    inner: ClipGmm,
}

fn side(name: &str) -> PyResult<Side> {
    match name {
        "x" => Ok(Side::X),
        "y" => Ok(Side::Y),
        other => Err(PyValueError::new_err(format!("side must be 'x' or 'y', got '{other}'"))),
    }
}

#[pymethods]
impl PyClipGmm {
    /// A built-in two-modality model by name (e.g. "clip").
    #[staticmethod]
    fn preset(name: &str) -> PyResult<Self> {
        match gmm_core::preset(name).or_raise()? {
            Model::Clip(inner) => Ok(Self { inner: *inner }),
            Model::Gmm(_) => Err(PyValueError::new_err(format!(
                "preset '{name}' is a one-modality mixture: use Gmm.preset (CLIP presets: clip)"
            ))),
        }
    }

    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        Ok(Self { inner: from_json(text, "CLIP-GMM")? })
    }

    fn to_json(&self) -> PyResult<String> {
        to_json(&self.inner)
    }

    #[getter]
    fn k(&self) -> usize {
        self.inner.weights().len()
    }

    #[getter]
    fn dims(&self) -> (usize, usize) {
        (self.inner.modality(Side::X).dim(), self.inner.modality(Side::Y).dim())
    }

    /// The shared Fisher subspace of one modality (`side` "x" or "y").
    fn fisher_subspace<'py>(&self, py: Python<'py>, side_name: &str) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let g = self.inner.shared_gmm(side(side_name)?).or_raise()?;
        Ok(array2(py, &rows_of(&g.fisher_subspace().or_raise()?)))
    }

    #[pyo3(signature = (n, seed = 0))]
    fn sample_pairs<'py>(&self, py: Python<'py>, n: usize, seed: u64) -> PyResult<Bound<'py, PyDict>> {
        let (dx, dy) = self.dims();
        budget(&format!("sample_pairs({n})"), &[n, dx + dy + 3, 2])?;
        let p = py.detach(|| self.inner.sample_pairs(n, &mut seeded(seed))).or_raise()?;
        let d = PyDict::new(py);
        d.set_item("x", array2(py, &p.x))?;
        d.set_item("y", array2(py, &p.y))?;
        d.set_item("z", label_array(py, &p.z))?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        let (dx, dy) = self.dims();
        format!("ClipGmm(k={}, dims=({dx}, {dy}))", self.k())
    }
}

/// The per-thread workspace of the loss functions: the last loss built (with its buffers, sized
/// by the last batch) and the last batch's copies, so that repeated calls with one setting and
/// one size allocate nothing new. It holds no state a result depends on.
struct Workspace {
    key: String,
    objective: Option<Box<dyn Objective + Send>>,
    left: DMatrix<f64>,
    right: DMatrix<f64>,
}

thread_local! {
    static WORKSPACE: std::cell::RefCell<Workspace> = std::cell::RefCell::new(Workspace {
        key: String::new(),
        objective: None,
        left: DMatrix::zeros(0, 0),
        right: DMatrix::zeros(0, 0),
    });
}

/// Loss and gradients at `params` on the batch `(left, right)` of the objective described by
/// `key` (built by `make` unless it is the last one used on this thread), without the GIL.
fn value_grad(
    py: Python<'_>,
    key: String,
    make: impl FnOnce() -> PyResult<Box<dyn Objective + Send>>,
    params: &[DMatrix<f64>],
    (left, right): (&Bound<'_, PyAny>, &Bound<'_, PyAny>),
    names: (&str, &str),
) -> PyResult<(f64, Vec<DMatrix<f64>>)> {
    WORKSPACE.with_borrow_mut(|ws| {
        if ws.objective.is_none() || ws.key != key {
            ws.objective = Some(make()?);
            ws.key = key;
        }
        copy_pair((left, right), names, (&mut ws.left, &mut ws.right))?;
        let Workspace { objective: Some(objective), left, right, .. } = ws else { unreachable!("set above") };
        py.detach(|| {
            let mut grads: Vec<DMatrix<f64>> = params.iter().map(|p| DMatrix::zeros(p.nrows(), p.ncols())).collect();
            let loss = objective.value_grad(params, Batch::new(left, right)?, &mut grads)?;
            Ok::<_, LossError>((loss, grads))
        })
        .or_raise()
    })
}

#[pyfunction]
#[pyo3(signature = (a, x, x_plus, tau = 1.0, form = "one-way", score = "dot"))]
fn infonce<'py>(
    py: Python<'py>,
    a: &Bound<'_, PyAny>,
    x: &Bound<'_, PyAny>,
    x_plus: &Bound<'_, PyAny>,
    tau: f64,
    form: &str,
    score: &str,
) -> PyResult<(f64, Bound<'py, PyArray2<f64>>)> {
    let (form, score): (ssl_losses::Form, ssl_losses::Score) = (parse(form)?, parse(score)?);
    let make = || Ok(Box::new(ssl_losses::InfoNceLoss::<f64>::new(tau, form, score).or_raise()?) as Box<_>);
    let key = format!("infonce {tau:e} {form:?} {score:?}");
    let params = [matrix(a, "a")?];
    let (value, grads) = value_grad(py, key, make, &params, (x, x_plus), ("x", "x_plus"))?;
    Ok((value, array2(py, &grads[0])))
}

/// Seconds per call of the InfoNCE step repeated `reps` times inside Rust on one batch (the
/// batch copied once): the reference that `python/benches/overhead.py` compares a Python call with.
#[pyfunction]
#[pyo3(signature = (a, x, x_plus, reps))]
fn _bench_infonce(
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

/// A loss and the gradients of its two parameter blocks.
type TwoGrads<'py> = (f64, Bound<'py, PyArray2<f64>>, Bound<'py, PyArray2<f64>>);

#[pyfunction]
#[pyo3(signature = (a, w, x, x_plus, form = "mse", directions = "symmetric"))]
fn simsiam<'py>(
    py: Python<'py>,
    a: &Bound<'_, PyAny>,
    w: &Bound<'_, PyAny>,
    x: &Bound<'_, PyAny>,
    x_plus: &Bound<'_, PyAny>,
    form: &str,
    directions: &str,
) -> PyResult<TwoGrads<'py>> {
    let (form, dirs): (ssl_losses::SimSiamForm, ssl_losses::Directions) = (parse(form)?, parse(directions)?);
    let make = || Ok(Box::new(ssl_losses::SimSiamLoss::<f64>::new(form, dirs)) as Box<_>);
    let key = format!("simsiam {form:?} {dirs:?}");
    let params = [matrix(a, "a")?, matrix(w, "w")?];
    let (value, grads) = value_grad(py, key, make, &params, (x, x_plus), ("x", "x_plus"))?;
    Ok((value, array2(py, &grads[0]), array2(py, &grads[1])))
}

#[pyfunction]
#[pyo3(signature = (a, b, x, y, tau = 1.0, score = "dot"))]
fn clip<'py>(
    py: Python<'py>,
    a: &Bound<'_, PyAny>,
    b: &Bound<'_, PyAny>,
    x: &Bound<'_, PyAny>,
    y: &Bound<'_, PyAny>,
    tau: f64,
    score: &str,
) -> PyResult<TwoGrads<'py>> {
    let score: ssl_losses::Score = parse(score)?;
    let make = || Ok(Box::new(ssl_losses::ClipLoss::<f64>::new(tau, score).or_raise()?) as Box<_>);
    let key = format!("clip {tau:e} {score:?}");
    let params = [matrix(a, "a")?, matrix(b, "b")?];
    let (value, grads) = value_grad(py, key, make, &params, (x, y), ("x", "y"))?;
    Ok((value, array2(py, &grads[0]), array2(py, &grads[1])))
}

/// The population InfoNCE loss and gradient at `a`, its outer expectation over `n_outer` anchors.
#[pyfunction]
#[pyo3(signature = (gmm, a, delta = 1.0, tau = 1.0, n_outer = 4096, seed = 0))]
fn population_infonce<'py>(
    py: Python<'py>,
    gmm: &PyGmm,
    a: &Bound<'_, PyAny>,
    delta: f64,
    tau: f64,
    n_outer: usize,
    seed: u64,
) -> PyResult<(f64, Bound<'py, PyArray2<f64>>)> {
    let a = matrix(a, "a")?;
    gmm_core::check_at_least(n_outer, 1, "population_infonce n_outer").or_raise()?;
    budget(&format!("population_infonce(n_outer={n_outer})"), &[n_outer, gmm.inner.dim(), 2])?;
    let (value, grad) = py
        .detach(|| {
            let population = ssl_losses::PopulationInfoNce::new(&gmm.inner, delta, tau)?;
            let anchors = gmm.inner.sample(n_outer, &mut seeded(seed)).x;
            population.value_grad_at(&a, &anchors)
        })
        .or_raise()?;
    Ok((value, array2(py, &grad)))
}

/// The result of `train`: the learned map(s), the loss curve and the convergence certificate.
#[pyclass(name = "TrainResult", module = "ssl_gmm", frozen, get_all)]
struct TrainResult {
    /// The learned map, `r x d` (rows are directions), in the input coordinates.
    components: Py<PyArray2<f64>>,
    /// CLIP: the map of modality y (`None` otherwise).
    components_y: Option<Py<PyArray2<f64>>>,
    /// The loss at the start and after every solver iteration.
    loss_curve: Py<PyArray1<f64>>,
    /// Whether the convergence certificate holds.
    converged: bool,
    /// The gradient norm at the returned point, and relative to its start.
    grad_norm: f64,
    relative_grad_norm: f64,
    /// Solver iterations.
    iterations: usize,
    /// How the run ended: `grad-tol`, `budget-spent`, `no-decrease`, `stationary-start` (the
    /// gradient is zero at the start: nothing is certified), `no-minimiser` or `interrupted`.
    stop: &'static str,
    /// The final (deterministic) loss.
    loss: f64,
    /// Every setting of the run.
    hyperparameters: Py<PyDict>,
}

#[pymethods]
impl TrainResult {
    fn __repr__(&self) -> String {
        format!(
            "TrainResult(converged={}, iterations={}, stop='{}', loss={:.6}, relative_grad_norm={:.2e})",
            if self.converged { "True" } else { "False" },
            self.iterations,
            self.stop,
            self.loss,
            self.relative_grad_norm
        )
    }
}

/// What `train` trains on: a mixture or CLIP-GMM to sample from, or given pairs.
enum TrainData {
    Gmm(Gmm),
    Clip(Box<ClipGmm>),
    Pairs(DMatrix<f64>, DMatrix<f64>),
}

fn train_data(data: &Bound<'_, PyAny>) -> PyResult<TrainData> {
    if let Ok(g) = data.cast::<PyGmm>() {
        return Ok(TrainData::Gmm(g.get().inner.clone()));
    }
    if let Ok(c) = data.cast::<PyClipGmm>() {
        return Ok(TrainData::Clip(Box::new(c.get().inner.clone())));
    }
    if let Ok((x, y)) = data.extract::<(Bound<'_, PyAny>, Bound<'_, PyAny>)>() {
        return Ok(TrainData::Pairs(matrix(&x, "pairs[0]")?, matrix(&y, "pairs[1]")?));
    }
    Err(PyTypeError::new_err("train: expected a Gmm, a ClipGmm, or a pair (x, x_plus) / (x, y) of 2-d float64 arrays"))
}

/// Runs an L-BFGS fit without the GIL, looking for Ctrl-C after every iteration: an interrupt
/// stops the solver at its last iterate and raises `KeyboardInterrupt`.
fn interruptible<T: Send>(
    py: Python<'_>,
    run: impl FnOnce(&mut dyn ssl_losses::Observer) -> Result<T, LossError> + Send,
) -> PyResult<T> {
    let mut interrupt: Option<PyErr> = None;
    let out = py.detach(|| {
        run(&mut |_: &ssl_losses::Progress, _: &[DMatrix<f64>]| match Python::attach(|py| py.check_signals()) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                interrupt = Some(e);
                ControlFlow::Break(())
            }
        })
    });
    match interrupt {
        Some(e) => Err(e),
        None => out.or_raise(),
    }
}

/// The result of an L-BFGS fit from its map(s) and the record of its run.
fn train_result(
    py: Python<'_>,
    components: Py<PyArray2<f64>>,
    components_y: Option<Py<PyArray2<f64>>>,
    run: ssl_losses::Run,
    hyper: Bound<'_, PyDict>,
) -> PyResult<TrainResult> {
    let c =
        run.certificate.ok_or_else(|| PyRuntimeError::new_err("an L-BFGS fit came back without its certificate"))?;
    Ok(TrainResult {
        components,
        components_y,
        converged: run.converged(),
        grad_norm: c.grad_norm,
        relative_grad_norm: c.relative,
        iterations: run.iterations,
        stop: run.ending.name(),
        loss: run.loss(),
        loss_curve: array1(py, run.losses).unbind(),
        hyperparameters: hyper.unbind(),
    })
}

/// Trains a loss to its convergence certificate (L-BFGS on a fixed sample of pairs).
#[pyfunction]
#[pyo3(signature = (data, method = "infonce", dim = None, delta = 1.0, samples = 8192, batch = 256, tau = 1.0,
    form = "one-way", score = "dot", center = true, whiten = true, tol = 1e-5, max_iters = 1000, seed = 0))]
#[allow(clippy::too_many_arguments)]
fn train(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    method: &str,
    dim: Option<usize>,
    delta: f64,
    samples: usize,
    batch: usize,
    tau: f64,
    form: &str,
    score: &str,
    center: bool,
    whiten: bool,
    tol: f64,
    max_iters: usize,
    seed: u64,
) -> PyResult<TrainResult> {
    use ssl_losses::{Centering, Clip, InfoNce, Lbfgs, Whitening};
    let data = train_data(data)?;
    let (form, score): (ssl_losses::Form, ssl_losses::Score) = (parse(form)?, parse(score)?);
    let solver = Lbfgs { grad_rtol: tol, max_iters, ..Lbfgs::default() };
    let centering = if center { Centering::SampleMean } else { Centering::None };
    let whitening = if whiten { Whitening::SampleCovariance } else { Whitening::None };
    let hyper = PyDict::new(py);
    for (key, value) in [("method", method.to_string()), ("form", format!("{form:?}")), ("score", format!("{score:?}"))]
    {
        hyper.set_item(key, value)?;
    }
    for (key, value) in [("delta", delta), ("tau", tau), ("tol", tol)] {
        hyper.set_item(key, value)?;
    }
    for (key, value) in [("samples", samples), ("batch", batch), ("max_iters", max_iters)] {
        hyper.set_item(key, value)?;
    }
    hyper.set_item("seed", seed)?;
    hyper.set_item("center", center)?;
    hyper.set_item("whiten", whiten)?;
    let pairs_seed = seed.wrapping_add(1);
    gmm_core::budget::check_work("train max_iters", max_iters as u64, gmm_core::budget::MAX_STEPS).or_raise()?;
    let width = match &data {
        TrainData::Gmm(g) => 2 * g.dim(),
        TrainData::Clip(c) => c.modality(Side::X).dim() + c.modality(Side::Y).dim(),
        TrainData::Pairs(x, y) => x.ncols() + y.ncols(),
    };
    if !matches!(data, TrainData::Pairs(..)) {
        // The pairs, their preconditioned copies and the solver's buffers.
        budget(&format!("train(samples={samples})"), &[samples, width, 4])?;
    }
    match (method, data) {
        ("infonce", TrainData::Clip(_)) | ("clip", TrainData::Gmm(_)) => Err(PyValueError::new_err(
            "train: method 'infonce' takes a Gmm or pairs; method 'clip' takes a ClipGmm or pairs (x, y)",
        )),
        ("infonce", data) => {
            let (x, x_plus, default_dim) = match data {
                TrainData::Gmm(g) => {
                    let p = py.detach(|| g.sample_pairs(samples, delta, &mut seeded(pairs_seed))).or_raise()?;
                    (p.x, p.x_plus, g.k().saturating_sub(1).max(1))
                }
                TrainData::Pairs(x, y) => (x, y, 1),
                TrainData::Clip(_) => unreachable!("rejected above"),
            };
            let r = dim.unwrap_or(default_dim);
            hyper.set_item("dim", r)?;
            let fit = InfoNce::new(r)
                .tau(tau)
                .form(form)
                .score(score)
                .batch(batch)
                .centering(centering)
                .whitening(whitening)
                .solver(solver)
                .seed(seed);
            let fitted = interruptible(py, |observer| fit.fit_with((&x, &x_plus), observer))?;
            train_result(py, array2(py, fitted.map.components()).unbind(), None, fitted.run, hyper)
        }
        ("clip", data) => {
            let (x, y, default_dim) = match data {
                TrainData::Clip(c) => {
                    let p = py.detach(|| c.sample_pairs(samples, &mut seeded(pairs_seed))).or_raise()?;
                    (p.x, p.y, c.weights().len().saturating_sub(1).max(1))
                }
                TrainData::Pairs(x, y) => (x, y, 1),
                TrainData::Gmm(_) => unreachable!("rejected above"),
            };
            let r = dim.unwrap_or(default_dim);
            hyper.set_item("dim", r)?;
            let fit = Clip::new(r).tau(tau).batch(batch).solver(solver).seed(seed);
            let fitted = interruptible(py, |observer| fit.fit_with((&x, &y), observer))?;
            let y = Some(array2(py, fitted.map_y.components()).unbind());
            train_result(py, array2(py, fitted.map_x.components()).unbind(), y, fitted.run, hyper)
        }
        (other, _) => Err(PyValueError::new_err(format!("train: unknown method '{other}' (infonce or clip)"))),
    }
}

/// A fitted linear map as a dict: `components` (rows), `mean`, and the named extras.
fn map_dict<'py>(py: Python<'py>, map: &LinearMap) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("components", array2(py, map.components()))?;
    d.set_item("mean", array1(py, map.mean().iter().copied().collect()))?;
    Ok(d)
}

#[pyfunction]
#[pyo3(signature = (x, n_components))]
fn pca_fit<'py>(py: Python<'py>, x: &Bound<'_, PyAny>, n_components: usize) -> PyResult<Bound<'py, PyDict>> {
    let x = matrix(x, "X")?;
    let fit = py.detach(|| baselines::Pca::new(n_components).fit(&x)).or_raise()?;
    let d = map_dict(py, &fit.map)?;
    d.set_item("explained_variance", array1(py, fit.explained_variance))?;
    d.set_item("explained_variance_ratio", array1(py, fit.explained_variance_ratio))?;
    Ok(d)
}

#[pyfunction]
#[pyo3(signature = (x, y, n_components = None))]
fn lda_fit<'py>(
    py: Python<'py>,
    x: &Bound<'_, PyAny>,
    y: &Bound<'_, PyAny>,
    n_components: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let (x, y) = (matrix(x, "X")?, labels(y, "y")?);
    let mut lda = baselines::Lda::new();
    if let Some(r) = n_components {
        lda = lda.n_components(r);
    }
    let fit = py.detach(|| lda.fit((&x, &y))).or_raise()?;
    let d = map_dict(py, &fit.map)?;
    d.set_item("eigenvalues", array1(py, fit.eigenvalues))?;
    d.set_item("explained_variance_ratio", array1(py, fit.explained_variance_ratio))?;
    d.set_item("class_means", array2(py, &fit.class_means))?;
    d.set_item("priors", array1(py, fit.priors))?;
    Ok(d)
}

#[pyfunction]
#[pyo3(signature = (x, x_plus, n_components, ridge = 0.0))]
fn cca_pairs_fit<'py>(
    py: Python<'py>,
    x: &Bound<'_, PyAny>,
    x_plus: &Bound<'_, PyAny>,
    n_components: usize,
    ridge: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let (x, x_plus) = (matrix(x, "X")?, matrix(x_plus, "X_plus")?);
    let fit = py.detach(|| baselines::CcaPairs::new(n_components).ridge(ridge).fit((&x, &x_plus))).or_raise()?;
    let d = map_dict(py, &fit.map)?;
    d.set_item("eigenvalues", array1(py, fit.eigenvalues))?;
    Ok(d)
}

#[pyfunction]
#[pyo3(signature = (x, n_clusters, n_init = 10, max_iter = 300, tol = 1e-4, seed = 0))]
fn kmeans_fit<'py>(
    py: Python<'py>,
    x: &Bound<'_, PyAny>,
    n_clusters: usize,
    n_init: usize,
    max_iter: usize,
    tol: f64,
    seed: u64,
) -> PyResult<Bound<'py, PyDict>> {
    let x = matrix(x, "X")?;
    let km = baselines::KMeans::new(n_clusters).n_init(n_init).max_iter(max_iter).tol(tol).seed(seed);
    let fit = py.detach(|| km.fit(&x)).or_raise()?;
    let d = PyDict::new(py);
    d.set_item("labels", label_array(py, &fit.labels))?;
    d.set_item("cluster_centers", array2(py, &fit.cluster_centers))?;
    d.set_item("inertia", fit.inertia)?;
    Ok(d)
}

#[pyfunction]
fn ari(truth: &Bound<'_, PyAny>, pred: &Bound<'_, PyAny>) -> PyResult<f64> {
    baselines::adjusted_rand_index(&labels(truth, "truth")?, &labels(pred, "pred")?).or_raise()
}

#[pyfunction]
fn nmi(truth: &Bound<'_, PyAny>, pred: &Bound<'_, PyAny>) -> PyResult<f64> {
    baselines::normalized_mutual_info(&labels(truth, "truth")?, &labels(pred, "pred")?).or_raise()
}

#[pyfunction]
fn clustering_accuracy(truth: &Bound<'_, PyAny>, pred: &Bound<'_, PyAny>) -> PyResult<f64> {
    baselines::clustering_accuracy(&labels(truth, "truth")?, &labels(pred, "pred")?).or_raise()
}

/// Principal angles (radians, ascending) between the row spaces of `a` and `b`.
#[pyfunction]
fn principal_angles<'py>(
    py: Python<'py>,
    a: &Bound<'_, PyAny>,
    b: &Bound<'_, PyAny>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let (a, b) = (row_space(&matrix(a, "a")?)?, row_space(&matrix(b, "b")?)?);
    Ok(array1(py, a.principal_angles(&b).or_raise()?))
}

/// `sin theta_max` between the row spaces of `a` and `b` (containment for unequal dimensions).
#[pyfunction]
fn sin_theta_max(a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> PyResult<f64> {
    let (a, b) = (row_space(&matrix(a, "a")?)?, row_space(&matrix(b, "b")?)?);
    a.sin_theta_max(&b).or_raise()
}

/// Runs claims of docs/theory.md and returns each outcome as JSON text (one per claim).
#[pyfunction]
#[pyo3(signature = (claims = None, quick = true, seed = 20_241_105))]
fn check_json(py: Python<'_>, claims: Option<Vec<String>>, quick: bool, seed: u64) -> PyResult<Vec<String>> {
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

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyGmm>()?;
    m.add_class::<PyClipGmm>()?;
    m.add_class::<TrainResult>()?;
    for f in [
        wrap_pyfunction!(infonce, m)?,
        wrap_pyfunction!(simsiam, m)?,
        wrap_pyfunction!(clip, m)?,
        wrap_pyfunction!(population_infonce, m)?,
        wrap_pyfunction!(train, m)?,
        wrap_pyfunction!(pca_fit, m)?,
        wrap_pyfunction!(lda_fit, m)?,
        wrap_pyfunction!(cca_pairs_fit, m)?,
        wrap_pyfunction!(kmeans_fit, m)?,
        wrap_pyfunction!(ari, m)?,
        wrap_pyfunction!(nmi, m)?,
        wrap_pyfunction!(clustering_accuracy, m)?,
        wrap_pyfunction!(principal_angles, m)?,
        wrap_pyfunction!(sin_theta_max, m)?,
        wrap_pyfunction!(check_json, m)?,
        wrap_pyfunction!(_bench_infonce, m)?,
        wrap_pyfunction!(set_max_memory, m)?,
        wrap_pyfunction!(max_memory, m)?,
    ] {
        m.add_function(f)?;
    }
    Ok(())
}
