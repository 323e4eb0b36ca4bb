"""ssl_gmm.jax and JAX arrays against JAX's own autodiff.

Tolerance: the library's gradient and JAX's reverse-mode derivative of the same loss written in
jax.numpy are two float64 evaluations of one formula, so they agree to rounding (a few ulps of
the gradient's scale per term, ~1e-14 at n = 64); 1e-12 relative is the issue's bound and
leaves margin. float32 inputs are converted exactly, so results equal the float64 ones.
"""

import numpy as np
import pytest

import ssl_gmm

jax = pytest.importorskip("jax", reason="JAX is not installed (CI installs it)")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy
sj = pytest.importorskip("ssl_gmm.jax")

SEED = 20241105


def batch(n=64, d=8, r=4, seed=SEED):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(r, d)) * 0.5, rng.normal(size=(n, d)), rng.normal(size=(n, d))


def rel(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return float(np.abs(a - b).max() / np.abs(b).max())


def cross_entropy(s):
    """Mean over rows of -log softmax(s)_ii."""
    return jnp.mean(jax.nn.logsumexp(s, axis=1) - jnp.diag(s))


def unit_rows(z):
    return z / jnp.linalg.norm(z, axis=1, keepdims=True)


def reference_infonce(form, score, tau):
    def loss(a, x, xp):
        z, zp = x @ a.T, xp @ a.T
        if score == "cosine":
            z, zp = unit_rows(z), unit_rows(zp)
        s = z @ zp.T / tau
        return cross_entropy(s) if form == "one-way" else 0.5 * (cross_entropy(s) + cross_entropy(s.T))

    return loss


@pytest.mark.parametrize("form,score", [("one-way", "dot"), ("symmetric", "dot"), ("one-way", "cosine")])
def test_jit_grad_of_infonce_matches_jax_autodiff(form, score):
    a, x, xp = (jnp.asarray(v) for v in batch())
    ours = jax.jit(jax.value_and_grad(lambda a: sj.infonce(a, x, xp, tau=0.7, form=form, score=score)))
    theirs = jax.value_and_grad(lambda a: reference_infonce(form, score, 0.7)(a, x, xp))
    (v, g), (jv, jg) = ours(a), theirs(a)
    assert abs(float(v) - float(jv)) <= 1e-12 * abs(float(jv))
    assert rel(g, jg) <= 1e-12


def test_jit_grad_of_spectral_contrastive_matches_jax_autodiff():
    a, x, xp = (jnp.asarray(v) for v in batch(r=3))
    n = x.shape[0]

    def reference(a):
        s = (x @ a.T) @ (xp @ a.T).T
        off = s - jnp.diag(jnp.diag(s))
        return -2.0 * jnp.trace(s) / n + jnp.sum(off**2) / (n * (n - 1))

    (v, g), (jv, jg) = jax.jit(jax.value_and_grad(lambda a: sj.spectral_contrastive(a, x, xp)))(a), jax.value_and_grad(reference)(a)
    assert abs(float(v) - float(jv)) <= 1e-12 * abs(float(jv))
    assert rel(g, jg) <= 1e-12


def test_jit_grad_of_clip_matches_jax_autodiff():
    rng = np.random.default_rng(SEED + 1)
    a, b = jnp.asarray(rng.normal(size=(3, 6)) * 0.5), jnp.asarray(rng.normal(size=(3, 5)) * 0.5)
    x, y = jnp.asarray(rng.normal(size=(48, 6))), jnp.asarray(rng.normal(size=(48, 5)))

    def reference(a, b):
        s = (x @ a.T) @ (y @ b.T).T / 0.5
        return 0.5 * (cross_entropy(s) + cross_entropy(s.T))

    g = jax.jit(jax.grad(lambda a, b: sj.clip(a, b, x, y, tau=0.5), argnums=(0, 1)))(a, b)
    jg = jax.grad(reference, argnums=(0, 1))(a, b)
    assert rel(g[0], jg[0]) <= 1e-12 and rel(g[1], jg[1]) <= 1e-12


def test_simsiam_gradient_is_the_stop_gradient_update():
    a, x, xp = (jnp.asarray(v) for v in batch(r=3))
    w = jnp.asarray(np.random.default_rng(SEED + 2).normal(size=(3, 3)))
    sg = jax.lax.stop_gradient

    def reference(a, w):
        one = jnp.mean(jnp.sum((x @ a.T @ w.T - sg(xp @ a.T)) ** 2, axis=1))
        other = jnp.mean(jnp.sum((xp @ a.T @ w.T - sg(x @ a.T)) ** 2, axis=1))
        return 0.5 * (one + other)

    g = jax.jit(jax.grad(lambda a, w: sj.simsiam(a, w, x, xp), argnums=(0, 1)))(a, w)
    jg = jax.grad(reference, argnums=(0, 1))(a, w)
    assert rel(g[0], jg[0]) <= 1e-12 and rel(g[1], jg[1]) <= 1e-12


def test_unsupported_transformations_raise_instead_of_answering_wrong():
    a, x, xp = (jnp.asarray(v) for v in batch())
    # A derivative in the data would be a silent zero: refused.
    with pytest.raises(NotImplementedError, match="x"):
        jax.grad(lambda x: sj.infonce(a, x, xp))(x)
    with pytest.raises(Exception):
        jax.vmap(lambda a: sj.infonce(a, x, xp))(jnp.stack([a, a]))
    with pytest.raises(Exception):
        jax.hessian(lambda a: sj.infonce(a, x, xp))(a)
    with pytest.raises(Exception):
        jax.jvp(lambda a: sj.infonce(a, x, xp), (a,), (a,))


def test_float32_parameters_give_float32_results_of_the_float64_computation():
    a, x, xp = batch()
    v64, g64 = ssl_gmm.infonce(a, x, xp)
    a32 = jnp.asarray(a, dtype=jnp.float32)
    v, g = jax.value_and_grad(lambda a: sj.infonce(a, x, xp))(a32)
    assert v.dtype == jnp.float32 and g.dtype == jnp.float32
    # The float64 results rounded once to float32 (relative 2^-24 each).
    assert abs(float(v) - v64) <= 2**-23 * abs(v64)
    assert rel(g, g64.astype(np.float32)) <= 2**-23


def test_jax_arrays_float32_ints_and_lists_are_accepted_by_every_array_argument():
    a, x, xp = batch()
    v, g = ssl_gmm.infonce(a, x, xp)
    x32 = x.astype(np.float32)
    # float32 converts exactly: the result is the float64 computation on the converted data.
    v32, _ = ssl_gmm.infonce(a, x32, xp)
    assert v32 == ssl_gmm.infonce(a, x32.astype(np.float64), xp)[0]
    vj, gj = ssl_gmm.infonce(jnp.asarray(a), jnp.asarray(x), jnp.asarray(xp))
    assert vj == v and np.array_equal(gj, g)
    vl, gl = ssl_gmm.infonce(a.tolist(), x.tolist(), xp.tolist())
    assert vl == v and np.array_equal(gl, g)
    xi = np.rint(x * 3).astype(np.int32)
    assert ssl_gmm.infonce(a, xi, xp)[0] == ssl_gmm.infonce(a, xi.astype(np.float64), xp)[0]
    g = ssl_gmm.Gmm.preset("pca-trap")
    assert np.array_equal(g.posterior(jnp.asarray(g.means)), g.posterior(g.means))
