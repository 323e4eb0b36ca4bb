"""ssl_gmm: self-supervised learning on Gaussian mixtures, checked against theory.

Python interface to the Rust crates of the ssl-gmm workspace (Bansal, Kavis and Sanghavi,
"Understanding Self-Supervised Learning via Gaussian Mixture Models", arXiv 2411.03517).
Arrays are NumPy float64 in and out (C or Fortran order); rows are samples, and a map's rows
are its directions. Bad input raises ``ValueError`` (or ``TypeError`` for a wrong array type or
dtype) with the library's message; a solver that fails raises ``RuntimeError``.

Models
    ``Gmm(weights, means, covariance)``: ``x = mu_z + Sigma^{1/2} g``, ``z ~ weights``.
    ``Gmm.preset(name)`` (e.g. ``"pca-trap"``), ``Gmm.from_json(text)``; ``ClipGmm`` likewise.
    ``Gmm.fisher_subspace()`` is ``F = range(Sigma^{-1} S_B)`` with
    ``S_B = sum_k w_k (mu_k - mu)(mu_k - mu)^T``, as orthonormal rows.

Losses (exact value and gradient on a batch of pairs, row i of x and x_plus a positive pair)
    ``infonce``: ``L = (1/n) sum_i [-S_ii + log sum_j exp S_ij]``, ``S = (X A^T)(X+ A^T)^T / tau``.
    ``simsiam``: ``L = (1/n) sum_i ||W A x_i - sg(A x+_i)||^2`` (or negative cosine).
    ``clip``: symmetric InfoNCE with ``S = (X A^T)(Y B^T)^T / tau``.

Example::

    import ssl_gmm
    g = ssl_gmm.Gmm.preset("pca-trap")
    fit = ssl_gmm.train(g, method="infonce")          # certified L-BFGS on 8192 pairs
    print(fit.converged, ssl_gmm.sin_theta_max(fit.components, g.fisher_subspace()))
    print(ssl_gmm.sin_theta_max(g.pca_subspace(2), g.fisher_subspace()))   # PCA: near 1
"""

import json

import numpy as np

from ._native import (
    ClipGmm,
    Gmm,
    TrainResult,
    ari,
    clip,
    clustering_accuracy,
    infonce,
    max_memory,
    nmi,
    population_infonce,
    principal_angles,
    set_max_memory,
    simsiam,
    sin_theta_max,
    train,
)
from . import _native

__all__ = [
    "Gmm",
    "ClipGmm",
    "TrainResult",
    "infonce",
    "simsiam",
    "clip",
    "population_infonce",
    "train",
    "LDA",
    "PCA",
    "CCAPairs",
    "KMeans",
    "ari",
    "nmi",
    "clustering_accuracy",
    "principal_angles",
    "sin_theta_max",
    "check",
    "set_max_memory",
    "max_memory",
]


def check(claims=None, quick=True, seed=20241105):
    """Runs claims C1..C16 of docs/theory.md with their negative controls.

    Returns one dict per claim with its evidence (``evidence`` and ``control``: cases, passed
    cases, worst statistic, threshold, nearest wrong answer, per case) and ``verdict``
    (``"holds"``, ``"fails"``, ``"not-certified"`` or ``"unresolved"``). ``claims``: ids such as ``["C4", "C7"]``
    (default all; one id as a string is one claim, not its characters). Ctrl-C is honoured
    between claims.
    """
    if isinstance(claims, str):
        claims = [claims]
    if claims is not None:
        claims = [str(c) for c in claims]
    return [json.loads(text) for text in _native.check_json(claims, bool(quick), int(seed))]


class _Estimator:
    """``get_params`` / ``set_params`` from the constructor's keyword arguments, as scikit-learn's
    ``BaseEstimator`` does, so the estimators work in a ``Pipeline`` without requiring it."""

    _params = ()

    def get_params(self, deep=True):
        return {name: getattr(self, name) for name in self._params}

    def set_params(self, **params):
        for name, value in params.items():
            if name not in self._params:
                raise ValueError(f"invalid parameter {name!r} for {type(self).__name__}; valid: {self._params}")
            setattr(self, name, value)
        return self

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def _check_fitted(self, attribute="components_"):
        if not hasattr(self, attribute):
            raise ValueError(f"this {type(self).__name__} is not fitted yet: call fit first")

    def transform(self, X):
        """``(X - mean_) @ components_.T``: the fitted map applied to the rows of ``X``."""
        self._check_fitted()
        X = _as_float_matrix(X, "X")
        if X.shape[1] != self.components_.shape[1]:
            raise ValueError(f"X has {X.shape[1]} columns; the map was fitted on {self.components_.shape[1]}")
        return (X - self.mean_) @ self.components_.T

    def fit_transform(self, X, y=None):
        return self.fit(X, y).transform(X)

    def _set_map(self, fitted):
        self.components_ = fitted["components"]
        self.mean_ = fitted["mean"]
        self.n_features_in_ = self.components_.shape[1]


def _as_count(value, what, minimum=1):
    """``value`` as a whole number >= ``minimum``; ``2.7``, ``True`` or ``"3"`` are refused, never
    truncated."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer, float, np.floating)):
        raise TypeError(f"{what} must be an integer, got {type(value).__name__} {value!r}")
    if isinstance(value, (float, np.floating)) and not (np.isfinite(value) and float(value).is_integer()):
        raise ValueError(f"{what} must be a whole number, got {value!r}")
    if int(value) < minimum:
        raise ValueError(f"{what} must be at least {minimum}, got {value!r}")
    return int(value)


def _as_float_matrix(X, what):
    """``X`` as a 2-d float64 array (lists and other real dtypes converted; shapes checked).
    Complex input is refused: dropping its imaginary part would answer another question."""
    if np.iscomplexobj(X):
        raise TypeError(f"{what} is complex; these methods take real data (pass X.real if that is meant)")
    arr = np.asarray(X, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{what} must be 2-d (samples x features), got shape {arr.shape}")
    return arr


def _as_labels(y, what):
    """``y`` as a 1-d int64 array; float labels must be whole numbers (never truncated)."""
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be 1-d, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        if not (np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr))):
            raise ValueError(f"{what} must hold integer class labels, got dtype {arr.dtype}")
    return arr.astype(np.int64)


class PCA(_Estimator):
    """Principal components of the sample covariance (one centred scatter product, one
    symmetric eigendecomposition). ``components_`` rows: directions of descending variance."""

    _params = ("n_components",)

    def __init__(self, n_components=2):
        self.n_components = n_components

    def fit(self, X, y=None):
        fitted = _native.pca_fit(_as_float_matrix(X, "X"), _as_count(self.n_components, "n_components"))
        self._set_map(fitted)
        self.explained_variance_ = fitted["explained_variance"]
        self.explained_variance_ratio_ = fitted["explained_variance_ratio"]
        return self


class LDA(_Estimator):
    """Fisher's linear discriminant: ``S_B w = lambda S_W w`` (``S_W`` the prior-weighted class
    covariances, biased, as scikit-learn's eigen solver). ``components_`` rows are normalised
    so that ``A S_W A^T = I``; they span the sample Fisher subspace."""

    _params = ("n_components",)

    def __init__(self, n_components=None):
        self.n_components = n_components

    def fit(self, X, y):
        r = None if self.n_components is None else _as_count(self.n_components, "n_components")
        fitted = _native.lda_fit(_as_float_matrix(X, "X"), _as_labels(y, "y"), r)
        self._set_map(fitted)
        self.eigenvalues_ = fitted["eigenvalues"]
        self.explained_variance_ratio_ = fitted["explained_variance_ratio"]
        self.means_ = fitted["class_means"]
        self.priors_ = fitted["priors"]
        return self


class CCAPairs(_Estimator):
    """CCA between the two sides of augmentation pairs: ``Cov(x+, x) w = rho Cov(x) w``
    (symmetrised), the spectral counterpart of the contrastive losses. ``fit(X, X_plus)``."""

    _params = ("n_components", "ridge")

    def __init__(self, n_components=2, ridge=0.0):
        self.n_components = n_components
        self.ridge = ridge

    def fit(self, X, X_plus):
        fitted = _native.cca_pairs_fit(
            _as_float_matrix(X, "X"),
            _as_float_matrix(X_plus, "X_plus"),
            _as_count(self.n_components, "n_components"),
            float(self.ridge),
        )
        self._set_map(fitted)
        self.eigenvalues_ = fitted["eigenvalues"]
        return self


class KMeans(_Estimator):
    """k-means (k-means++ starts, ``n_init`` restarts, Lloyd iterations), deterministic in
    ``seed``. ``labels_``, ``cluster_centers_``, ``inertia_``; ``predict`` assigns new rows."""

    _params = ("n_clusters", "n_init", "max_iter", "tol", "seed")

    def __init__(self, n_clusters=8, n_init=10, max_iter=300, tol=1e-4, seed=0):
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.seed = seed

    def fit(self, X, y=None):
        fitted = _native.kmeans_fit(
            _as_float_matrix(X, "X"),
            _as_count(self.n_clusters, "n_clusters"),
            _as_count(self.n_init, "n_init"),
            _as_count(self.max_iter, "max_iter"),
            float(self.tol),
            _as_count(self.seed, "seed", minimum=0),
        )
        self.labels_ = fitted["labels"]
        self.cluster_centers_ = fitted["cluster_centers"]
        self.inertia_ = fitted["inertia"]
        self.n_features_in_ = self.cluster_centers_.shape[1]
        return self

    def predict(self, X):
        """The nearest centre of each row."""
        return self.transform(X).argmin(axis=1)

    def fit_predict(self, X, y=None):
        return self.fit(X).labels_

    def transform(self, X):
        """Distances of each row to each centre (as scikit-learn's ``KMeans.transform``)."""
        self._check_fitted("cluster_centers_")
        X = _as_float_matrix(X, "X")
        return np.sqrt(((X[:, None, :] - self.cluster_centers_[None, :, :]) ** 2).sum(axis=2))
