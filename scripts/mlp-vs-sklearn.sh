#!/usr/bin/env bash
# MLP training cost per epoch, ours against scikit-learn's MLPClassifier, on the same training
# rows with the same settings, in one run on this machine.
#
#     bash scripts/mlp-vs-sklearn.sh [TRAIN_ROWS] [FEATURES] [OUTDIR] [CANDIDATES]
#
# Defaults: 100,000 training rows, 32 features, /tmp/mlp-vs-sklearn, mlp-s,mlp-m. Writes
# OUTDIR/mlp.json and prints the table. Needs python3 with scikit-learn and pandas.
set -euo pipefail
cd "$(dirname "$0")/.."
train_rows="${1:-100000}"
features="${2:-32}"
out="${3:-/tmp/mlp-vs-sklearn}"
candidates="${4:-mlp-s,mlp-m}"
rows=$(( train_rows * 5 / 4 ))
. scripts/bench-common.sh
bin="$(tradeoff_bin)"
fresh_dir "$out" mlp-vs-sklearn
lr=0.001 decay=0.0001 batch=64
fixed=""
for c in ${candidates//,/ }; do
  fixed="${fixed:+$fixed,}$c:learning_rate=$lr,weight_decay=$decay,batch_size=$batch"
done
"$bin" -vv run --dataset "synthetic:classification,rows=$rows,features=$features" \
  --candidates "$fixed" --targets cpu --batch-sizes 1 \
  --export-split "$out/data" --out "$out/data" --no-report --quiet >/dev/null 2>"$out/log" \
  || [ $? -eq 4 ]
python3 scripts/mlp-vs-sklearn.py --dir "$out/data" --log "$out/log" --lr $lr --decay $decay \
  --batch $batch > "$out/mlp.json"
python3 - "$out/mlp.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
print("| candidate | rows x features | ours: epochs, s/epoch | sklearn: epochs, s/epoch | sklearn / ours (per epoch) |")
print("|---|---|---:|---:|---:|")
for r in doc["rows"]:
    o = r["ours_seconds"] / r["ours_epochs"]
    p = r["peer_seconds"] / r["peer_epochs"]
    print(f"| {r['candidate']} | {r['rows']:,} x {r['features']} | {r['ours_epochs']}, {o:.2f} | "
          f"{r['peer_epochs']}, {p:.2f} | {p / o:.2f}x |")
print(f"\nscikit-learn {doc['sklearn']}, {doc['cores']} cores; batch {doc['batch']}, "
      f"learning rate {doc['lr']}, L2 {doc['decay']}; ours: the refit on the training part.")
PY
