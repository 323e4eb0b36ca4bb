"""ssl_gmm: self-supervised learning on Gaussian mixtures, checked against theory.

Python interface to the Rust crates of the ssl-gmm workspace (Bansal, Kavis and Sanghavi,
"Understanding Self-Supervised Learning via Gaussian Mixture Models", arXiv 2411.03517).
Arrays in are any array-like of real numbers (NumPy of any float, integer or bool dtype and any
layout, nested lists, ``jax.Array``), converted once to float64 (float32 and integers exactly,
so the computation is float64's); arrays out are NumPy float64. Rows are samples, and a map's
rows are its directions. Bad input raises ``ValueError`` (or ``TypeError`` for complex, string
or object data and the wrong number of dimensions) with the library's message; a solver that
fails raises ``RuntimeError``. ``ssl_gmm.jax`` wraps the losses for ``jax.jit`` and ``jax.grad``.

Models
    ``Gmm(weights, means, covariance)``: ``x = mu_z + Sigma^{1/2} g``, ``z ~ weights``.
    ``Gmm.preset(name)`` (e.g. ``"pca-trap"``), ``Gmm.from_json(text)``; ``ClipGmm`` likewise.
    ``Gmm.fisher_subspace()`` is ``F = range(Sigma^{-1} S_B)`` with
    ``S_B = sum_k w_k (mu_k - mu)(mu_k - mu)^T``, as orthonormal rows.

Losses (exact value and gradient on a batch of pairs, row i of x and x_plus a positive pair)
    ``infonce``: ``L = (1/n) sum_i [-S_ii + log sum_j exp S_ij]``, ``S = (X A^T)(X+ A^T)^T / tau``.
    ``simsiam``: ``L = (1/n) sum_i ||W A x_i - sg(A x+_i)||^2`` (or negative cosine).
    ``clip``: symmetric InfoNCE with ``S = (X A^T)(Y B^T)^T / tau``.
    ``spectral_contrastive``: ``-(2/n) sum_i S_ii + (1/(n(n-1))) sum_{i != j} S_ij^2``.

Training
    ``train(data, method=...)`` trains what ``ssl-gmm train`` trains, with the same numbers for
    the same seed and the key names of its JSON (``losses``, ``final_loss``, ``steps``, ...);
    ``callback(step, loss)`` may stop a run. ``Gmm.generate`` draws the claims' random mixtures.

Randomness
    Every ``seed`` argument takes ``None`` (the default: fresh entropy, as NumPy), an integer, a
    ``numpy.random.Generator`` or a legacy ``RandomState``; ``train`` records the integer it resolved in
    ``hyperparameters["seed"]``. ``check`` keeps its fixed master seed.

Estimators (``PCA``, ``LDA``, ``CCAPairs``, ``KMeans``)
    scikit-learn estimators when scikit-learn is installed (an optional extra: tags, ``clone``,
    pipelines, ``set_output``, HTML display; ``check_estimator`` passes for PCA, LDA, KMeans and,
    given its second view, CCAPairs), the same API on a small stand-in without it.
    ``random_state`` as scikit-learn (``seed`` is its deprecated old name), ``NotFittedError``
    before ``fit``, labels of any sortable kind with ``classes_``. CCAPairs takes two views,
    ``fit(X, X_plus=...)`` (or a 2-d ``y``, as a pipeline passes it).

Example::

    import ssl_gmm
    g = ssl_gmm.Gmm.preset("pca-trap")
    fit = ssl_gmm.train(g, method="infonce")          # certified L-BFGS on 8192 pairs
    print(fit.converged, ssl_gmm.sin_theta_max(fit.components, g.fisher_subspace()))
    print(ssl_gmm.sin_theta_max(g.pca_subspace(2), g.fisher_subspace()))   # PCA: near 1
"""

import json
import sys

import numpy as np

from ._native import (
    Augmentation,
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
    spectral_contrastive,
    train,
)
from . import _native

__version__ = _native.__version__

__all__ = [
    "__version__",
    "NotFittedError",
    "ComplexDataError",
    "Gmm",
    "ClipGmm",
    "TrainResult",
    "infonce",
    "simsiam",
    "clip",
    "spectral_contrastive",
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
    "zoo",
    "verdict",
    "Augmentation",
    "VerdictResult",
    "set_max_memory",
    "max_memory",
]


def _claim_ids(ids):
    """None, one id as a string (one claim, not its characters), or a sequence of ids."""
    if ids is None:
        return None
    return [str(c) for c in ([ids] if isinstance(ids, str) else ids)]


def check(claims=None, quick=True, seed=20241105, skip=None):
    """Runs claims C1..C24 of docs/theory.md with their negative controls.

    Ctrl-C is honoured between claims.

    Parameters
    ----------
    claims : str, list of str or None
        Ids such as ``["C4", "C7"]``, or one id as a string (one claim, not its characters);
        None runs all.
    quick : bool
        The quick suite (False: the full one, slower).
    seed : int
        The master seed every case seed is hashed from.
    skip : str, list of str or None
        Ids left out of ``claims`` (of all claims when ``claims`` is None), e.g. ``"C10"``; a
        skipped id that ``claims`` does not name is refused.

    Returns
    -------
    list of dict
        One per claim: ``verdict`` (``"holds"``, ``"fails"``, ``"not-certified"``,
        ``"unresolved"`` or ``"uncalibrated"``), its ``evidence`` and ``control`` (cases, passed
        cases, the per-case rate the pass-count rule used, allowed wrong-way cases, worst
        statistic, threshold, nearest wrong answer, per case), ``calibration`` (where the rates
        come from: ``exact``, ``measured``, ``stale`` or ``unmeasured``; the last two have no
        verdict) and ``error_bound`` (the
        chance that this verdict rejects the claim when it holds).
    """
    return [json.loads(text) for text in _native.check_json(_claim_ids(claims), bool(quick), int(seed), _claim_ids(skip))]


def zoo(losses=None, augmentations=None, cases=12, seed=20241105):
    """The loss zoo's table, as ``ssl-gmm zoo``: each loss fitted in the population on each
    augmentation over random mixtures, and what its minimiser recovers (docs/theory.md 5.8).

    Parameters
    ----------
    losses : list of str or None
        Among ``"spectral"``, ``"infonce"`` (tau 1, infinitely many negatives; on masked
        views, which have no population form, decided from samples: whether the best map
        inside F loses on held-out pairs, docs/theory.md 5.8), ``"barlow"`` (official lambda 0.0051), ``"barlow-10"``, ``"vicreg"`` (official
        (25, 25, 1)), ``"vicreg-100"``, and the SimSiam/BYOL flows without whitening
        constraint ``"simsiam-flow"``, ``"byol-flow"`` (whitened inputs), ``"simsiam-flow-raw"``
        and ``"byol-flow-raw"`` (raw inputs), weight decay tau_r^2 / 16, whose verdict is on
        their stable fixed point; None takes all.
    augmentations : list of str or None
        Among ``"coupled"``, ``"noise-iso"``, ``"noise-sigma"``, ``"noise-both"`` and ``"mask"``;
        None takes all.
    cases : int
        Mixtures per cell.
    seed : int
        The master seed of the mixtures.

    Returns
    -------
    list of dict
        One per (loss, augmentation) cell: ``loss``, ``view``, ``cases``, ``resolved``,
        ``outcomes`` (each certified outcome's count), ``median_sin_to_fisher`` and
        ``max_sin_to_fisher`` (None without a verdict), ``median_sin_to_nearest`` (the fits with
        outcome "none"), ``median_tolerance`` (the distance bound or quadrature floor each verdict
        was decided at), ``median_held_out_gap`` and ``min_held_out_t`` (verdicts from samples:
        the held-out loss gap of the best map in F, in nats, and the smallest t; else None),
        ``not_applicable`` (why the loss does not take the augmentation, else None),
        ``seconds``.
    """
    if isinstance(losses, str):
        losses = [losses]
    if isinstance(augmentations, str):
        augmentations = [augmentations]
    losses = None if losses is None else [str(v) for v in losses]
    augmentations = None if augmentations is None else [str(v) for v in augmentations]
    return [json.loads(text) for text in _native.zoo_json(losses, augmentations, int(cases), int(seed))]


try:  # scikit-learn is optional: with it, the estimators are its own kind (tags, HTML display,
    # set_output, check_estimator); without it, the same API on a small stand-in.
    from sklearn.base import BaseEstimator as _Base
    from sklearn.base import ClassifierMixin as _ClassifierMixin
    from sklearn.base import ClassNamePrefixFeaturesOutMixin as _FeaturesOut
    from sklearn.base import ClusterMixin as _ClusterMixin
    from sklearn.base import TransformerMixin as _TransformerMixin
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.multiclass import check_classification_targets as _check_targets
    from sklearn.utils.validation import check_is_fitted as _check_is_fitted
    from sklearn.utils.validation import validate_data as _validate_data

    _SKLEARN = True
except ImportError:
    _SKLEARN = False

    class NotFittedError(ValueError, AttributeError):
        """Raised when an estimator is used before ``fit`` (scikit-learn's class when it is
        installed)."""

    class _Base:
        """``get_params`` / ``set_params`` from the constructor's keyword arguments, as
        scikit-learn's ``BaseEstimator`` does, so the estimators work without it."""

        def get_params(self, deep=True):
            import inspect

            names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
            return {name: getattr(self, name) for name in names}

        def set_params(self, **params):
            valid = self.get_params()
            for name, value in params.items():
                if name not in valid:
                    raise ValueError(f"invalid parameter {name!r} for {type(self).__name__}; valid: {tuple(valid)}")
                setattr(self, name, value)
            return self

        def __repr__(self):
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
            return f"{type(self).__name__}({args})"

    class _TransformerMixin:
        def fit_transform(self, X, y=None, **fit_params):
            return self.fit(X, y, **fit_params).transform(X)

    class _ClassifierMixin:
        def score(self, X, y, sample_weight=None):
            """Mean accuracy of ``predict(X)`` against ``y``."""
            return float(np.average(self.predict(X) == np.asarray(y), weights=sample_weight))

    class _ClusterMixin:
        def fit_predict(self, X, y=None, **kwargs):
            """``fit(X).labels_``."""
            return self.fit(X, **kwargs).labels_

    class _FeaturesOut:
        pass


def verdict(loss, augmentation="coupled", mixtures=4, r=None, pairs=8192, batch=256, tau=1.0,
            check_rtol=1e-4, bound_max=0.5, seed=20241105, progress=False):
    """The verdict on a loss you write: what its linear minimiser recovers on Gaussian mixtures
    (the Fisher subspace F, a collapsed part of it, a spectral subspace such as PCA, or none),
    from samples, with a certificate (docs/outcomes.md).

    The loss is minimised in Rust by the verdict harness on ``pairs`` pairs drawn from the
    augmentation, split into fixed batches of ``batch`` (the loss is their mean); it calls back
    ``loss(A, X, X_plus)`` for each batch, holding the GIL for the call only, one mixture after
    another. Its gradient is checked against central finite differences at the first random
    start and at the fit; a verdict is refused (``ValueError``, with the measured error) above
    ``check_rtol``. The sampling floor is measured by refitting on an independent sample: every
    comparison uses three times the distance between the two minimisers, and an outcome is
    named only when the nearest other candidate (the runner-up) lies beyond it.

    Parameters
    ----------
    loss : callable or str
        ``loss(A, X, X_plus) -> (value, grad)`` with ``A`` the map (r, d), ``X`` and ``X_plus``
        a batch of pairs (batch, d), all float64 NumPy arrays; ``value`` a float64 scalar and
        ``grad`` its gradient in ``A`` (float64, shape (r, d)). A JAX
        ``jax.jit(jax.value_and_grad(f))`` works (with ``jax_enable_x64``: float32 cannot pass
        the gradient check). Or a built-in's name: ``"infonce"`` (one-way, dot score,
        temperature ``tau``) or ``"spectral"`` (spectral contrastive), through the same path.
    augmentation : str or Augmentation
        How the views are made: a name as in ``zoo`` (``"coupled"``, ``"noise-iso"``,
        ``"noise-sigma"``, ``"noise-both"`` or ``"mask"``; isotropic noise at the mixture's mean
        variance ``tr(Sigma_T) / d``), or an ``Augmentation`` (e.g.
        ``Augmentation.identical().noise(like_sigma=0.5)``).
    mixtures : int, Gmm or sequence of Gmm
        A count: that many mixtures of the family of verdicts from samples at ``seed`` (k
        cycling 3..5, d in 6..12, separation 2, condition 10^0.5..10^1.5, every third a PCA
        trap); or your own mixtures.
    r : int or None
        Outputs of the map (None: k - 1 per mixture).
    pairs, batch : int
        Pairs per sample (the independent replicate draws as many again), pairs per batch.
    tau : float
        The built-in InfoNCE's temperature (ignored for a callable).
    check_rtol : float
        The largest relative disagreement with finite differences a verdict accepts.
    bound_max : float
        The largest sampling floor at which an outcome is named.
    seed : int
        Seeds the mixtures (for a count), the pairs and the starts: the same seed gives the same
        numbers.
    progress : bool or callable
        True prints a line per mixture to stderr; a callable receives each case's dict.

    Returns
    -------
    VerdictResult
        The outcome over the mixtures, the per-case table (``cases``, ``to_dict()``) and a
        short report (``print(result)``).

    Raises
    ------
    ValueError
        The gradient disagrees with finite differences (the message has the measured error),
        the callable returned a wrong shape, a non-finite or non-float64 value, or bad input.
    RuntimeError
        The callable raised (its exception is the ``__cause__``; ``KeyboardInterrupt`` stays
        one), or the solver failed.
    """
    if progress is True:
        def report(text):
            c = json.loads(text)
            print(f"mixture {c['case']}: {c['outcome']} ({'resolved' if c['resolved'] else 'unresolved'}), "
                  f"{c['seconds']:.1f} s", file=sys.stderr)
    elif callable(progress):
        def report(text):
            progress(json.loads(text))
    elif progress is False or progress is None:
        report = None
    else:
        raise TypeError(f"verdict: progress must be a bool or a callable, got {type(progress).__name__}")
    texts = _native.verdict_json(loss, augmentation, mixtures, r, _as_count(pairs, "pairs"),
                                 _as_count(batch, "batch"), float(tau), float(check_rtol),
                                 float(bound_max), int(seed), report)
    name = augmentation if isinstance(augmentation, str) else repr(augmentation)
    return VerdictResult([json.loads(t) for t in texts], name, int(seed))


class VerdictResult:
    """The result of ``verdict``: ``outcome`` (the most frequent resolved outcome, or
    ``"unresolved"``), ``counts`` (each resolved outcome's count, and ``"unresolved"``),
    ``resolved``, ``cases`` (one dict per mixture: outcome, whether resolved and certified,
    ``sin_to_fisher``, the ``tolerance`` (sampling floor), the ``runner_up`` and its
    ``runner_up_sin``, rank, the gradient check's errors, evaluations, seconds...).
    ``print(result)`` gives a short report; ``to_dict()`` a dict of columns (for
    ``pandas.DataFrame``).

    Parameters
    ----------
    cases : list of dict
        One record per mixture, as ``verdict`` made them.
    augmentation : str
        The augmentation's name.
    seed : int
        The seed of the run."""

    _COLUMNS = ("case", "k", "d", "r", "outcome", "resolved", "certified", "rank", "sin_to_fisher",
                "tolerance", "runner_up", "runner_up_sin", "gradient_error_start",
                "gradient_error_fit", "relative_gradient", "value", "evaluations", "calls", "seconds")

    def __init__(self, cases, augmentation, seed):
        self.cases = cases
        self.augmentation = augmentation
        self.seed = seed
        self.loss = cases[0]["loss"] if cases else ""
        counts = {}
        for c in cases:
            key = c["outcome"] if c["resolved"] else "unresolved"
            counts[key] = counts.get(key, 0) + 1
        self.counts = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        self.resolved = sum(1 for c in cases if c["resolved"])
        named = [(n, o) for o, n in self.counts.items() if o != "unresolved"]
        self.outcome = max(named)[1] if named else "unresolved"

    def to_dict(self):
        """The per-case table as a dict of equal-length lists (``pandas.DataFrame(result.to_dict())``)."""
        return {k: [c[k] for c in self.cases] for k in self._COLUMNS}

    def __repr__(self):
        return (f"VerdictResult(loss={self.loss!r}, augmentation={self.augmentation!r}, "
                f"outcome={self.outcome!r}, resolved={self.resolved}/{len(self.cases)})")

    def __str__(self):
        counts = ", ".join(f"{o} {n}" for o, n in self.counts.items())
        lines = [f"verdict on {self.loss} ({self.augmentation} views, {len(self.cases)} mixtures, seed {self.seed}): "
                 f"{self.outcome}  [{counts}]",
                 f"{'case':>4} {'k':>2} {'d':>3}  {'outcome':<28} {'sin F':>6} {'floor':>6}  "
                 f"{'runner-up (sin)':<28} {'grad check':>9}"]
        for c in self.cases:
            outcome = c["outcome"] if c["resolved"] else f"unresolved ({c['outcome']})"
            runner = f"{c['runner_up']} ({c['runner_up_sin']:.3f})" if c["runner_up"] else "-"
            check = max(c["gradient_error_start"], c["gradient_error_fit"])
            lines.append(f"{c['case']:>4} {c['k']:>2} {c['d']:>3}  {outcome[:28]:<28} {c['sin_to_fisher']:>6.3f} "
                         f"{c['tolerance']:>6.3f}  {runner[:28]:<28} {check:>9.1e}")
        return "\n".join(lines)


def _fitted(estimator, attribute):
    """Raises ``NotFittedError`` (a ``ValueError`` and an ``AttributeError``) before ``fit``."""
    if _SKLEARN:
        _check_is_fitted(estimator, attribute)
    elif not hasattr(estimator, attribute):
        raise NotFittedError(
            f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with appropriate arguments before using this estimator."
        )


class ComplexDataError(TypeError, ValueError):
    """Complex input where real data is needed (a ``TypeError`` and, as scikit-learn raises, a
    ``ValueError``)."""


def _refuse_complex(X, what):
    if np.asarray(X).dtype.kind == "c":
        raise ComplexDataError(
            f"Complex data not supported: {what} is complex; these methods take real data (pass X.real if that is meant)"
        )


def _validate(estimator, X, y=None, reset=True, min_samples=1):
    """``X`` (and ``y``) checked as scikit-learn checks them (finite float64, 2-d, at least
    ``min_samples`` samples and one feature, ``n_features_in_`` set on ``reset`` and compared
    otherwise)."""
    if _SKLEARN:
        _refuse_complex(X, "X")
        if y is None:
            return _validate_data(estimator, X, reset=reset, dtype=np.float64, ensure_min_samples=min_samples)
        return _validate_data(estimator, X, y, reset=reset, dtype=np.float64, ensure_min_samples=min_samples)
    X = _as_float_matrix(X, "X")  # refuses complex data too
    if X.shape[0] < min_samples or X.shape[1] < 1:
        raise ValueError(
            f"Found array with {X.shape[0]} sample(s) and {X.shape[1]} feature(s) (shape={X.shape}) "
            f"while a minimum of {min_samples} sample(s) and 1 feature(s) is required by {type(estimator).__name__}."
        )
    if not np.all(np.isfinite(X)):
        raise ValueError("Input X contains NaN or infinity.")
    if reset:
        estimator.n_features_in_ = X.shape[1]
    elif X.shape[1] != estimator.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(estimator).__name__} is expecting {estimator.n_features_in_} features as input."
        )
    if y is None:
        return X
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"y must be 1-d with one label per row of X; got shape {y.shape} for {X.shape[0]} rows")
    return X, y


def _encode_classes(y):
    """The sorted distinct labels and each sample's index among them (any hashable labels that
    NumPy can sort: integers, strings, whole-number floats)."""
    if _SKLEARN:
        _check_targets(y)
    elif np.issubdtype(y.dtype, np.floating) and not np.all(y == np.round(y)):
        raise ValueError(f"Unknown label type: continuous. y must hold class labels, got dtype {y.dtype}")
    classes, encoded = np.unique(y, return_inverse=True)
    if classes.size < 2:
        raise ValueError(f"y has {classes.size} class; LDA needs at least 2 classes")
    return classes, encoded.astype(np.int64)


def _random_state(random_state, seed, owner):
    """``random_state`` for the native code, which resolves ``None`` (fresh entropy) and a
    ``numpy.random.Generator`` or ``RandomState`` (a seed drawn from it) by the package's one
    seed rule; a number must be a whole one >= 0. ``seed`` is the deprecated old name."""
    if seed is not None:
        import warnings

        warnings.warn(
            f"{owner}(seed=...) is deprecated; use random_state=", FutureWarning, stacklevel=3
        )
        random_state = seed
    if random_state is None or isinstance(random_state, (np.random.Generator, np.random.RandomState)):
        return random_state
    return _as_count(random_state, "random_state", minimum=0)


class _Map(_FeaturesOut, _TransformerMixin, _Base):
    """A fitted linear map ``x -> (x - mean_) @ components_.T``."""

    def transform(self, X):
        """``(X - mean_) @ components_.T``: the fitted map applied to the rows of ``X``."""
        _fitted(self, "components_")
        X = _validate(self, X, reset=False)
        return (X - self.mean_) @ self.components_.T

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    def _set_map(self, fitted):
        self.components_ = fitted["components"]
        self.mean_ = fitted["mean"]


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
    _refuse_complex(X, what)
    arr = np.asarray(X, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{what} must be 2-d (samples x features), got shape {arr.shape}")
    return arr


class PCA(_Map):
    """Principal components of the sample covariance (one centred scatter product, one
    symmetric eigendecomposition). ``components_`` rows: directions of descending variance.

    Parameters
    ----------
    n_components : int, float or None
        A count; None (``min(n_samples, n_features)``); or a fraction in ``(0, 1)``: the
        fewest components whose explained-variance ratios sum to at least it."""

    def __init__(self, n_components=2):
        self.n_components = n_components

    def fit(self, X, y=None):
        """Fits the principal directions of ``X`` (at least 2 samples).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        PCA
            The fitted estimator.
        """
        X = _validate(self, X, min_samples=2)  # a covariance needs two samples
        n, d = X.shape
        keep = self.n_components
        fraction = isinstance(keep, (float, np.floating)) and 0.0 < keep < 1.0
        if keep is None or fraction:
            r = min(n, d)
        else:
            r = _as_count(keep, "n_components")
            if r > d:
                raise ValueError(f"n_components={r} must be at most n_features={d}")
        fitted = _native.pca_fit(X, r)
        self._set_map(fitted)
        self.explained_variance_ = fitted["explained_variance"]
        self.explained_variance_ratio_ = fitted["explained_variance_ratio"]
        if fraction:
            count = int(np.searchsorted(np.cumsum(self.explained_variance_ratio_), keep, side="left")) + 1
            count = min(count, r)
            self.components_ = self.components_[:count]
            self.explained_variance_ = self.explained_variance_[:count]
            self.explained_variance_ratio_ = self.explained_variance_ratio_[:count]
        self.n_components_ = self.components_.shape[0]
        return self

    def inverse_transform(self, X):
        """``X @ components_ + mean_``: back to the input space (exact on the components' span).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_components_)

        Returns
        -------
        numpy.ndarray, shape (n_samples, n_features_in_)
        """
        _fitted(self, "components_")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.components_.shape[0]:
            raise ValueError(f"X must be 2-d with {self.components_.shape[0]} columns, got shape {X.shape}")
        return X @ self.components_ + self.mean_


class LDA(_ClassifierMixin, _Map):
    """Fisher's linear discriminant: ``S_B w = lambda S_W w`` (``S_W`` the prior-weighted class
    covariances, biased, as scikit-learn's eigen solver). ``components_`` rows are normalised
    so that ``A S_W A^T = I``; they span the sample Fisher subspace.

    Labels may be any sortable values (``classes_`` holds them). ``predict`` is the
    shared-covariance Gaussian (Bayes) rule, computed in the full discriminant space
    (``min(c - 1, d)`` directions, whatever ``n_components``), where it is exact: the part of
    ``x`` outside that space is the same distance from every class mean.

    Parameters
    ----------
    n_components : int or None
        Directions kept (None: ``min(classes - 1, n_features)``)."""

    def __init__(self, n_components=None):
        self.n_components = n_components

    def fit(self, X, y):
        """Fits the discriminant directions of ``X`` with class labels ``y``.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
        y : array-like, shape (n_samples,)
            Any sortable labels, at least two classes.

        Returns
        -------
        LDA
            The fitted estimator.
        """
        if y is None:
            raise ValueError(f"requires y to be passed, but the target y is None ({type(self).__name__})")
        X, y = _validate(self, X, y)
        self.classes_, codes = _encode_classes(y)
        full = min(self.classes_.size - 1, X.shape[1])
        r = full if self.n_components is None else _as_count(self.n_components, "n_components")
        fitted = _native.lda_fit(X, codes, r)
        self._set_map(fitted)
        self.eigenvalues_ = fitted["eigenvalues"]
        self.explained_variance_ratio_ = fitted["explained_variance_ratio"]
        self.means_ = fitted["class_means"]
        self.priors_ = fitted["priors"]
        self._discriminant = fitted["components"] if r >= full else _native.lda_fit(X, codes, full)["components"]
        return self

    def _scores(self, X):
        _fitted(self, "components_")
        X = _validate(self, X, reset=False)
        z, m = X @ self._discriminant.T, self.means_ @ self._discriminant.T
        return -0.5 * ((z[:, None, :] - m[None, :, :]) ** 2).sum(axis=2) + np.log(self.priors_)

    def decision_function(self, X):
        """Log posterior up to a constant per row (binary: the second class's minus the first's).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray, shape (n_samples, n_classes) or (n_samples,)
        """
        scores = self._scores(X)
        return scores[:, 1] - scores[:, 0] if scores.shape[1] == 2 else scores

    def predict_proba(self, X):
        """Posterior probability of each class in ``classes_``.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray, shape (n_samples, n_classes)
            Rows summing to 1.
        """
        scores = self._scores(X)
        scores -= scores.max(axis=1, keepdims=True)
        p = np.exp(scores)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X):
        """The most probable class of each row.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray, shape (n_samples,)
            Labels from ``classes_``.
        """
        best = self._scores(X).argmax(axis=1)
        return self.classes_[best]


class CCAPairs(_Map):
    """CCA between the two sides of augmentation pairs: ``Cov(x+, x) w = rho Cov(x) w``
    (symmetrised), the spectral counterpart of the contrastive losses.
    ``fit(X, X_plus=X_plus)`` (or ``fit(X, X_plus)``: a 2-d second argument is the second view).
    ``eigenvalues_`` are the canonical correlations' symmetrised eigenvalues, not variances.
    It takes two views and scikit-learn's ``check_estimator`` hands an estimator one, so the
    package's tests run ``check_estimator`` on CCAPairs with a second view made from ``X`` row by
    row (its columns reversed): every check applies then (validation of both views,
    ``n_features_in_``, pickling, refits, order and subset invariance, pipelines); only a call
    without a second view is refused, with a ``ValueError`` that says how to pass it.

    Parameters
    ----------
    n_components : int
        Canonical directions kept.
    ridge : float
        Added to the anchors' covariance: ``Cov(x) + ridge I`` (0: none)."""

    def __init__(self, n_components=2, ridge=0.0):
        self.n_components = n_components
        self.ridge = ridge

    def fit(self, X, y=None, X_plus=None):
        """Fits CCA between the anchors ``X`` and their positives ``X_plus`` (row ``i`` of each a pair).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            The anchors.
        y : array-like, shape (n_samples, n_features), or None
            The positives when given positionally (as a pipeline passes them).
        X_plus : array-like, shape (n_samples, n_features), or None
            The positives.

        Returns
        -------
        CCAPairs
            The fitted estimator.
        """
        X = _validate(self, X, min_samples=2)  # a covariance needs two samples
        if X_plus is None and y is not None and np.ndim(y) == 2:
            X_plus = y
        if X_plus is None:
            raise ValueError("CCAPairs needs the second view of each pair: fit(X, X_plus=...)")
        X_plus = _validate(self, X_plus, reset=False)
        if X_plus.shape != X.shape:
            raise ValueError(f"X_plus has shape {X_plus.shape}; it must match X's {X.shape} (row i of each is a pair)")
        fitted = _native.cca_pairs_fit(
            X, X_plus, _as_count(self.n_components, "n_components"), float(self.ridge)
        )
        self._set_map(fitted)
        self.eigenvalues_ = fitted["eigenvalues"]
        return self


class KMeans(_FeaturesOut, _ClusterMixin, _TransformerMixin, _Base):
    """k-means (k-means++ starts, ``n_init`` restarts, Lloyd iterations), deterministic in
    ``random_state`` (``None``: fresh entropy, as scikit-learn). ``labels_`` (each row's nearest
    final centre), ``cluster_centers_``, ``inertia_``; ``predict`` assigns new rows. ``seed`` is
    the deprecated name of ``random_state``.

    Parameters
    ----------
    n_clusters : int
        Clusters.
    n_init : int
        Restarts; the lowest inertia is kept.
    max_iter : int
        Lloyd iterations per restart.
    tol : float
        A restart stops when the centres move (squared) less than ``tol`` times the mean
        feature variance.
    random_state : None, int, numpy.random.Generator or RandomState
        None draws fresh entropy.
    seed : deprecated
        The old name of ``random_state``."""

    def __init__(self, n_clusters=8, n_init=10, max_iter=300, tol=1e-4, random_state=None, seed=None):
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.seed = seed

    def fit(self, X, y=None):
        """Clusters the rows of ``X`` (at least ``n_clusters`` of them).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        KMeans
            The fitted estimator.
        """
        X = _validate(self, X)
        k = _as_count(self.n_clusters, "n_clusters")
        if X.shape[0] < k:
            raise ValueError(f"n_samples={X.shape[0]} should be >= n_clusters={k}.")
        fitted = _native.kmeans_fit(
            X,
            k,
            _as_count(self.n_init, "n_init"),
            _as_count(self.max_iter, "max_iter"),
            float(self.tol),
            _random_state(self.random_state, self.seed, "KMeans"),
        )
        self.cluster_centers_ = fitted["cluster_centers"]
        self.labels_ = fitted["labels"]
        self.inertia_ = fitted["inertia"]
        self.n_iter_ = fitted["n_iter"]
        return self

    @property
    def _n_features_out(self):
        return self.cluster_centers_.shape[0]

    def _distances(self, X):
        return np.sqrt(((X[:, None, :] - self.cluster_centers_[None, :, :]) ** 2).sum(axis=2))

    def predict(self, X):
        """The nearest centre of each row.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray of int, shape (n_samples,)
        """
        return self.transform(X).argmin(axis=1)

    def transform(self, X):
        """Distances of each row to each centre (as scikit-learn's ``KMeans.transform``).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)

        Returns
        -------
        numpy.ndarray, shape (n_samples, n_clusters)
        """
        _fitted(self, "cluster_centers_")
        return self._distances(_validate(self, X, reset=False))

    def score(self, X, y=None):
        """Minus the inertia of ``X`` against the fitted centres (as scikit-learn).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        float
        """
        return -float((self.transform(X).min(axis=1) ** 2).sum())
