#!/usr/bin/env bash
# One fit per family, ours against scikit-learn (and LightGBM where installed), on the same
# training rows with the same settings, in one run on this machine.
#
#     bash scripts/fit-vs-sklearn.sh [TRAIN_ROWS] [FEATURES] [OUTDIR]
#
# Defaults: 100,000 training rows (the synthetic set gets 25% more, the 20% test part), 32
# features, /tmp/fit-vs-sklearn. Writes OUTDIR/fit.json and prints the table
# (scripts/fit-table.py). Needs python3 with scikit-learn and pandas (and lightgbm). RUNS=N
# sets the fits a figure, ours and the peers' alike (default 3; their median).
# FAMILIES=gbm,tree (default: all) limits the families fitted.
set -euo pipefail
cd "$(dirname "$0")/.."
train_rows="${1:-100000}"
features="${2:-32}"
out="${3:-/tmp/fit-vs-sklearn}"
rows=$(( train_rows * 5 / 4 ))
. scripts/bench-common.sh
bin="$(tradeoff_bin)"
fresh_dir "$out" fit-vs-sklearn
# Fixed parameters (no tuning): fit_seconds is one fit on the training part. The same
# settings are in scripts/fit-vs-sklearn.py.
tree="tree:max_depth=8,min_leaf=1"
forest="forest:trees=100,max_depth=8,min_leaf=1,features=0.2"
gbm="gbm:iterations=100,learning_rate=0.1,max_depth=6,l2=1"
runs="${RUNS:-3}"
families="${FAMILIES:-all}"
wanted() { [ "$families" = all ] || [[ ",$families," == *",$1,"* ]]; }
for task in classification regression; do
  if [ "$task" = classification ]; then first="logistic:alpha=0.0001"; else first="linear:alpha=0.00001"; fi
  candidates=""
  for c in "$first" "$tree" "$forest" "$gbm"; do
    if wanted "${c%%:*}"; then candidates="$candidates${candidates:+,}$c"; fi
  done
  [ -n "$candidates" ] || continue
  # The split exported once; each run fits every candidate once (RUNS runs, their median).
  for i in $(seq 1 "$runs"); do
    split=()
    if [ "$i" = 1 ]; then split=(--export-split "$out/$task"); fi
    "$bin" run --dataset "synthetic:$task,rows=$rows,features=$features" \
      --candidates "$candidates" --targets cpu --batch-sizes 1 "${split[@]}" \
      --out "$out/$task/run$i" --no-report --quiet >/dev/null || [ $? -eq 4 ]
  done
done
python3 scripts/fit-vs-sklearn.py --cls "$out/classification" --reg "$out/regression" \
  --runs "$runs" --families "$families" > "$out/fit.json"
python3 scripts/fit-table.py "$out/fit.json"
