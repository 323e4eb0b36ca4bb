//! Conversion between NumPy and the crates' matrices: the one intake of arrays (any order or
//! strides, read by their real strides), labels, and the arrays, subspaces and JSON that go out.

use gmm_core::{GmmError, LinearMap, Subspace};
use nalgebra::DMatrix;
use numpy::{PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods, ToPyArray};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::errors::OrRaise;

/// The one intake of 2-d arrays from Python: a float64 NumPy array as it is, any other array-like
/// of real numbers (NumPy of another float, integer or bool dtype, nested lists, a `jax.Array` or
/// anything with `__array__`) converted to float64 once by [`as_float64`], or `TypeError`.
fn array_2d<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<PyReadonlyArray2<'py, f64>> {
    if let Ok(array) = obj.extract() {
        return Ok(array);
    }
    as_float64(obj, what, 2)?.extract()
}

/// `obj` as a float64 NumPy array of `ndim` dimensions, by `numpy.asarray(obj).astype(float64)`.
/// float32 and integers convert exactly (below 2^53), so results are those of the float64 data;
/// complex numbers (whose imaginary part NumPy's cast would drop), strings and objects are a
/// `TypeError`, as is the wrong number of dimensions.
fn as_float64<'py>(obj: &Bound<'py, PyAny>, what: &str, ndim: usize) -> PyResult<Bound<'py, PyAny>> {
    let expected = || format!("{what}: expected a {ndim}-d array of real numbers");
    let array = obj
        .py()
        .import("numpy")?
        .call_method1("asarray", (obj,))
        .map_err(|e| PyTypeError::new_err(format!("{}, got {}: {e}", expected(), describe(obj))))?;
    let kind: String = array.getattr("dtype")?.getattr("kind")?.extract()?;
    let dims: usize = array.getattr("ndim")?.extract()?;
    if !"biuf".contains(kind.as_str()) || dims != ndim {
        let why = if kind == "c" { " (complex values are not taken: pass the real part explicitly)" } else { "" };
        return Err(PyTypeError::new_err(format!("{}, got {}{why}", expected(), describe(&array))));
    }
    array.call_method1("astype", ("float64",))
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
pub(crate) fn matrix(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<DMatrix<f64>> {
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
pub(crate) fn copy_pair(
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

/// A 1-d array-like of real numbers (see [`array_2d`]) as a float64 vector.
pub(crate) fn vector(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<f64>> {
    if let Ok(array) = obj.extract::<PyReadonlyArray1<'_, f64>>() {
        return Ok(array.as_array().to_vec());
    }
    let array: PyReadonlyArray1<'_, f64> = as_float64(obj, what, 1)?.extract()?;
    Ok(array.as_array().to_vec())
}

/// Class labels: a 1-d NumPy integer array or a sequence of non-negative integers.
pub(crate) fn labels(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<usize>> {
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

/// View pairs as the dict Python gets: `x`, `x_plus` (`n x d` arrays) and the base pair's
/// components `z`, `z_plus`.
pub(crate) fn pairs_dict<'py>(py: Python<'py>, p: &gmm_core::Pairs) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
    let d = pyo3::types::PyDict::new(py);
    d.set_item("x", array2(py, &p.x))?;
    d.set_item("x_plus", array2(py, &p.x_plus))?;
    d.set_item("z", label_array(py, &p.z))?;
    d.set_item("z_plus", label_array(py, &p.z_plus))?;
    Ok(d)
}

/// `type(obj)` and, for arrays, the dtype and shape: for error messages.
pub(crate) fn describe(obj: &Bound<'_, PyAny>) -> String {
    let kind = obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into());
    match (obj.getattr("dtype"), obj.getattr("shape")) {
        (Ok(dtype), Ok(shape)) => format!("{kind} of dtype {dtype} and shape {shape}"),
        _ => kind,
    }
}

pub(crate) fn array2<'py>(py: Python<'py>, m: &DMatrix<f64>) -> Bound<'py, PyArray2<f64>> {
    m.to_pyarray(py)
}

pub(crate) fn array1<'py>(py: Python<'py>, v: Vec<f64>) -> Bound<'py, PyArray1<f64>> {
    PyArray1::from_vec(py, v)
}

pub(crate) fn label_array<'py>(py: Python<'py>, z: &[usize]) -> Bound<'py, PyArray1<i64>> {
    PyArray1::from_vec(py, z.iter().map(|&v| v as i64).collect())
}

/// A subspace as a matrix whose orthonormal rows span it.
pub(crate) fn rows_of(s: &Subspace) -> DMatrix<f64> {
    s.basis().transpose()
}

/// The row space of `a` (rows span it), rank by the default tolerance.
pub(crate) fn row_space(a: &DMatrix<f64>) -> PyResult<Subspace> {
    LinearMap::new(a.clone()).row_space().or_raise()
}

pub(crate) fn parse<T: std::str::FromStr<Err = GmmError>>(s: &str) -> PyResult<T> {
    s.parse::<T>().or_raise()
}

/// A model from its JSON text (the format of the CLI's `--config` files), validated.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> PyResult<T> {
    serde_json::from_str(text).map_err(|e| PyValueError::new_err(format!("invalid {what}: {e}")))
}

/// A model as JSON text (floats round-trip exactly).
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> PyResult<String> {
    serde_json::to_string(value).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// A seed as NumPy users pass one: `None` draws a fresh one from NumPy's entropy
/// (`numpy.random.default_rng()`), a `numpy.random.Generator` (anything with `integers`) or a
/// legacy `numpy.random.RandomState` (anything with `randint`) draws one from itself, and a
/// non-negative integer is used as is. The resolved seed is what results
/// record, so a run with fresh entropy can still be repeated.
pub(crate) fn seed_of(py: Python<'_>, obj: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<u64> {
    let draw = |generator: &Bound<'_, PyAny>| -> PyResult<u64> {
        generator.call_method1("integers", (0u64, 1u64 << 63))?.extract::<u64>()
    };
    match obj {
        Some(o) if !o.is_none() => {
            if o.is_instance_of::<pyo3::types::PyBool>() {
                Err(PyTypeError::new_err(format!(
                    "{what} must be None, an integer or a numpy.random.Generator, got a bool"
                )))
            } else if o.hasattr("integers")? {
                draw(o)
            } else if o.hasattr("randint")? {
                // RandomState's default integer type may be 32-bit (older NumPy on Windows).
                o.call_method1("randint", (0u64, (1u64 << 31) - 1))?.extract::<u64>()
            } else {
                o.extract::<u64>().map_err(|_| {
                    let got = describe(o);
                    PyValueError::new_err(format!(
                        "{what} must be None, a non-negative integer below 2^64 or a numpy.random.Generator, got {got}: {o}"
                    ))
                })
            }
        }
        _ => draw(&py.import("numpy.random")?.call_method0("default_rng")?),
    }
}
