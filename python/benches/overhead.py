"""Per-call cost of the Python bindings: the InfoNCE step at n = 1024, d = 128, r = 16 called
from Python (arrays converted every call) against the same step repeated inside Rust on the same
batch (``_native._bench.infonce_seconds``), alternated for several rounds in one process.

    python python/benches/overhead.py [rounds]
"""

import sys
import time

import numpy as np

import ssl_gmm
from ssl_gmm import _native


def main(rounds=5, reps=200):
    rng = np.random.default_rng(0)
    n, d, r = 1024, 128, 16
    x = rng.standard_normal((n, d))
    xp = x + 0.5 * rng.standard_normal((n, d))
    a = 0.3 / np.sqrt(d) * rng.standard_normal((r, d))
    for _ in range(5):
        ssl_gmm.infonce(a, x, xp)
    py_times, rust_times = [], []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(reps):
            ssl_gmm.infonce(a, x, xp)
        py_times.append((time.perf_counter() - t) / reps)
        rust_times.append(_native._bench.infonce_seconds(a, x, xp, reps))
    py, rust = np.median(py_times), np.median(rust_times)
    tiny = (x[:2].copy(), xp[:2].copy())
    t = time.perf_counter()
    for _ in range(2000):
        ssl_gmm.infonce(a, *tiny)
    per_call = (time.perf_counter() - t) / 2000
    print(f"InfoNCE step n={n} d={d} r={r}: Python {py * 1e3:.3f} ms, Rust {rust * 1e3:.3f} ms, "
          f"ratio {py / rust:.3f} (median of {rounds} rounds of {reps} calls)")
    print(f"whole call at n=2 (conversion, checks, result arrays): {per_call * 1e6:.1f} us")
    try:
        import jax
    except ImportError:
        print("JAX not installed: no JAX row")
        return
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy

    def loss(a, x, xp):
        s = (x @ a.T) @ (xp @ a.T).T
        return jnp.mean(jax.nn.logsumexp(s, axis=1) - jnp.diag(s))

    step = jax.jit(jax.value_and_grad(loss))
    ja, jx, jxp = jnp.asarray(a), jnp.asarray(x), jnp.asarray(xp)
    jax.block_until_ready(step(ja, jx, jxp))
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(reps):
            out = step(ja, jx, jxp)
        jax.block_until_ready(out)
        times.append((time.perf_counter() - t) / reps)
    print(f"JAX jit (x64) on the same arrays: {np.median(times) * 1e3:.3f} ms, "
          f"JAX / Python-ssl_gmm {np.median(times) / py:.2f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
