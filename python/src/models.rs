//! The models: `Gmm` and `ClipGmm`.

use gmm_core::{ClipGenerator, ClipGmm, Gmm, MixtureGenerator, Model, Side, seeded};
use numpy::{PyArray1, PyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::{array1, array2, from_json, label_array, matrix, rows_of, seed_of, to_json, vector};
use crate::errors::{OrRaise, budget};

/// A shared-covariance Gaussian mixture (see `ssl_gmm.Gmm`).
#[pyclass(name = "Gmm", module = "ssl_gmm", frozen)]
#[derive(Clone)]
pub(crate) struct PyGmm {
    pub(crate) inner: Gmm,
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

    /// A random mixture of ``k`` components in ``d`` dimensions (the generator of the claims'
    /// cases, docs/theory.md section 4): means ``N(0, separation^2 I)`` centred (or shifted so
    /// that ``||Sigma^{-1/2} mu_bar|| = mean_offset``), equal weights unless ``unbalanced``,
    /// ``Sigma_0`` with eigenvalues log-spaced from 1 to ``condition`` in a random basis, plus
    /// with ``noise_direction = c`` a dominant noise direction orthogonal to the means of
    /// variance ``c lambda_max(Sigma_0 + S_B)`` (``c >= 1``: PCA's counterexample). ``seed`` as
    /// everywhere (None: fresh entropy).
    #[staticmethod]
    #[pyo3(signature = (k, d, separation = 1.0, condition = 1.0, noise_direction = None, unbalanced = false,
        mean_offset = 0.0, seed = None))]
    #[allow(clippy::too_many_arguments)]
    fn generate(
        py: Python<'_>,
        k: usize,
        d: usize,
        separation: f64,
        condition: f64,
        noise_direction: Option<f64>,
        unbalanced: bool,
        mean_offset: f64,
        seed: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let seed = seed_of(py, seed, "seed")?;
        budget(&format!("Gmm.generate(d={d})"), &[d, d, 16])?;
        let generator = MixtureGenerator {
            k,
            d,
            separation,
            condition,
            noise_factor: noise_direction,
            balanced: !unbalanced,
            mean_offset,
        };
        Ok(Self { inner: py.detach(|| generator.generate(&mut seeded(seed))).or_raise()? })
    }

    /// A mixture from its JSON ``{"weights", "means", "covariance"}`` (as ``to_json`` writes it).
    ///
    /// Raises ``ValueError`` naming the field for malformed JSON or invalid parameters.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        Ok(Self { inner: from_json(text, "mixture")? })
    }

    /// The parameters as JSON; floats round-trip exactly (``from_json`` reads it back).
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

    /// The Fisher subspace ``F = range(Sigma^{-1} S_B)``, ``S_B = sum_k w_k (mu_k - mu)(mu_k - mu)^T``,
    /// as orthonormal rows (``dim F x d``; ``dim F = rank S_B <= k - 1``).
    fn fisher_subspace<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        Ok(array2(py, &rows_of(&self.inner.fisher_subspace().or_raise()?)))
    }

    /// Population PCA: the top-``r`` eigenvectors of the total covariance ``Sigma + S_B``, as
    /// orthonormal rows (``r x d``).
    fn pca_subspace<'py>(&self, py: Python<'py>, r: usize) -> PyResult<Bound<'py, PyArray2<f64>>> {
        Ok(array2(py, &rows_of(&self.inner.pca_subspace(r).or_raise()?)))
    }

    /// The Bayes posterior ``p(z = k | x)`` of each row of ``x`` (``n x d``), as an ``n x k`` array whose
    /// rows sum to 1.
    fn posterior<'py>(&self, py: Python<'py>, x: &Bound<'_, PyAny>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let x = matrix(x, "x")?;
        let p = py.detach(|| self.inner.posterior(&x)).or_raise()?;
        Ok(array2(py, &p))
    }

    /// ``n`` draws ``x = mu_z + Sigma^{1/2} g``, ``z ~ weights``: ``{"x": (n, d), "z": (n,)}``.
    ///
    /// ``seed``: ``None`` (fresh entropy), an int, or a ``numpy.random.Generator``.
    #[pyo3(signature = (n, seed = None))]
    fn sample<'py>(&self, py: Python<'py>, n: usize, seed: Option<&Bound<'_, PyAny>>) -> PyResult<Bound<'py, PyDict>> {
        let seed = seed_of(py, seed, "seed")?;
        budget(&format!("sample({n})"), &[n, self.inner.dim() + 1, 2])?;
        let s = py.detach(|| self.inner.sample(n, &mut seeded(seed)));
        let d = PyDict::new(py);
        d.set_item("x", array2(py, &s.x))?;
        d.set_item("z", label_array(py, &s.z))?;
        Ok(d)
    }

    /// ``n`` augmentation pairs with coupling ``delta``: the positive keeps the anchor's component
    /// with probability ``delta``, else draws an independent one, and both views are fresh draws of
    /// their components. ``{"x", "x_plus": (n, d), "z", "z_plus": (n,)}``.
    ///
    /// ``seed``: ``None`` (fresh entropy), an int, or a ``numpy.random.Generator``.
    #[pyo3(signature = (n, delta, seed = None))]
    fn sample_pairs<'py>(
        &self,
        py: Python<'py>,
        n: usize,
        delta: f64,
        seed: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let seed = seed_of(py, seed, "seed")?;
        budget(&format!("sample_pairs({n})"), &[n, 2 * self.inner.dim() + 2, 2])?;
        let p = py.detach(|| self.inner.sample_pairs(n, delta, &mut seeded(seed))).or_raise()?;
        let d = PyDict::new(py);
        d.set_item("x", array2(py, &p.x))?;
        d.set_item("x_plus", array2(py, &p.x_plus))?;
        d.set_item("z", label_array(py, &p.z))?;
        d.set_item("z_plus", label_array(py, &p.z_plus))?;
        Ok(d)
    }

    /// Pickles as its JSON (`from_json(to_json())`, exact: floats round-trip).
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        Ok((slf.get_type().getattr("from_json")?, (slf.get().to_json()?,)))
    }

    /// Equal parameters (every entry exactly).
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<Self>().is_ok_and(|o| o.get().inner == self.inner)
    }

    fn __repr__(&self) -> String {
        format!("Gmm(k={}, dim={})", self.inner.k(), self.inner.dim())
    }
}

/// A two-modality CLIP-GMM (see `ssl_gmm.ClipGmm`).
#[pyclass(name = "ClipGmm", module = "ssl_gmm", frozen)]
#[derive(Clone)]
pub(crate) struct PyClipGmm {
    pub(crate) inner: ClipGmm,
}

pub(crate) fn side(name: &str) -> PyResult<Side> {
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

    /// A random CLIP-GMM (the generator of claim C10's cases): ``k`` shared and ``k_private``
    /// private components per modality in dimensions ``d_x`` and ``d_y``, shared and private
    /// means of the given separations, both covariances of condition number ``condition`` in
    /// random bases, and (``orthogonal``) private means satisfying C10's Sigma-orthogonality.
    #[staticmethod]
    #[pyo3(signature = (k, k_private, d_x, d_y, separation = 1.0, private_separation = 1.0, condition = 10.0,
        orthogonal = true, seed = None))]
    #[allow(clippy::too_many_arguments)]
    fn generate(
        py: Python<'_>,
        k: usize,
        k_private: usize,
        d_x: usize,
        d_y: usize,
        separation: f64,
        private_separation: f64,
        condition: f64,
        orthogonal: bool,
        seed: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let seed = seed_of(py, seed, "seed")?;
        let d = d_x.max(d_y);
        budget(&format!("ClipGmm.generate(d_x={d_x}, d_y={d_y})"), &[d, d, 32])?;
        let generator = ClipGenerator { k, k_private, d_x, d_y, separation, private_separation, condition, orthogonal };
        Ok(Self { inner: py.detach(|| generator.generate(&mut seeded(seed))).or_raise()? })
    }

    /// A CLIP-GMM from its JSON ``{"weights", "x", "y"}`` (as ``to_json`` writes it).
    ///
    /// Raises ``ValueError`` naming the field for malformed JSON or invalid parameters.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        Ok(Self { inner: from_json(text, "CLIP-GMM")? })
    }

    /// The parameters as JSON; floats round-trip exactly (``from_json`` reads it back).
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

    /// ``n`` CLIP pairs sharing their component ``z``: ``{"x": (n, d_x), "y": (n, d_y), "z": (n,)}``.
    ///
    /// ``seed``: ``None`` (fresh entropy), an int, or a ``numpy.random.Generator``.
    #[pyo3(signature = (n, seed = None))]
    fn sample_pairs<'py>(
        &self,
        py: Python<'py>,
        n: usize,
        seed: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let seed = seed_of(py, seed, "seed")?;
        let (dx, dy) = self.dims();
        budget(&format!("sample_pairs({n})"), &[n, dx + dy + 3, 2])?;
        let p = py.detach(|| self.inner.sample_pairs(n, &mut seeded(seed))).or_raise()?;
        let d = PyDict::new(py);
        d.set_item("x", array2(py, &p.x))?;
        d.set_item("y", array2(py, &p.y))?;
        d.set_item("z", label_array(py, &p.z))?;
        Ok(d)
    }

    /// Pickles as its JSON (`from_json(to_json())`, exact: floats round-trip).
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        Ok((slf.get_type().getattr("from_json")?, (slf.get().to_json()?,)))
    }

    /// Equal parameters (every entry exactly).
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<Self>().is_ok_and(|o| o.get().inner == self.inner)
    }

    fn __repr__(&self) -> String {
        let (dx, dy) = self.dims();
        format!("ClipGmm(k={}, dims=({dx}, {dy}))", self.k())
    }
}
