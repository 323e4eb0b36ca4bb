#!/usr/bin/env bash
# Side-by-side comparison with the peers, in one run: the Rust workloads (bench/src/lib.rs, run by
# `ssl-gmm-bench --json`) and
# the same workloads in NumPy and JAX (bench/peers/peers.py), alternated for ROUNDS rounds on
# the same machine; prints one markdown table (median over rounds of the per-round medians).
# Creates its own virtual environment (bench/peers/.venv) on first use.
#   bench/peers/compare.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=bench/peers/.venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet -r bench/peers/requirements.txt
fi
cargo build --quiet --release -p ssl-gmm-bench
out=$(mktemp -d)
rounds=${ROUNDS:-3}
for round in $(seq "$rounds"); do
  ./target/release/ssl-gmm-bench --json "$@" > "$out/rust-$round.jsonl"
  "$venv/bin/python" bench/peers/peers.py "$@" > "$out/peer-$round.jsonl"
done
"$venv/bin/python" bench/peers/table.py "$out"
