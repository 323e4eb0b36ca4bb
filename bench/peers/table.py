"""Joins the Rust and peer measurements of compare.sh into markdown tables: the side-by-side
comparison (median over rounds of the per-round medians) and the two scaling tables."""
import glob
import json
import math
import os
import platform
import statistics
import sys

KEY = ("n", "d", "r", "m", "k", "dtype")


def load(pattern):
    rows = {}
    for path in sorted(glob.glob(pattern)):
        for line in open(path):
            m = json.loads(line)
            m.setdefault("dtype", "f64")
            key = (m["workload"], tuple((k, v) for k, v in sorted(m.items()) if k in KEY))
            rows.setdefault(key, []).append(m)
    return rows


def median(rows, field):
    values = [m[field] for m in rows if m.get(field) is not None]
    return statistics.median(values) if values else None


def main(folder):
    ours, peers = load(os.path.join(folder, "rust-*.jsonl")), load(os.path.join(folder, "peer-*.jsonl"))
    peak = max(median(rows, "gflops") for key, rows in list(ours.items()) + list(peers.items()) if key[0] == "gemm-f64")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"measured f64 GEMM peak (best of ours and NumPy's, m = 2048): {peak:.1f} GFLOP/s\n")
    print("| workload | params | ours (ms) | peer | peer (ms) | speed-up (peer / ours) | our GFLOP/s | % of peak |")
    print("|---|---|---|---|---|---|---|---|")
    for key in list(ours) + [k for k in peers if k not in ours]:
        if key not in peers:
            continue  # scaling rows, in the tables below
        mine_rows, other_rows = ours.get(key, []), peers[key]
        mine = median(mine_rows, "sec_per_step") if mine_rows else math.nan
        other = median(other_rows, "sec_per_step")
        lib = other_rows[0].get("library", "?")
        rate = median(mine_rows, "gflops") if mine_rows else None
        params = ", ".join(f"{k}={v}" for k, v in key[1])
        print(f"| {key[0]} | {params} | {'-' if math.isnan(mine) else f'{mine * 1e3:.3f}'} | {lib} | "
              f"{other * 1e3:.3f} | {'-' if math.isnan(mine) else f'{other / mine:.2f}x'} | "
              f"{'' if rate is None else f'{rate:.1f}'} | {'' if rate is None else f'{100 * rate / peak:.0f}%'} |")

    steps = sorted((dict(key[1])["n"], median(rows, "sec_per_step"), median(rows, "gflops"))
                   for key, rows in ours.items()
                   if key[0] == "infonce-step" and dict(key[1]).get("d") == 128 and dict(key[1]).get("r") == 16
                   and dict(key[1]).get("dtype") == "f64")
    if steps:
        base = next((t / n**2 for n, t, _ in steps if n == 1024), steps[0][1] / steps[0][0] ** 2)
        print("\nInfoNCE step over n (f64, d = 128, r = 16):\n")
        print("| n | ms per step | (time / n^2) relative to n = 1024 | GFLOP/s | % of peak |")
        print("|---|---|---|---|---|")
        for n, t, rate in steps:
            print(f"| {n} | {t * 1e3:.3f} | {t / n**2 / base:.2f} | {rate:.1f} | {100 * rate / peak:.0f}% |")

    fits = {}
    for key, rows in ours.items():
        if key[0] in ("lda-fit", "pca-fit", "cca-fit") and dict(key[1]).get("d") == 256:
            fits.setdefault(dict(key[1])["n"], {})[key[0]] = median(rows, "sec_per_step")
    if fits:
        print("\nFits over n (d = 256, k = 10): ms, and microseconds per sample (time / n):\n")
        print("| n | LDA ms | LDA us/sample | PCA ms | PCA us/sample | CCA ms | CCA us/sample |")
        print("|---|---|---|---|---|---|---|")
        for n in sorted(fits):
            cells = []
            for w in ("lda-fit", "pca-fit", "cca-fit"):
                t = fits[n].get(w)
                cells += ["-", "-"] if t is None else [f"{t * 1e3:.1f}", f"{t / n * 1e6:.2f}"]
            print(f"| {n} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1])
