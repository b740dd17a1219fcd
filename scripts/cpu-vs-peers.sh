#!/usr/bin/env bash
# The cpu target against scikit-learn and ONNX Runtime, on the benchmark's rows and model
# shapes, back to back on this machine; writes OUT/table.md (default results/cpu-$(hostname)).
#
#   bash scripts/cpu-vs-peers.sh [OUT]      # needs python3 with venv, and the network for pip
#
# Steps: export the benchmark's synthetic rows with `tradeoff run --export-split`, install
# scikit-learn, skl2onnx and onnxruntime into OUT/venv, time the peers (scripts/peers.py),
# run the cpu part of the criterion benchmark and its limits (read bandwidth, gemm alone),
# and combine them (scripts/cpu-table.py). Not part of the tests: it takes some ten minutes
# and measures, it does not check.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-results/cpu-$(hostname)}"
mkdir -p "$out"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
bin="$CARGO_TARGET_DIR/release/tradeoff"

{ date -u; uname -a; nproc; grep -m1 "model name" /proc/cpuinfo || true; } > "$out/machine.txt"
cargo build --release --locked
for kind in classification regression; do
  cand=logistic
  [ "$kind" = regression ] && cand=linear
  "$bin" run --dataset "synthetic:$kind,rows=20000,features=32,seed=1" \
    --candidates "$cand:alpha=0.01" --targets cpu --batch-sizes 1 --quick --quiet \
    --no-report --out "$out/split-run-$kind" --export-split "$out/split-$kind" > /dev/null
done

if [ ! -x "$out/venv/bin/python" ]; then
  python3 -m venv "$out/venv"
  "$out/venv/bin/pip" install -q scikit-learn skl2onnx onnxruntime pandas
fi
"$out/venv/bin/python" scripts/peers.py --cls "$out/split-classification" \
  --reg "$out/split-regression" --runs "${RUNS:-5}" > "$out/peers.json"

TRADEOFF_BENCH_TARGETS=cpu cargo bench --locked --bench main -- 'predict/[a-z-]+/cpu/|limits/' \
  2> "$out/bench.err" | tee "$out/bench.txt" | grep -E "^predict|time:|thrpt:" || true
grep -E "node steps per row" "$out/bench.err" > "$out/costs.txt"
python3 scripts/cpu-table.py --criterion "$CARGO_TARGET_DIR/criterion" --costs "$out/costs.txt" \
  --peers "$out/peers.json" | tee "$out/table.md"
