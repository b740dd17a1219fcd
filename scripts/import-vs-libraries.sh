#!/usr/bin/env bash
# Imported models against their own libraries: 500-tree XGBoost and LightGBM models trained
# on the benchmark's synthetic rows (100,000 x 32, binary), imported into `tradeoff run`
# next to the trained ladder, and the cpu target's batch-1 latency and batch-4096 rows/s
# against each library's own predict and ONNX Runtime, on this machine. Writes OUT
# (default results/import-$(hostname)): table.md, run.txt (the run's table), libraries.json.
#
#   bash scripts/import-vs-libraries.sh [OUT]     # needs python3 with venv, and pip access
#
# Not part of the tests: it takes some fifteen minutes and measures, it does not check.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-results/import-$(hostname)}"
mkdir -p "$out"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
bin="$CARGO_TARGET_DIR/release/tradeoff"
{ date -u; uname -a; nproc; grep -m1 "model name" /proc/cpuinfo || true; } > "$out/machine.txt"
cargo build --release --locked
"$bin" run --dataset "synthetic:classification,rows=100000,features=32,seed=1" \
  --candidates "logistic:alpha=0.01" --targets cpu --batch-sizes 1 --quick --quiet \
  --no-report --out "$out/split-run" --export-split "$out/split" > /dev/null
if [ ! -x "$out/venv/bin/python" ]; then
  python3 -m venv "$out/venv"
  "$out/venv/bin/pip" install -q xgboost==3.2.0 lightgbm==4.7.0 onnxruntime onnxmltools onnx pandas
fi
"$out/venv/bin/python" scripts/import-bench.py --split "$out/split" --out "$out" \
  --runs "${RUNS:-5}" > "$out/libraries.json"
target=$(head -1 "$out/split/train.csv" | tr ',' '\n' | tail -1)
rm -rf "$out/run"
"$bin" run --data "$out/split/train.csv" --test-data "$out/split/test.csv" --target "$target" \
  --model "$out/xgb500.json" --model "$out/lgb500.txt" --targets cpu --batch-sizes 1,4096 \
  --trials "${TRIALS:-4}" --time-cap "${TIME_CAP:-60}" --no-report --out "$out/run" \
  | tee "$out/run.txt"
python3 scripts/import-table.py "$out/libraries.json" "$out/run/results.jsonl" | tee "$out/table.md"
