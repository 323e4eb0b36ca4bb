"""The peer side of the comparison: the same workloads as `bench/src/lib.rs`, in NumPy and JAX.

Prints one flat JSON object per line and workload: {"workload", parameters..., "sec_per_step",
"gflops"}, sec_per_step being the median of repeated calls after a warm-up (JAX: jit-compiled, in f64 (x64) and in
f32, results blocked on). Run through compare.sh, which alternates it with the Rust side.
"""
import json
import sys
import time

import numpy as np
import jax
import jax.numpy as jnp

jax.config.update("jax_enable_x64", True)
QUICK = "--quick" in sys.argv
REPS = 5 if QUICK else 31


def median_seconds(f, reps=REPS):
    f()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def emit(workload, params, seconds, flops=None):
    print(json.dumps({"workload": workload, **params, "sec_per_step": seconds,
                      "gflops": None if flops is None else flops / seconds / 1e9}), flush=True)


def infonce_loss(a, x, xp):
    """One-directional InfoNCE with the dot-product score, tau = 1 (theory.md section 3)."""
    z = x @ a.T
    zp = xp @ a.T
    s = z @ zp.T
    return jnp.mean(jax.nn.logsumexp(s, axis=1) - jnp.diagonal(s))


def main():
    rng = np.random.default_rng(0)
    m = 2048
    a, b = rng.standard_normal((m, m)), rng.standard_normal((m, m))
    emit("gemm-f64", {"m": m, "library": "numpy"}, median_seconds(lambda: a @ b, min(REPS, 11)), 2.0 * m**3)

    step = jax.jit(jax.value_and_grad(infonce_loss))
    for dtype in ("f64", "f32"):
        for n, d, r in [(1024, 128, 16), (256, 32, 4), (4096, 512, 64)]:
            cast = jnp.float64 if dtype == "f64" else jnp.float32
            x = jnp.asarray(rng.standard_normal((n, d)), dtype=cast)
            xp = x + jnp.asarray(0.5 * rng.standard_normal((n, d)), dtype=cast)
            amat = jnp.asarray(0.3 / np.sqrt(d) * rng.standard_normal((r, d)), dtype=cast)

            def run():
                value, grad = step(amat, x, xp)
                grad.block_until_ready()

            reps = min(REPS, 7) if n > 2048 else REPS
            emit("infonce-step", {"n": n, "d": d, "r": r, "dtype": dtype, "library": "jax"},
                 median_seconds(run, reps), 8.0 * n * d * r + 6.0 * n * n * r)

    from sklearn.decomposition import PCA
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    n, d, k = 20000, 256, 10
    means = rng.standard_normal((k, d))
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    cov = (q * np.logspace(0, 2, d)) @ q.T
    y = rng.integers(0, k, size=n)
    x = means[y] + rng.standard_normal((n, d)) @ np.linalg.cholesky(cov).T
    params = {"n": n, "d": d, "k": k, "library": "scikit-learn"}
    emit("lda-fit", params, median_seconds(lambda: LinearDiscriminantAnalysis(solver="eigen").fit(x, y), min(REPS, 11)),
         2.0 * n * d * d)
    emit("pca-fit", params, median_seconds(lambda: PCA(n_components=9, svd_solver="covariance_eigh").fit(x), min(REPS, 11)),
         2.0 * n * d * d)
    # CCA on pairs (no scikit-learn estimator solves the pairs' generalized eigenproblem): NumPy
    # products on centred copies and SciPy's generalized symmetric eigensolver, as a researcher
    # would write it.
    import scipy.linalg
    same = rng.random(n) < 0.9
    yp = np.where(same, y, rng.integers(0, k, size=n))
    xp = means[yp] + rng.standard_normal((n, d)) @ np.linalg.cholesky(cov).T

    def cca():
        m = 0.5 * (x.mean(axis=0) + xp.mean(axis=0))
        cx, cp = x - m, xp - m
        c = (cx.T @ cx + cp.T @ cp) / (2 * n)
        cross = cp.T @ cx / n
        return scipy.linalg.eigh(0.5 * (cross + cross.T), c, subset_by_index=[d - 9, d - 1])

    emit("cca-fit", {"n": n, "d": d, "k": k, "library": "numpy+scipy"}, median_seconds(cca, min(REPS, 11)),
         6.0 * n * d * d)

    for d in [64, 512]:
        n, k = 4096, 10
        means = rng.standard_normal((k, d))
        q, _ = np.linalg.qr(rng.standard_normal((d, d)))
        cov = (q * np.logspace(0, 2, d)) @ q.T
        chol_t = np.linalg.cholesky(cov).T
        weights = np.full(k, 1.0 / k)

        def sample():
            z = rng.choice(k, size=n, p=weights)
            same = rng.random(n) < 0.9
            zp = np.where(same, z, rng.choice(k, size=n, p=weights))
            x = rng.standard_normal((n, d)) @ chol_t + means[z]
            xp = rng.standard_normal((n, d)) @ chol_t + means[zp]
            return x, xp

        emit("pair-sampling", {"n": n, "d": d, "library": "numpy"}, median_seconds(sample, min(REPS, 11)))


if __name__ == "__main__":
    main()
