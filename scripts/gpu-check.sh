#!/usr/bin/env bash
# The checks to run on a machine with a real GPU (one script, so a borrowed machine's minutes
# go to measuring): prints the adapter, runs the parity tests on it, the wgsl/burn-wgpu
# benchmark, and a default-dataset run with the GPU targets, and writes everything under
# ${OUT:-results/gpu-$(hostname)}. Commit that folder with the machine described.
#
#   bash scripts/gpu-check.sh            # needs a Vulkan driver for the GPU (NVIDIA: the
#                                        # proprietary driver's ICD; check with vulkaninfo)
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-results/gpu-$(hostname)}"
mkdir -p "$out"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
log() { echo "== $*" | tee -a "$out/log.txt"; }

log "machine"
{ date -u; uname -a; nproc; nvidia-smi -L 2>&1 || true; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || true; } > "$out/machine.txt"
cat "$out/machine.txt"

log "build"
cargo build --release --bins --benches 2>&1 | tail -3

log "devices"
"$CARGO_TARGET_DIR/release/tradeoff" devices 2>&1 | tee "$out/devices.txt"

log "parity tests on this adapter"
TRADEOFF_REQUIRE_WGPU=1 cargo test --release --test tests targets:: 2>&1 | tee "$out/parity.txt" | tail -12

log "run on the default dataset, GPU targets required"
"$CARGO_TARGET_DIR/release/tradeoff" run --targets cpu,burn-wgpu,wgsl --require-gpu \
  --candidates logistic,tree,gbm,mlp-m --batch-sizes 1,64,4096,65536 --quick \
  --out "$out/run" > "$out/run.txt" 2> "$out/run.err"
echo "exit $?" >> "$out/run.txt"
tail -40 "$out/run.txt"

log "benchmark: cpu, burn-wgpu, wgsl"
TRADEOFF_BENCH_TARGETS=cpu,burn-wgpu,wgsl cargo bench --bench main -- \
  --warm-up-time 1 --measurement-time 2 2>&1 | grep -E "FLOPs|^predict|time:|thrpt:" | tee "$out/bench.txt"
log "done: $out"
