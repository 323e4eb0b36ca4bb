"""The losses of ``ssl_gmm`` as JAX functions: usable inside ``jax.jit`` and ``jax.grad``.

Each function computes its value and exact gradient in the Rust library (the same code as
``ssl_gmm.infonce``, ``ssl_gmm.simsiam`` and ``ssl_gmm.clip``) through ``jax.pure_callback``,
and hands the gradient to JAX by ``jax.custom_vjp``. So::

    import jax, ssl_gmm.jax as sj
    jax.config.update("jax_enable_x64", True)
    step = jax.jit(jax.grad(lambda a, x, xp: sj.infonce(a, x, xp, tau=0.5)))

What is supported, and what is refused with an error (never a silent zero):

- **First-order reverse mode in the parameters** (``jax.grad``, ``jax.value_and_grad``,
  ``jax.vjp``) and ``jax.jit``. Differentiating with respect to the data (``x``, ``x_plus``,
  ``y``) raises ``NotImplementedError``: the library has no gradient in the data.
- **Not supported**: ``jax.vmap`` (the callback declares no batching rule, so JAX raises),
  forward mode (``jax.jvp``, ``jax.jacfwd``) and higher orders (``jax.hessian``, ``grad`` of
  ``grad``): JAX raises because the callback has no derivative of its own.
- **Precision**: the library computes in float64 whatever the input dtype (float32 converts
  exactly); results are returned in the parameters' dtype, so with JAX's default 32-bit mode
  they are rounded to float32. Enable ``jax_enable_x64`` to keep every digit.
- ``tau``, ``form``, ``score`` and ``directions`` are static (Python values, not traced).
- The callback runs on the host: arrays on an accelerator are copied to the CPU and back.
"""

from functools import partial

import jax
import numpy as np

from . import _native

__all__ = ["infonce", "simsiam", "clip", "spectral_contrastive"]


def _refuse_data_gradients(name, data):
    """Raise when JAX asks for a derivative in a data argument (``data``: name -> primal)."""
    perturbed = [k for k, v in data.items() if v.perturbed]
    if perturbed:
        raise NotImplementedError(
            f"ssl_gmm.jax.{name}: no gradient with respect to {', '.join(perturbed)} "
            "(the library differentiates the loss in its parameters only); "
            "differentiate in the parameters, or stop_gradient the data"
        )


def _call(native, out_dtype, n_params, static, *arrays):
    """``native(*arrays, *static)`` on the host: ``(loss, *gradients)`` cast to ``out_dtype``.

    ``arrays`` starts with the ``n_params`` parameter matrices, whose shapes the gradients take.
    """
    shapes = [jax.ShapeDtypeStruct((), out_dtype)]
    shapes += [jax.ShapeDtypeStruct(p.shape, out_dtype) for p in arrays[:n_params]]

    def host(*values):
        out = native(*(np.asarray(v) for v in values), *static)
        return tuple(np.asarray(o, dtype=out_dtype) for o in out)

    return jax.pure_callback(host, tuple(shapes), *arrays)


def _wrap(name, native, params, data, statics):
    """A JAX loss over ``native``: arguments ``(*params, *data, *statics)``, gradient in params."""
    n_params, n_data = len(params), len(data)
    static_argnums = tuple(range(n_params + n_data, n_params + n_data + len(statics)))

    @partial(jax.custom_vjp, nondiff_argnums=static_argnums)
    def loss(*args):
        arrays, static = args[: n_params + n_data], args[n_params + n_data :]
        return _call(native, _dtype(arrays), n_params, static, *arrays)[0]

    def fwd(*args):
        arrays, static = args[: n_params + n_data], args[n_params + n_data :]
        _refuse_data_gradients(name, dict(zip(data, arrays[n_params:])))
        values = [a.value for a in arrays]
        out = _call(native, _dtype(values), n_params, static, *values)
        return out[0], out[1:]

    def bwd(*args):
        grads, g = args[-2], args[-1]
        if isinstance(g, jax.custom_derivatives.SymbolicZero):
            return (None,) * (n_params + n_data)
        return tuple(g * gr for gr in grads) + (None,) * n_data

    loss.defvjp(fwd, bwd, symbolic_zeros=True)
    return loss


def _dtype(arrays):
    """The result dtype: the parameters' floating dtype (float64 when they are integers)."""
    dtype = jax.numpy.result_type(arrays[0])
    return dtype if jax.numpy.issubdtype(dtype, jax.numpy.floating) else jax.numpy.float64


_infonce = _wrap("infonce", _native.infonce, ["a"], ["x", "x_plus"], ["tau", "form", "score"])
_simsiam = _wrap(
    "simsiam", _native.simsiam, ["a", "w"], ["x", "x_plus"], ["form", "directions"]
)
_clip = _wrap("clip", _native.clip, ["a", "b"], ["x", "y"], ["tau", "score"])
_spectral = _wrap("spectral_contrastive", _native.spectral_contrastive, ["a"], ["x", "x_plus"], [])


def infonce(a, x, x_plus, tau=1.0, form="one-way", score="dot"):
    """InfoNCE loss as a JAX scalar, differentiable in ``a`` (first order).

    ``L = (1/n) sum_i [-S_ii + log sum_j exp S_ij]`` with ``S = (X A^T)(X+ A^T)^T / tau``
    (``form="one-way"``, ``score="dot"``; also ``"symmetric"``/``"simclr"`` and ``"cosine"``),
    as ``ssl_gmm.infonce``.

    Parameters
    ----------
    a : array, shape (r, d)
        The linear encoder; the gradient is taken in it.
    x, x_plus : array, shape (n, d)
        The batch of positive pairs (row ``i`` of each); not differentiable.
    tau : float
        Temperature (static).
    form, score : str
        As ``ssl_gmm.infonce`` (static).

    Returns
    -------
    jax.Array, shape ()
        The loss, in ``a``'s dtype.
    """
    return _infonce(a, x, x_plus, float(tau), str(form), str(score))


def simsiam(a, w, x, x_plus, form="mse", directions="symmetric"):
    """SimSiam loss as a JAX scalar; its "gradient" is SimSiam's stop-gradient update.

    ``L = (1/n) sum_i ||W A x_i - sg(A x+_i)||^2`` (``form="mse"``, or ``"neg-cosine"``) as
    ``ssl_gmm.simsiam``. The target ``A x+`` is under stop-gradient, so ``jax.grad`` returns the
    update SimSiam trains with, which is not the derivative of the returned value as a function
    of ``a``.

    Parameters
    ----------
    a : array, shape (r, d)
        The encoder.
    w : array, shape (r, r)
        The predictor.
    x, x_plus : array, shape (n, d)
        The batch of pairs; not differentiable.
    form, directions : str
        As ``ssl_gmm.simsiam`` (static).

    Returns
    -------
    jax.Array, shape ()
        The loss, in ``a``'s dtype.
    """
    return _simsiam(a, w, x, x_plus, str(form), str(directions))


def clip(a, b, x, y, tau=1.0, score="dot"):
    """CLIP loss as a JAX scalar, differentiable in ``a`` and ``b`` (first order).

    Symmetric InfoNCE between two modalities with ``S = (X A^T)(Y B^T)^T / tau``, as
    ``ssl_gmm.clip``.

    Parameters
    ----------
    a : array, shape (r, d_x)
        The first modality's encoder.
    b : array, shape (r, d_y)
        The second modality's encoder.
    x : array, shape (n, d_x)
    y : array, shape (n, d_y)
        The paired batch; not differentiable.
    tau : float
        Temperature (static).
    score : str
        ``"dot"`` or ``"cosine"`` (static).

    Returns
    -------
    jax.Array, shape ()
        The loss, in ``a``'s dtype.
    """
    return _clip(a, b, x, y, float(tau), str(score))


def spectral_contrastive(a, x, x_plus):
    """Spectral contrastive loss as a JAX scalar, differentiable in ``a`` (first order).

    ``L = -(2/n) sum_i S_ii + (1/(n(n-1))) sum_{i != j} S_ij^2`` with ``S = (X A^T)(X+ A^T)^T``,
    as ``ssl_gmm.spectral_contrastive``.

    Parameters
    ----------
    a : array, shape (r, d)
        The linear encoder; the gradient is taken in it.
    x, x_plus : array, shape (n, d)
        The batch of positive pairs; not differentiable.

    Returns
    -------
    jax.Array, shape ()
        The loss, in ``a``'s dtype.
    """
    return _spectral(a, x, x_plus)
