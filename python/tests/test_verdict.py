"""ssl_gmm.verdict: a loss written in Python (NumPy or JAX) through the Rust harness, from samples.

Every run is seeded (the same seed gives the same numbers); the thresholds are the harness's own
(the measured sampling floor, the runner-up beyond it) and the gradient check's stated tolerance.
"""
import numpy as np
import pytest

import ssl_gmm

jax = pytest.importorskip("jax")
jnp = jax.numpy
jax.config.update("jax_enable_x64", True)


def _infonce(a, x, x_plus):
    s = (x @ a.T) @ (x_plus @ a.T).T
    return jnp.mean(jax.nn.logsumexp(s, axis=1) - jnp.diag(s))


INFONCE = jax.jit(jax.value_and_grad(_infonce))


def variance_max(a, x, x_plus, mu=1.0):
    """Output variance under an orthonormality penalty: its minimiser's rows span the top
    eigenvectors of the second moment, PCA."""
    c = (x.T @ x + x_plus.T @ x_plus) / (2 * len(x))
    c = c / np.trace(c)
    e = a @ a.T - np.eye(len(a))
    return -np.sum((a @ c) * a) + mu * np.sum(e * e), -2 * a @ c + 4 * mu * e @ a


def test_jax_infonce_gets_the_built_in_verdict_on_the_same_mixtures_and_seeds():
    ours = ssl_gmm.verdict("infonce", mixtures=3, seed=11)
    theirs = ssl_gmm.verdict(INFONCE, mixtures=3, seed=11)
    assert ours.outcome == theirs.outcome == "F" and ours.resolved == theirs.resolved == 3
    for a, b in zip(ours.cases, theirs.cases):
        assert a["outcome"] == b["outcome"] and a["resolved"] == b["resolved"]
        # The same sample and starts: the two minimisers differ by the rounding of two
        # implementations of the same loss, far below the sampling floor.
        assert abs(a["sin_to_fisher"] - b["sin_to_fisher"]) < 1e-6
        assert a["sin_to_fisher"] <= a["tolerance"] < a["runner_up_sin"]
        assert b["gradient_error_start"] < 1e-6 and b["gradient_error_fit"] < 1e-6
    assert "F" in str(theirs) and theirs.to_dict()["case"] == [0, 1, 2]


def test_variance_under_an_orthonormality_penalty_is_pca():
    res = ssl_gmm.verdict(variance_max, mixtures=3, seed=11)
    assert res.resolved == 3 and res.outcome.startswith("PCA"), str(res)
    for c in res.cases:
        # F is beyond the floor: the case where an F verdict must fail, and does.
        assert c["sin_to_fisher"] > c["tolerance"]


def test_a_wrong_gradient_is_refused_with_its_measured_error():
    def off(a, x, x_plus):
        v, g = INFONCE(a, x, x_plus)
        return v, 1.03 * np.asarray(g)

    # Along the gradient's own direction the check measures 0.03 / 1.03 = 2.9e-2.
    with pytest.raises(ValueError, match=r"disagrees with central finite differences by 2\.9e-2 .*iteration 0"):
        ssl_gmm.verdict(off, mixtures=1, seed=11)


@pytest.mark.parametrize(
    "bad, error, message",
    [
        (lambda a, x, xp: (0.0, np.zeros((1, 1))), ValueError, r"shape \(1, 1\).*expected shape"),
        (lambda a, x, xp: (float("nan"), np.zeros_like(a)), ValueError, "non-finite loss"),
        (lambda a, x, xp: ("0.5", np.zeros_like(a)), ValueError, "expected float64"),
        (lambda a, x, xp: (1, np.zeros_like(a)), ValueError, "expected float64"),
        (lambda a, x, xp: 0.5, ValueError, "expected a pair"),
        (lambda a, x, xp: (np.float32(0.5), np.zeros(a.shape, np.float32)), ValueError, "jax_enable_x64"),
        (lambda a, x, xp: 1 / 0, RuntimeError, "ZeroDivisionError"),
    ],
)
def test_bad_callables_end_the_verdict_with_an_error_naming_the_call(bad, error, message):
    with pytest.raises(error, match=message) as info:
        ssl_gmm.verdict(bad, mixtures=1, pairs=1024, seed=11)
    text = str(info.value)
    assert "mixture 0" in text and "evaluation 1 (call 1, batch 1 of 4)" in text and "iteration 0" in text
    if error is RuntimeError:
        assert isinstance(info.value.__cause__, ZeroDivisionError)
    # The interpreter lives, and the next verdict runs.
    assert ssl_gmm.verdict("spectral", mixtures=1, pairs=1024, seed=11).cases[0]["certified"]


def test_a_failure_in_the_middle_of_the_fit_names_its_evaluation():
    calls = [0]

    def flaky(a, x, x_plus):
        calls[0] += 1
        if calls[0] == 500:
            raise KeyError("boom")
        return INFONCE(a, x, x_plus)

    with pytest.raises(RuntimeError, match=r"in the fit, evaluation \d+ \(call 500, batch \d+ of 32\)"):
        ssl_gmm.verdict(flaky, mixtures=1, seed=11)


def test_keyboard_interrupt_in_the_callable_stays_one():
    def interrupted(a, x, x_plus):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ssl_gmm.verdict(interrupted, mixtures=1, seed=11)


def test_inputs_are_checked_and_own_mixtures_taken():
    g = ssl_gmm.Gmm.generate(3, 6, separation=3.0, condition=10.0, seed=1)
    seen = []
    res = ssl_gmm.verdict("spectral", mixtures=[g], pairs=2048, seed=3, progress=seen.append)
    assert len(seen) == 1 and seen[0]["d"] == 6 and res.cases[0]["k"] == 3
    again = ssl_gmm.verdict("spectral", mixtures=g, pairs=2048, seed=3)
    assert again.cases[0]["value"] == res.cases[0]["value"]
    with pytest.raises(ValueError, match="unknown built-in loss"):
        ssl_gmm.verdict("barlow", mixtures=1)
    with pytest.raises(TypeError, match="callable"):
        ssl_gmm.verdict(3, mixtures=1)
    with pytest.raises(TypeError, match="Gmm"):
        ssl_gmm.verdict("spectral", mixtures=["x"])
    with pytest.raises(ValueError, match="augmentation"):
        ssl_gmm.verdict("spectral", augmentation="blur", mixtures=1)
    with pytest.raises(ValueError, match="at least 1"):
        ssl_gmm.verdict("spectral", mixtures=0)
    with pytest.raises(TypeError, match="progress"):
        ssl_gmm.verdict("spectral", mixtures=1, progress="yes")


def test_readme_example_prints_what_readme_shows():
    """README's bring-your-own-loss example (a Barlow Twins variant someone wrote in JAX) runs and
    prints the report README shows: F, as the population analysis predicts for lambda = 10."""
    import contextlib
    import io
    import pathlib
    import re

    readme = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text()
    code, shown = re.search(r"<!-- verdict-example -->\n```python\n(.*?)```.*?```text\n(.*?)```", readme, re.S).groups()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), {})
    # Word for word, except numbers: the sin values (printed to 3 decimals) within a unit of the
    # last digit, and the gradient check, which measures rounding (JAX's kernels differ between
    # CPUs in their last bits), below 1e-5 in both.
    got, want = printed.getvalue().splitlines(), shown.splitlines()
    assert len(got) == len(want)
    number = re.compile(r"-?\d+\.\d+(?:e-?\d+)?")
    for g, w in zip(got, want):
        assert number.sub("#", g) == number.sub("#", w), (g, w)
        for a, b in zip(number.findall(g), number.findall(w)):
            if "e" in b:
                assert float(a) < 1e-5 and float(b) < 1e-5, (g, w)
            else:
                assert abs(float(a) - float(b)) <= 1.5e-3, (g, w)


def test_augmentation_objects_make_the_views():
    g = ssl_gmm.Gmm.generate(3, 6, separation=3.0, condition=10.0, seed=1)
    coupled = ssl_gmm.Augmentation.coupled(1.0)
    p = coupled.sample(g, 500, seed=2)
    assert p["x"].shape == p["x_plus"].shape == (500, 6) and np.array_equal(p["z"], p["z_plus"])
    masked = ssl_gmm.Augmentation.identical().mask(0.5).sample(g, 500, seed=2)
    kept = masked["x_plus"] != 0
    assert np.array_equal(masked["x_plus"][kept], masked["x"][kept]) and 0.4 < kept.mean() < 0.6
    noisy = ssl_gmm.Augmentation.identical().noise(variance=4.0, side="both").sample(g, 4000, seed=3)
    # Independent noise of variance 4 on each view: the difference has variance 8 per coordinate
    # (standard error of a sample variance over 4000 draws: 8 sqrt(2 / 4000) = 0.18).
    assert abs(np.var(noisy["x"] - noisy["x_plus"], axis=0).mean() - 8.0) < 0.5
    assert ssl_gmm.Augmentation.coupled(1.0) == coupled and "coupled" in repr(coupled)
    # Sigma-shaped noise on the positive view keeps InfoNCE on F (docs/theory.md 5.8).
    res = ssl_gmm.verdict("infonce", augmentation=ssl_gmm.Augmentation.identical().noise(like_sigma=1.0),
                          mixtures=[g], seed=3)
    assert res.outcome == "F" and res.resolved == 1, str(res)
    for bad, message in [
        (lambda: ssl_gmm.Augmentation.coupled(1.5), "delta"),
        (lambda: ssl_gmm.Augmentation.identical().mask(0.0), "keep"),
        (lambda: ssl_gmm.Augmentation.identical().noise(), "exactly one"),
        (lambda: ssl_gmm.Augmentation.identical().noise(variance=1.0, like_sigma=1.0), "exactly one"),
        (lambda: ssl_gmm.Augmentation.identical().noise(variance=-1.0), "variance|scale|noise"),
        (lambda: ssl_gmm.Augmentation.identical().mask(0.5, side="up"), "side"),
        (lambda: ssl_gmm.Augmentation.identical().noise(covariance=np.eye(3)).sample(g, 10, seed=1), "3|6"),
    ]:
        with pytest.raises(ValueError, match=message):
            bad()
    with pytest.raises(TypeError, match="augmentation"):
        ssl_gmm.verdict("spectral", augmentation=3, mixtures=1)
