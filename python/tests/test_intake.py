"""Every array from Python is read by its real strides: a property test over random shapes and
layouts (C and Fortran order, row and column steps, negative strides, zero strides from
``np.broadcast_to``, transposed views) and dtypes, comparing every function that takes an
array with the same call on ``np.ascontiguousarray`` input. The two calls copy the same values
into the same column-major matrix, so they must agree bit for bit (or both raise the same
exception type); no tolerance is involved. Seeded: the layouts are drawn by
``np.random.default_rng(SEED)``.

Before the intake layer, a row stride of 0 was read as contiguous rows: posterior() of three
equal rows returned three different rows and a (10**6, 10) broadcast ended the interpreter.
"""

import numpy as np
import pytest

import ssl_gmm

SEED = 20241105
CASES = 40


def layouts(values, rng):
    """The same values in many memory layouts (each a view that compares equal to ``values``)."""
    n, d = values.shape
    out = {
        "C": np.ascontiguousarray(values),
        "F": np.asfortranarray(values),
        "transposed view": np.ascontiguousarray(values.T).T,
        "negative strides": np.ascontiguousarray(values[::-1, ::-1])[::-1, ::-1],
        "negative row stride": np.ascontiguousarray(values[::-1])[::-1],
    }
    rs, cs = rng.integers(2, 4, size=2)
    big = np.zeros((n * rs, d * cs))
    big[::rs, ::cs] = values
    out["stepped"] = big[::rs, ::cs]
    bigf = np.asfortranarray(np.zeros((n * rs, d * cs)))
    bigf[::rs, ::cs] = values
    out["stepped Fortran"] = bigf[::rs, ::cs]
    for name, v in out.items():
        assert np.array_equal(v, values), name
    return out


def broadcasts(row, n):
    """Zero-stride views: one row repeated (row stride 0), and one value everywhere."""
    d = row.shape[0]
    return {
        "zero row stride": np.broadcast_to(row.reshape(1, d), (n, d)),
        "zero strides": np.broadcast_to(np.array(row[0]), (n, d)),
    }


def same(f, *args):
    """``f(*args)`` and ``f`` on contiguous copies of the array arguments agree exactly."""

    def call(xs):
        try:
            return ("ok", f(*xs))
        except Exception as e:  # compared by type below
            return ("raised", type(e))

    got = call(args)
    want = call([np.ascontiguousarray(a) if isinstance(a, np.ndarray) else a for a in args])
    assert got[0] == want[0], (got, want)
    if got[0] == "raised":
        assert got[1] is want[1]
        return
    flat_g, flat_w = flatten(got[1]), flatten(want[1])
    assert len(flat_g) == len(flat_w)
    for a, b in zip(flat_g, flat_w):
        assert np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)


def flatten(result):
    if isinstance(result, dict):
        return [result[k] for k in sorted(result)]
    if isinstance(result, (tuple, list)):
        return [x for r in result for x in flatten(r)]
    return [result]


GMM = ssl_gmm.Gmm.preset("pca-trap")
D = GMM.dim


def functions(x, y, a, b, w):
    """Every array-taking function, each bound to its arguments (x, y: n x D samples; a, b:
    r x D maps; w: r x r predictor)."""
    z = (np.arange(x.shape[0]) % 3).astype(np.int64)
    return {
        "posterior": (GMM.posterior, x),
        "infonce": (lambda a_, x_, y_: ssl_gmm.infonce(a_, x_, y_), a, x, y),
        "simsiam": (lambda a_, w_, x_, y_: ssl_gmm.simsiam(a_, w_, x_, y_), a, w, x, y),
        "clip": (lambda a_, b_, x_, y_: ssl_gmm.clip(a_, b_, x_, y_), a, b, x, y),
        "principal_angles": (ssl_gmm.principal_angles, a, b),
        "sin_theta_max": (ssl_gmm.sin_theta_max, a, b),
        "population_infonce": (lambda a_: ssl_gmm.population_infonce(GMM, a_, n_outer=64, seed=0), a),
        "pca_fit": (lambda x_: ssl_gmm._native.pca_fit(x_, 2), x),
        "lda_fit": (lambda x_: ssl_gmm._native.lda_fit(x_, z, None), x),
        "cca_pairs_fit": (lambda x_, y_: ssl_gmm._native.cca_pairs_fit(x_, y_, 2, 0.0), x, y),
        "kmeans_fit": (lambda x_: ssl_gmm._native.kmeans_fit(x_, 3, 2, 50, 1e-4, 0), x),
        "Gmm": (lambda m_, c_: ssl_gmm.Gmm(np.array([0.5, 0.5]), m_, c_).means, x[:2], np.eye(D) * 2.0),
    }


def test_every_function_reads_every_layout_by_its_real_strides():
    rng = np.random.default_rng(SEED)
    for _ in range(CASES):
        n, r = int(rng.integers(6, 40)), int(rng.integers(1, 3))
        x, y = rng.normal(size=(n, D)), rng.normal(size=(n, D))
        a, b, w = rng.normal(size=(r, D)) * 0.3, rng.normal(size=(r, D)) * 0.3, rng.normal(size=(r, r))
        lx, ly, la = layouts(x, rng), layouts(y, rng), layouts(a, rng)
        names = list(lx)
        for name, (f, *args) in functions(x, y, a, b, w).items():
            pick = names[int(rng.integers(len(names)))]
            swapped = [lx[pick] if arg is x else ly[pick] if arg is y else la[pick] if arg is a else arg for arg in args]
            same(f, *swapped)


def test_zero_strides_are_read_as_repeated_values():
    rng = np.random.default_rng(SEED + 1)
    row = rng.normal(size=D)
    for name, v in broadcasts(row, 5).items():
        p = GMM.posterior(v)
        assert np.array_equal(p, GMM.posterior(np.ascontiguousarray(v))), name
        assert np.all(p == p[0]), f"{name}: equal rows must have equal posteriors"
        means = ssl_gmm.Gmm(np.array([0.5, 0.5]), np.broadcast_to(row[:3], (2, 3)), np.eye(3)).means
        assert np.array_equal(means, np.tile(row[:3], (2, 1)))
        x = rng.normal(size=(5, D))
        for f, args in [
            (ssl_gmm.infonce, (v[:2] * 0.1, x, v)),
            (ssl_gmm.sin_theta_max, (v[:2] + np.eye(2, D), np.eye(2, D))),
        ]:
            same(f, *args)


def test_a_huge_zero_stride_array_is_read_without_touching_foreign_memory():
    # Before the intake layer this segfaulted: 10**6 rows read from one row's memory.
    big = np.broadcast_to(np.ones((1, 10)), (10**6, 10))
    with pytest.raises(ValueError, match="expected 2, got 1000000"):
        ssl_gmm.Gmm(np.array([0.5, 0.5]), big, np.eye(10))
    p = GMM.posterior(big[:1000])
    assert np.all(p == p[0])


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.bool_])
def test_other_real_dtypes_are_converted_exactly_in_every_layout(dtype):
    rng = np.random.default_rng(SEED + 2)
    x = (rng.normal(size=(8, D)) * 4).astype(dtype)
    want = GMM.posterior(x.astype(np.float64))
    for v in (x, np.asfortranarray(x), x[::-1], np.broadcast_to(x[:1], (8, D))):
        assert np.array_equal(GMM.posterior(v), GMM.posterior(np.array(v, dtype=np.float64)))
    assert np.array_equal(GMM.posterior(x.tolist()), want)


@pytest.mark.parametrize("dtype", [np.complex128, object, str])
def test_complex_object_and_string_arrays_are_refused_alike_in_every_layout(dtype):
    rng = np.random.default_rng(SEED + 2)
    x = rng.normal(size=(8, D)).astype(dtype)
    for v in (x, np.asfortranarray(x), x[::-1], np.broadcast_to(x[:1], (8, D))):
        with pytest.raises(TypeError):
            GMM.posterior(v)


def test_sizes_beyond_the_memory_budget_raise_memory_error_before_allocating():
    before = ssl_gmm.max_memory()
    try:
        for call in (
            lambda: GMM.sample(10**12),
            lambda: GMM.sample_pairs(10**12, 1.0),
            lambda: ssl_gmm.train(GMM, samples=10**12),
            lambda: ssl_gmm.population_infonce(GMM, np.eye(2, D), n_outer=10**12),
            lambda: ssl_gmm.ClipGmm.preset("clip").sample_pairs(10**12),
        ):
            with pytest.raises(MemoryError, match="above the memory budget"):
                call()
        ssl_gmm.set_max_memory(1 << 20)
        with pytest.raises(MemoryError, match="1.0 MiB"):
            GMM.sample(100_000)
        assert GMM.sample(1000)["x"].shape == (1000, D)
    finally:
        ssl_gmm.set_max_memory(before)
    with pytest.raises(ValueError):
        ssl_gmm.set_max_memory(0)


def test_counts_are_whole_numbers_and_complex_data_is_refused():
    x = np.random.default_rng(SEED + 3).normal(size=(30, 4))
    with pytest.raises(ValueError, match="whole number"):
        ssl_gmm.PCA(n_components=2.7).fit(x)
    with pytest.raises(TypeError, match="integer"):
        ssl_gmm.PCA(n_components=True).fit(x)
    assert ssl_gmm.PCA(n_components=2.0).fit(x).components_.shape == (2, 4)
    with pytest.raises(TypeError, match="complex"):
        ssl_gmm.PCA().fit(x + 1j)
    with pytest.raises(ValueError, match="n_outer"):
        ssl_gmm.population_infonce(GMM, np.eye(2, D), n_outer=0)


def test_train_says_why_it_stopped_and_never_certifies_its_start():
    fit = ssl_gmm.train(GMM, samples=2048, seed=0)
    assert fit.converged and fit.stop == "grad-tol"
    # tau = 1e300 makes every score 0: the gradient is zero at the start, nothing is certified.
    flat = ssl_gmm.train(GMM, samples=512, tau=1e300, seed=0)
    assert not flat.converged and flat.stop == "stationary-start" and flat.steps == 0
    with pytest.raises(ValueError, match="work bound"):
        ssl_gmm.train(GMM, samples=256, max_iters=10**12)
    early = ssl_gmm.train(GMM, samples=2048, tol=1e-15, seed=0)
    assert not early.converged and early.stop == "no-decrease"
