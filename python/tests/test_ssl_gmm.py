"""The Python package against NumPy / SciPy / scikit-learn / JAX, bad input, determinism.

Tolerances: the exact quantities (Fisher subspace, principal angles, LDA and PCA on one data set)
are computed by two independent double-precision routes, so they agree to rounding: a few
hundred ulps of the quantities' scale (1e-10 leaves margin for conditioning up to 1e4 and is
stated per test). Gradients against central finite differences: truncation O(h^2) and rounding
O(eps / h) give a relative error near 1e-9 at h = 1e-5; the tests allow 1e-6.
"""

import gzip
import os

import numpy as np
import pytest

import ssl_gmm

scipy_linalg = pytest.importorskip("scipy.linalg")

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "experiments", "data")


def wine():
    """The UCI wine data in the repository's experiments/data/ (178 x 13, 3 classes; its README.md)."""
    raw = np.genfromtxt(os.path.join(DATA, "wine.csv"), delimiter=",", skip_header=1)
    return raw[:, :-1], raw[:, -1].astype(np.int64)


def sin_max(a, b):
    """sin of the largest principal angle between row spaces, by SciPy."""
    return float(np.sin(scipy_linalg.subspace_angles(a.T, b.T).max()))


# --- agreement with NumPy / SciPy -------------------------------------------------------------


def test_fisher_subspace_matches_scipy_generalized_eigh():
    for name in ("anisotropic", "pca-trap"):
        g = ssl_gmm.Gmm.preset(name)
        w, mu, sigma = g.weights, g.means, g.covariance
        centred = mu - w @ mu
        s_b = (centred.T * w) @ centred
        vals, vecs = scipy_linalg.eigh(s_b, sigma)
        f_scipy = vecs[:, np.argsort(vals)[::-1][: g.k - 1]].T
        f = g.fisher_subspace()
        assert np.abs(f @ f.T - np.eye(g.k - 1)).max() < 1e-12  # orthonormal rows
        assert sin_max(f, f_scipy) < 1e-10, name


def test_principal_angles_match_scipy_subspace_angles():
    rng = np.random.default_rng(3)
    worst = 0.0
    for _ in range(20):
        a, b = rng.standard_normal((3, 9)), rng.standard_normal((4, 9))
        ours = np.sort(ssl_gmm.principal_angles(a, b))
        theirs = np.sort(scipy_linalg.subspace_angles(a.T, b.T))
        worst = max(worst, np.abs(ours - theirs).max())
        assert abs(ssl_gmm.sin_theta_max(a, b) - np.sin(theirs.max())) < 1e-10
    assert worst < 1e-10, worst


def test_posterior_matches_bayes_rule_in_numpy():
    g = ssl_gmm.Gmm.preset("anisotropic")
    x = g.sample(50, seed=2)["x"]
    prec = np.linalg.inv(g.covariance)
    logits = np.log(g.weights) + x @ prec @ g.means.T - 0.5 * np.einsum("kd,de,ke->k", g.means, prec, g.means)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    assert np.abs(ssl_gmm.Gmm.posterior(g, x) - p).max() < 1e-10


# --- agreement with scikit-learn, in a Pipeline -----------------------------------------------


def test_lda_and_pca_agree_with_scikit_learn_on_the_wine_data():
    sk_da = pytest.importorskip("sklearn.discriminant_analysis")
    sk_dec = pytest.importorskip("sklearn.decomposition")
    x, y = wine()
    ours = ssl_gmm.LDA().fit(x, y)
    theirs = sk_da.LinearDiscriminantAnalysis(solver="eigen").fit(x, y)
    assert sin_max(ours.components_, theirs.scalings_[:, :2].T) < 1e-8
    assert np.abs(ours.explained_variance_ratio_ - theirs.explained_variance_ratio_[:2]).max() < 1e-10
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    p, q = ssl_gmm.PCA(3).fit(z), sk_dec.PCA(3).fit(z)
    assert np.abs(np.abs(p.components_) - np.abs(q.components_)).max() < 1e-10
    assert np.abs(p.explained_variance_ratio_ - q.explained_variance_ratio_).max() < 1e-12
    assert np.abs(np.abs(p.transform(z)) - np.abs(q.transform(z))).max() < 1e-9


def test_estimators_work_in_a_scikit_learn_pipeline_and_clone():
    sk_base = pytest.importorskip("sklearn.base")
    sk_pipe = pytest.importorskip("sklearn.pipeline")
    sk_lin = pytest.importorskip("sklearn.linear_model")
    x, y = wine()
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    pipe = sk_pipe.Pipeline([("pca", ssl_gmm.PCA(5)), ("clf", sk_lin.LogisticRegression(max_iter=1000))])
    assert pipe.fit(z, y).score(z, y) > 0.9
    pipe.set_params(pca__n_components=2)
    assert pipe.get_params()["pca__n_components"] == 2
    assert pipe.fit(z, y).named_steps["pca"].components_.shape == (2, 13)
    lda = sk_base.clone(ssl_gmm.LDA(n_components=1))
    assert lda.get_params() == {"n_components": 1}
    assert sk_pipe.make_pipeline(ssl_gmm.LDA(), sk_lin.LogisticRegression()).fit(x, y).score(x, y) > 0.95


def test_clustering_metrics_match_scikit_learn():
    sk_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    truth, pred = rng.integers(0, 4, 300), rng.integers(0, 3, 300)
    pred[:150] = truth[:150] % 3
    assert abs(ssl_gmm.ari(truth, pred) - sk_metrics.adjusted_rand_score(truth, pred)) < 1e-12
    assert abs(ssl_gmm.nmi(truth, pred) - sk_metrics.normalized_mutual_info_score(truth, pred)) < 1e-12
    km = ssl_gmm.KMeans(3, random_state=1).fit(ssl_gmm.Gmm.preset("anisotropic").sample(300, seed=4)["x"])
    assert km.labels_.shape == (300,) and km.cluster_centers_.shape == (3, 10)
    assert np.array_equal(km.predict(ssl_gmm.Gmm.preset("anisotropic").sample(300, seed=4)["x"]), km.labels_)


def test_cca_on_pairs_finds_fisher_where_pca_fails():
    g = ssl_gmm.Gmm.preset("pca-trap")
    p = g.sample_pairs(20000, 0.9, seed=5)
    cca = ssl_gmm.CCAPairs(2).fit(p["x"], p["x_plus"])
    f = g.fisher_subspace()
    # Sample error ~ n^{-1/2} = 7e-3 per direction; PCA's population answer is orthogonal-ish.
    assert ssl_gmm.sin_theta_max(cca.components_, f) < 0.05
    assert ssl_gmm.sin_theta_max(g.pca_subspace(2), f) > 0.99


# --- gradients: finite differences, and JAX autodiff where installed ---------------------------


def central_difference(f, a, h=1e-5):
    g = np.zeros_like(a)
    for idx in np.ndindex(a.shape):
        e = np.zeros_like(a)
        e[idx] = h
        g[idx] = (f(a + e) - f(a - e)) / (2 * h)
    return g


def batch(seed=0, n=32, d=6, r=3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    return 0.3 * rng.standard_normal((r, d)), x, x + 0.5 * rng.standard_normal((n, d))


@pytest.mark.parametrize("form", ["one-way", "symmetric", "simclr"])
@pytest.mark.parametrize("score", ["dot", "cosine"])
def test_infonce_gradient_matches_finite_differences(form, score):
    a, x, xp = batch(1)
    loss, grad = ssl_gmm.infonce(a, x, xp, tau=0.7, form=form, score=score)
    fd = central_difference(lambda m: ssl_gmm.infonce(m, x, xp, tau=0.7, form=form, score=score)[0], a)
    assert np.abs(grad - fd).max() <= 1e-6 * max(1.0, np.abs(fd).max())


def test_simsiam_and_clip_gradients_match_finite_differences():
    a, x, xp = batch(2)
    w = np.eye(3) + 0.2 * np.random.default_rng(0).standard_normal((3, 3))
    for form in ("mse", "neg-cosine"):
        # The stop-gradient target A x+ is held fixed for differentiation: differentiate in W
        # exactly, and in A through the online branch only (the returned gradient's meaning).
        _, ga, gw = ssl_gmm.simsiam(a, w, x, xp, form=form)
        fd_w = central_difference(lambda m: ssl_gmm.simsiam(a, m, x, xp, form=form)[0], w)
        assert np.abs(gw - fd_w).max() <= 1e-6 * max(1.0, np.abs(fd_w).max())
        assert ga.shape == a.shape
    rng = np.random.default_rng(4)
    y = rng.standard_normal((32, 5))
    b = 0.3 * rng.standard_normal((3, 5))
    _, ga, gb = ssl_gmm.clip(a, b, x, y, tau=0.5)
    fd_a = central_difference(lambda m: ssl_gmm.clip(m, b, x, y, tau=0.5)[0], a)
    fd_b = central_difference(lambda m: ssl_gmm.clip(a, m, x, y, tau=0.5)[0], b)
    assert np.abs(ga - fd_a).max() <= 1e-6 and np.abs(gb - fd_b).max() <= 1e-6


def test_infonce_gradient_matches_jax_autodiff():
    jax = pytest.importorskip("jax", reason="JAX is not installed: the finite-difference tests cover the gradients")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy

    def loss(a, x, xp):
        s = (x @ a.T) @ (xp @ a.T).T / 0.7
        return jnp.mean(jax.nn.logsumexp(s, axis=1) - jnp.diag(s))

    a, x, xp = batch(5, n=64, d=8, r=4)
    value, grad = ssl_gmm.infonce(a, x, xp, tau=0.7)
    jv, jg = jax.value_and_grad(loss)(jnp.asarray(a), jnp.asarray(x), jnp.asarray(xp))
    assert abs(value - float(jv)) < 1e-12
    assert np.abs(grad - np.asarray(jg)).max() / np.abs(np.asarray(jg)).max() < 1e-12


# --- training, checks, determinism -------------------------------------------------------------


def test_train_infonce_is_certified_finds_fisher_and_is_deterministic():
    g = ssl_gmm.Gmm.preset("pca-trap")
    a, b = ssl_gmm.train(g, seed=3), ssl_gmm.train(g, seed=3)
    assert a.converged and a.relative_grad_norm <= 1e-5
    assert np.array_equal(a.components, b.components)
    # 8192 pairs: sample error ~ n^{-1/2} ~ 1e-2 per direction; PCA is at 1.
    assert ssl_gmm.sin_theta_max(a.components, g.fisher_subspace()) < 0.1
    assert a.hyperparameters["samples"] == 8192 and a.losses.ndim == 1


def test_train_clip_on_the_clip_preset():
    c = ssl_gmm.Gmm.preset("clip")
    assert isinstance(c, ssl_gmm.ClipGmm)
    assert ssl_gmm.ClipGmm.from_json(ssl_gmm.ClipGmm.preset("clip").to_json()).to_json() == c.to_json()
    with pytest.raises(ValueError, match="one-modality"):
        ssl_gmm.ClipGmm.preset("pca-trap")
    # Fixed seeds: with fresh entropy this test failed once in CI (0.213). Over seeds 0-39 the
    # certified fit on 8192 pairs is 0.034-0.182 from F (a sample error ~ n^{-1/2} times this
    # preset's weakest Fisher direction's conditioning); PCA of x, the nearest wrong answer, is
    # at 0.995. C10 checks the claim itself against a noise floor; this checks the binding.
    f = c.fisher_subspace("x")
    for seed in (1, 2, 3):
        fit = ssl_gmm.train(c, method="clip", seed=seed)
        assert fit.converged and fit.components_y is not None
        assert ssl_gmm.sin_theta_max(fit.components, f) < 0.2
    pca = ssl_gmm.PCA(n_components=2).fit(c.sample_pairs(8192, seed=1)["x"])
    assert ssl_gmm.sin_theta_max(pca.components_, f) > 0.9


def test_same_seed_same_arrays():
    g = ssl_gmm.Gmm.preset("anisotropic")
    p, q = g.sample_pairs(100, 0.5, seed=9), g.sample_pairs(100, 0.5, seed=9)
    assert all(np.array_equal(p[k], q[k]) for k in p)
    assert not np.array_equal(p["x"], g.sample_pairs(100, 0.5, seed=10)["x"])


def test_check_returns_the_evidence_of_each_claim():
    out = ssl_gmm.check(["C1", "C2", "C5"], quick=True, seed=7, skip="c5")
    assert [o["id"] for o in out] == ["C1", "C2"]
    for o in out:
        assert o["verdict"] == "holds"
        assert o["evidence"]["passed_cases"] >= o["evidence"]["cases"] - o["evidence"]["allowed"]
        assert o["control"]["as_required"]  # the control failed, as it must
        # Exact identities: no rate, nothing may go the wrong way, no chance of a false verdict.
        assert o["calibration"]["kind"] == "exact" and o["error_bound"] == 0.0
        assert o["evidence"]["rate"] == 0.0 and o["evidence"]["allowed"] == 0


def test_json_round_trip():
    g = ssl_gmm.Gmm.preset("anisotropic")
    h = ssl_gmm.Gmm.from_json(g.to_json())
    assert np.array_equal(g.means, h.means) and np.array_equal(g.covariance, h.covariance)


# --- bad input: typed errors, never a crash ----------------------------------------------------


def test_bad_input_raises_value_or_type_errors():
    a, x, xp = batch(0)
    with pytest.raises(TypeError, match="complex"):
        ssl_gmm.infonce(a, x.astype(np.complex128), xp)
    with pytest.raises(TypeError, match="2-d"):
        ssl_gmm.infonce(a, x[0], xp)
    with pytest.raises(TypeError, match="real numbers"):
        ssl_gmm.infonce(a, [[1.0, 2.0], [3.0]], xp)
    with pytest.raises(ValueError, match="rows"):
        ssl_gmm.infonce(a, [[1.0, 2.0]], xp)
    with pytest.raises(ValueError, match="shape"):
        ssl_gmm.infonce(a[:, :2], x, xp)
    with pytest.raises(ValueError, match="rows"):
        ssl_gmm.infonce(a, x, xp[:5])
    bad = x.copy()
    bad[4, 2] = np.nan
    with pytest.raises(ValueError, match="row 4, column 2"):
        ssl_gmm.infonce(a, bad, xp)
    with pytest.raises(ValueError, match="tau"):
        ssl_gmm.infonce(a, x, xp, tau=0.0)
    with pytest.raises(ValueError):
        ssl_gmm.infonce(a, x, xp, form="two-way")
    # Negative strides are read by their real strides (test_intake.py covers every layout).
    assert ssl_gmm.infonce(a, x[::-1], xp)[0] == ssl_gmm.infonce(a, np.ascontiguousarray(x[::-1]), xp)[0]
    with pytest.raises(ValueError):
        ssl_gmm.Gmm(np.array([0.5, 0.6]), np.zeros((2, 3)), np.eye(3))  # weights do not sum to 1
    with pytest.raises(ValueError):
        ssl_gmm.Gmm.preset("no-such-preset")
    with pytest.raises(ValueError):
        ssl_gmm.Gmm.from_json("{not json")
    with pytest.raises(ValueError):
        ssl_gmm.Gmm.preset("anisotropic").sample_pairs(10, 1.5)
    with pytest.raises(ValueError):
        ssl_gmm.LDA().fit(np.zeros((4, 2)), [0, 0.5, 1, 1])
    with pytest.raises(ValueError):
        ssl_gmm.PCA(3).transform(np.zeros((2, 2)))  # not fitted
    with pytest.raises(ValueError):
        ssl_gmm.check(["C99"])
    with pytest.raises(ValueError, match="skipped but not selected"):
        ssl_gmm.check(["C1"], skip=["C2"])
    with pytest.raises(ValueError, match="nothing to run"):
        ssl_gmm.check("C1", skip="C1")
    with pytest.raises(ValueError):
        ssl_gmm.train(ssl_gmm.Gmm.preset("anisotropic"), method="clip")
    # Fortran order and strided views are read as they are.
    assert ssl_gmm.infonce(a, np.asfortranarray(x), xp)[0] == ssl_gmm.infonce(a, x, xp)[0]
    assert ssl_gmm.infonce(a, x[::2], xp[::2])[0] == ssl_gmm.infonce(a, x[::2].copy(), xp[::2].copy())[0]


def test_every_memory_layout_gives_the_same_bits():
    # C order is transposed in 8 x 8 tiles, other layouts read through a strided view: shapes
    # that are not multiples of 8 exercise the tiles' edges.
    rng = np.random.default_rng(8)
    for n, d in [(37, 13), (8, 8), (9, 1), (64, 17)]:
        x, xp = rng.standard_normal((n, d)), rng.standard_normal((n, d))
        a = 0.3 * rng.standard_normal((2, d))
        ref = ssl_gmm.infonce(a, np.asfortranarray(x), np.asfortranarray(xp))
        for cx, cxp in [(x, xp), (x.copy(order="C"), xp[:, :]), (np.ascontiguousarray(x), np.asfortranarray(xp))]:
            got = ssl_gmm.infonce(a, cx, cxp)
            assert got[0] == ref[0] and np.array_equal(got[1], ref[1]), (n, d)


def test_an_unconverged_run_says_so():
    fit = ssl_gmm.train(ssl_gmm.Gmm.preset("pca-trap"), max_iters=2)
    assert fit.converged is False and fit.steps <= 2


def test_ctrl_c_stops_a_long_fit_with_keyboard_interrupt():
    import signal
    import threading
    import time

    g = ssl_gmm.Gmm.preset("anisotropic")
    done = threading.Event()

    def interrupt():
        # SIGINT every 0.3 s until the call returns: one signal is enough, the repeats make the
        # test independent of when the first one lands (e.g. on a loaded machine).
        while not done.wait(0.3):
            os.kill(os.getpid(), signal.SIGINT)

    raised = []

    def handler(signum, frame):
        # Python's own behaviour (KeyboardInterrupt), once: repeats after it are ignored.
        if not raised:
            raised.append(signum)
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, handler)
    sender = threading.Thread(target=interrupt, daemon=True)
    start = time.perf_counter()
    sender.start()
    try:
        # 2e5 pairs to a tolerance it cannot reach before rounding: many seconds of L-BFGS.
        with pytest.raises(KeyboardInterrupt):
            ssl_gmm.train(g, samples=200_000, tol=1e-300, max_iters=100_000)
    finally:
        done.set()
        sender.join()
        signal.signal(signal.SIGINT, previous)
    assert time.perf_counter() - start < 30.0


def test_unseeded_sampling_is_fresh_and_seeds_take_generators():
    """NumPy's convention: ``seed=None`` (the default) draws fresh entropy, so two unseeded calls
    differ; an int or a ``numpy.random.Generator`` makes the draw repeatable; train records the
    seed it resolved, so an unseeded fit can be repeated."""
    g = ssl_gmm.Gmm.preset("anisotropic")
    assert not np.array_equal(g.sample_pairs(256, 1.0)["x"], g.sample_pairs(256, 1.0)["x"])
    a = g.sample(50, seed=np.random.default_rng(3))["x"]
    assert np.array_equal(a, g.sample(50, seed=np.random.default_rng(3))["x"])
    with pytest.raises(TypeError, match="bool"):
        g.sample(5, seed=True)
    with pytest.raises(ValueError, match="non-negative"):
        g.sample(5, seed=-1)
    fit = ssl_gmm.train(g, samples=512)
    again = ssl_gmm.train(g, samples=512, seed=fit.hyperparameters["seed"])
    assert np.array_equal(fit.components, again.components)


def test_mixtures_pickle_and_compare():
    """Mixtures travel to joblib or multiprocessing workers: pickling is their JSON, exact."""
    import pickle

    for g in (ssl_gmm.Gmm.preset("anisotropic"), ssl_gmm.ClipGmm.preset("clip")):
        back = pickle.loads(pickle.dumps(g))
        assert back == g and type(back) is type(g)
        assert back.to_json() == g.to_json()
    assert ssl_gmm.Gmm.preset("anisotropic") != ssl_gmm.Gmm.preset("pca-trap")
    assert ssl_gmm.Gmm.preset("anisotropic") != "anisotropic"


def test_every_public_callable_has_a_runtime_docstring():
    """``help(ssl_gmm.x)`` shows the formulas, not a bare signature: every public function,
    class and public method carries its own docstring at run time (not only in the stubs)."""
    import inspect

    missing = []
    for name in ssl_gmm.__all__:
        obj = getattr(ssl_gmm, name)
        if callable(obj) and not (obj.__doc__ or "").strip():
            missing.append(name)
        if inspect.isclass(obj):
            for attr in vars(obj):
                member = getattr(obj, attr, None)
                if not attr.startswith("_") and callable(member) and not (member.__doc__ or "").strip():
                    missing.append(f"{name}.{attr}")
    assert not missing, missing


def test_every_public_callable_documents_each_parameter_numpydoc_style():
    """Every public function, class (its constructor) and method with parameters has a numpydoc
    ``Parameters`` section naming each of them (``a, b : type`` lines count for both), at run
    time: ``help()`` and IDEs show it without the stubs."""
    import inspect

    try:  # the JAX wrappers when JAX is installed (CI installs it)
        import ssl_gmm.jax as sj

        jax_names = sj.__all__
    except ImportError:
        sj, jax_names = None, []

    def named(doc, name):
        for line in inspect.cleandoc(doc).splitlines():
            if " : " in line and not line.startswith(" ") and name in line.split(" : ")[0].split(", "):
                return True
        return False

    def problems(qualified, obj):
        try:
            sig = inspect.signature(obj)
        except (TypeError, ValueError):
            return []
        params = [
            p.name
            for p in sig.parameters.values()
            if p.name not in ("self", "cls") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        doc = obj.__doc__ or ""
        if params and "Parameters\n----------" not in inspect.cleandoc(doc):
            return [f"{qualified}: no Parameters section"]
        return [f"{qualified}: {p} undocumented" for p in params if not named(doc, p)]

    found, checked = [], 0
    for name in ssl_gmm.__all__:
        obj = getattr(ssl_gmm, name)
        if inspect.isclass(obj):
            if not issubclass(obj, Exception):
                found += problems(name, obj)
                checked += 1
            for attr in vars(obj):
                member = getattr(obj, attr, None)
                if not attr.startswith("_") and callable(member):
                    found += problems(f"{name}.{attr}", member)
                    checked += 1
        elif callable(obj):
            found += problems(name, obj)
            checked += 1
    for name in jax_names:
        found += problems(f"jax.{name}", getattr(sj, name))
        checked += 1
    assert checked > 45 and not found, found


def test_estimators_work_without_scikit_learn():
    """scikit-learn is an optional extra: with its import blocked, the stand-in gives the same
    API and the same validation messages (run in a fresh interpreter)."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        """
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "sklearn":
                    raise ImportError("blocked for this test")
        sys.meta_path.insert(0, Block())
        import numpy as np, ssl_gmm
        assert not ssl_gmm._SKLEARN
        x = np.random.default_rng(0).normal(size=(60, 4))
        assert ssl_gmm.PCA(2).fit(x).transform(x).shape == (60, 2)
        assert ssl_gmm.CCAPairs(1).fit(x, X_plus=x * np.arange(1, 5) + np.tanh(x)).transform(x).shape == (60, 1)
        assert ssl_gmm.KMeans(3, random_state=1).fit(x).labels_.shape == (60,)
        assert set(ssl_gmm.LDA().fit(x, np.where(x[:, 0] > 0, "a", "b")).predict(x)) <= {"a", "b"}
        for call, words in [
            (lambda: ssl_gmm.PCA().fit(x[:1]), "minimum of 2 sample"),
            (lambda: ssl_gmm.CCAPairs().fit(x), "second view"),
            (lambda: ssl_gmm.CCAPairs().fit(x, X_plus=x[:3]), "must match"),
            (lambda: ssl_gmm.PCA().transform(x), "not fitted"),
        ]:
            try:
                call()
                raise SystemExit(f"no error: {words}")
            except ValueError as e:
                assert words in str(e), e
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


# --- parity with the command line: every method, streams, callbacks, generators ------------------


def test_python_trains_everything_the_command_line_trains():
    """Same library calls as `ssl-gmm train`, so the same numbers for the same seed (checked by
    hand against the CLI's JSON: identical components, losses and steps for each method).
    Thresholds: the streams run 2000 steps on fresh batches of 256 (sample error ~ 0.02);
    whitened SimSiam's certificate is sin theta_max <= 0.05 to the optimum of its problem,
    which for centred pairs spans F (docs/theory.md, C11); PCA sits at ~1 on pca-trap."""
    g = ssl_gmm.Gmm.preset("pca-trap")
    fisher = g.fisher_subspace()
    streamed = ssl_gmm.train(g, method="infonce", stream=True, seed=4)
    assert streamed.solver == "stream" and not streamed.converged and streamed.certificate is None
    assert streamed.steps == 2000 and streamed.losses.shape == (2000,)
    assert ssl_gmm.sin_theta_max(streamed.components, fisher) < 0.1
    whitened = ssl_gmm.train(g, method="simsiam-whitened", seed=4)
    assert whitened.converged and whitened.whitened_certificate["sin_to_optimum"] <= 0.05
    assert ssl_gmm.sin_theta_max(whitened.components, fisher) < 0.1
    plain = ssl_gmm.train(g, method="simsiam", steps=300, seed=4)
    assert plain.hyperparameters["loss"] == "simsiam" and plain.hyperparameters["whitening"] == "none"
    c = ssl_gmm.ClipGmm.preset("clip")
    clip = ssl_gmm.train(c, method="clip", stream=True, steps=300, seed=4)
    assert clip.components.shape[1] == c.dims[0] and clip.components_y.shape[1] == c.dims[1]
    # One vocabulary with the CLI's JSON: option spellings, not Rust names.
    assert streamed.hyperparameters["form"] == "one-way" and streamed.hyperparameters["score"] == "dot"
    assert streamed.hyperparameters["optimizer"]["kind"] == "adam"


def test_options_of_the_other_solver_and_wrong_models_are_refused():
    g, c = ssl_gmm.Gmm.preset("pca-trap"), ssl_gmm.ClipGmm.preset("clip")
    for call, words in [
        (lambda: ssl_gmm.train(g, steps=10), "stream=True"),
        (lambda: ssl_gmm.train(g, stream=True, samples=100), "fixed sample"),
        (lambda: ssl_gmm.train(g, method="simsiam", whiten=False), "never whitened"),
        (lambda: ssl_gmm.train(g, method="simsiam-whitened", optimizer="adam"), "recipe"),
        (lambda: ssl_gmm.train(g, method="clip"), "two-modality"),
        (lambda: ssl_gmm.train(c, method="simsiam"), "CLIP only"),
        (lambda: ssl_gmm.train(g, method="byol"), "unknown method"),
        (lambda: ssl_gmm.train(c, method="clip", center=False), "always centred"),
        (lambda: ssl_gmm.train(g, method="simsiam", optimizer="rmsprop"), "rmsprop"),
    ]:
        with pytest.raises(ValueError, match=words):
            call()
    with pytest.raises(TypeError, match="callable"):
        ssl_gmm.train(g, callback=3)


def test_a_callback_sees_every_step_and_can_stop_the_run():
    g = ssl_gmm.Gmm.preset("pca-trap")
    seen = []

    def stop_after_ten(step, loss):
        seen.append((step, loss))
        return step < 9

    fit = ssl_gmm.train(g, method="simsiam", steps=500, callback=stop_after_ten, seed=1)
    assert fit.stop == "interrupted" and fit.steps == 10 and [s for s, _ in seen] == list(range(10))
    assert np.array_equal(fit.losses, [v for _, v in seen])
    lbfgs = ssl_gmm.train(g, samples=1024, callback=lambda step, loss: None, seed=1)
    assert lbfgs.stop == "grad-tol"  # None continues

    def fail(step, loss):
        raise ZeroDivisionError("from the callback")

    with pytest.raises(ZeroDivisionError, match="from the callback"):
        ssl_gmm.train(g, samples=1024, callback=fail, seed=1)


def test_train_results_pickle_compare_and_keep_their_old_names_with_a_warning():
    import pickle
    import warnings

    fit = ssl_gmm.train(ssl_gmm.Gmm.preset("pca-trap"), samples=1024, seed=2)
    again = pickle.loads(pickle.dumps(fit))
    assert again == fit and again is not fit
    assert ssl_gmm.train(ssl_gmm.Gmm.preset("pca-trap"), samples=1024, seed=3) != fit
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert fit.iterations == fit.steps and fit.loss == fit.final_loss
        assert np.array_equal(fit.loss_curve, fit.losses)
    assert [w.category for w in caught] == [FutureWarning] * 3
    with pytest.raises(AttributeError):
        fit.no_such_field


def test_mixture_generators_are_seeded_and_make_pca_fail_where_asked():
    g = ssl_gmm.Gmm.generate(3, 10, noise_direction=4.0, seed=1)
    assert g == ssl_gmm.Gmm.generate(3, 10, noise_direction=4.0, seed=1)
    assert g != ssl_gmm.Gmm.generate(3, 10, noise_direction=4.0, seed=2)
    # The dominant noise direction is orthogonal to the means: PCA's top-2 subspace misses F.
    assert ssl_gmm.sin_theta_max(g.pca_subspace(2), g.fisher_subspace()) > 0.9
    iso = ssl_gmm.Gmm.generate(3, 10, seed=1)
    assert ssl_gmm.sin_theta_max(iso.pca_subspace(2), iso.fisher_subspace()) < 1e-8
    c = ssl_gmm.ClipGmm.generate(3, 2, 6, 5, seed=1)
    assert c.dims == (6, 5) and c.k == 3
    with pytest.raises(ValueError, match="condition"):
        ssl_gmm.Gmm.generate(3, 10, condition=0.5)


def test_zoo_names_what_each_loss_recovers():
    cells = ssl_gmm.zoo(["spectral", "barlow"], ["coupled", "mask"], cases=2, seed=1)
    assert [(c["loss"], c["view"]) for c in cells] == [
        ("spectral-contrastive", "coupled"),
        ("spectral-contrastive", "mask"),
        ("barlow-twins(lambda 0.0051)", "coupled"),
        ("barlow-twins(lambda 0.0051)", "mask"),
    ]
    assert cells[0]["outcomes"] == {"F": 2} and cells[0]["median_sin_to_fisher"] < 1e-6
    assert cells[2]["outcomes"] == {"collapsed in F": 2}
    assert cells[0]["median_tolerance"] < 1e-6 and cells[0]["not_applicable"] is None
    # Population InfoNCE takes Gaussian views only; on masked views the cell is decided from
    # samples (C24): the best map in F loses on held-out pairs, so not F.
    infonce = ssl_gmm.zoo("infonce", ["coupled", "mask"], cases=1, seed=1)
    assert infonce[0]["outcomes"] == {"F": 1} and infonce[0]["median_held_out_gap"] is None
    assert infonce[1]["outcomes"] == {"not F (held-out loss)": 1} and infonce[1]["not_applicable"] is None
    assert infonce[1]["median_held_out_gap"] > 0.01 and infonce[1]["min_held_out_t"] > 3.22
    # The SimSiam flow: its stable fixed point spans F on whitened inputs (C23) and is
    # ridge-biased off F on raw ones (weight decay is not reparametrisation-invariant).
    flows = ssl_gmm.zoo(["simsiam-flow", "simsiam-flow-raw"], "coupled", cases=2, seed=1)
    assert flows[0]["outcomes"] == {"F": 2} and flows[0]["median_sin_to_fisher"] < 1e-9
    assert flows[1]["resolved"] == 2 and "F" not in flows[1]["outcomes"]
    assert 1e-4 < flows[1]["median_sin_to_fisher"] < 0.2
    with pytest.raises(ValueError, match="nope"):
        ssl_gmm.zoo(["nope"], cases=1)
    with pytest.raises(ValueError, match="blur"):
        ssl_gmm.zoo(augmentations="blur", cases=1)
