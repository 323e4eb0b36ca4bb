"""Joins the Rust and peer measurements of compare.sh into one markdown table."""
import glob
import json
import os
import platform
import statistics
import sys


def load(pattern):
    rows = {}
    for path in sorted(glob.glob(pattern)):
        for line in open(path):
            m = json.loads(line)
            key = (m["workload"], tuple((k, v) for k, v in sorted(m.items()) if k in ("n", "d", "r", "m", "k")))
            rows.setdefault(key, []).append(m)
    return rows


def main(folder):
    ours, peers = load(os.path.join(folder, "rust-*.jsonl")), load(os.path.join(folder, "peer-*.jsonl"))
    peak = max(statistics.median(m["gflops"] for m in rows) for key, rows in list(ours.items()) + list(peers.items())
               if key[0] == "gemm-f64")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"measured f64 GEMM peak (best of ours and NumPy's, m = 2048): {peak:.1f} GFLOP/s\n")
    print("| workload | params | ours (ms) | peer | peer (ms) | speed-up (peer / ours) | our GFLOP/s | % of peak |")
    print("|---|---|---|---|---|---|---|---|")
    for key in ours:
        mine = statistics.median(m["sec_per_step"] for m in ours[key])
        other_rows = peers.get(key, [])
        other = statistics.median(m["sec_per_step"] for m in other_rows) if other_rows else float("nan")
        lib = other_rows[0].get("library", "?") if other_rows else "-"
        gflops = ours[key][0]["gflops"]
        rate = statistics.median(m["gflops"] for m in ours[key]) if gflops is not None else None
        params = ", ".join(f"{k}={v}" for k, v in key[1])
        print(f"| {key[0]} | {params} | {mine * 1e3:.3f} | {lib} | {other * 1e3:.3f} | {other / mine:.2f}x | "
              f"{'' if rate is None else f'{rate:.1f}'} | {'' if rate is None else f'{100 * rate / peak:.0f}%'} |")


if __name__ == "__main__":
    main(sys.argv[1])
