#!/usr/bin/env bash
# The checks to run on a machine with a real GPU, in one script so a borrowed machine's
# minutes go to measuring: the machine and its Vulkan adapter, the parity tests on it, the
# benchmark (cpu, burn-wgpu, wgsl: whole calls, the wgsl compute pass alone, the device's copy
# bandwidth) turned into table.md, and a default-dataset run with the GPU targets required.
# Writes at most 8 files, no folders, under ${OUT:-results/gpu-$(hostname)}; commit them with
# the machine described.
#
# Binaries: from .gpu/ as scripts/gpu-pack.sh packed them (elsewhere, for a machine with no
# Rust toolchain or network), else packed here first. The Vulkan loader: the system's, else the
# packages in .gl/. The driver: the system's ICD files, else NVIDIA's under /usr/local/nvidia.
#
#   bash scripts/gpu-pack.sh                  # here: build and pack (prints what to carry)
#   bash scripts/gpu-check.sh                 # there: at most 8 minutes (GPU_CHECK_SECONDS)
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"
out="${OUT:-results/gpu-$(hostname)}"
mkdir -p "$out"
budget=${GPU_CHECK_SECONDS:-480} # every step below ends by then
log() { echo "== [$SECONDS s] $*" | tee -a "$out/log.txt"; }
left() { echo $(( budget - SECONDS > 10 ? budget - SECONDS : 10 )); }

log "machine"
{
  date -u; uname -a; echo "cpus: $(nproc)"
  grep -m1 "model name" /proc/cpuinfo
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem,pcie.link.gen.current,pcie.link.width.current --format=csv 2>&1
} > "$out/machine.txt" 2>&1

# The Vulkan loader and the NVIDIA driver's ICD.
if ! ldconfig -p | grep -q "libvulkan.so.1"; then
  if ls .gl/*.deb >/dev/null 2>&1; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
    echo "vulkan loader: unpacked from $(ls .gl/*.deb | tr '\n' ' ')" >> "$out/machine.txt"
  else
    echo "vulkan loader: none (no libvulkan.so.1 and no .gl/*.deb)" >> "$out/machine.txt"
  fi
fi
icds=$(ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json 2>/dev/null | tr '\n' ' ')
echo "vulkan loader: $(ldconfig -p | grep -m1 'libvulkan.so.1' || echo none)" >> "$out/machine.txt"
echo "ICD files: ${icds:-none}" >> "$out/machine.txt"

# The binaries: packed by scripts/gpu-pack.sh, or packed now where cargo is here.
if [ ! -f .gpu/tradeoff.xz ]; then
  log "build"
  GPU_PACK_LOADER=no bash scripts/gpu-pack.sh 2>&1 | tail -3
fi
bin=/tmp/tradeoff-gpu
mkdir -p "$bin"
for b in tradeoff tests bench; do
  xz -dc ".gpu/$b.xz" > "$bin/$b" 2>/dev/null \
    || python3 -c 'import lzma,sys; sys.stdout.buffer.write(lzma.open(sys.argv[1]).read())' \
      ".gpu/$b.xz" > "$bin/$b"
  chmod +x "$bin/$b"
done
echo "binaries: packed by scripts/gpu-pack.sh at $(tr '\n' ' ' < .gpu/commit)" >> "$out/machine.txt"
tradeoff=$bin/tradeoff tests=$bin/tests bench=$bin/bench

log "devices"
hardware() { "$tradeoff" devices 2>/dev/null | grep "^  wgsl" | grep -v "unavailable" | grep -vq "software"; }
nv=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if ! hardware && [ -z "${VK_DRIVER_FILES:-}" ] && [ -e "$nv" ]; then
  # NVIDIA's driver mounted outside the loader's search path (as on the borrowed machines).
  export VK_DRIVER_FILES=$nv
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi
echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset}" >> "$out/machine.txt"
"$tradeoff" devices >> "$out/machine.txt" 2>&1
tee -a "$out/log.txt" < "$out/machine.txt"
hardware || log "the wgsl target has no hardware adapter: what follows measures a software one or fails"

log "parity tests on this adapter"
TRADEOFF_REQUIRE_WGPU=1 TRADEOFF_BIN="$tradeoff" timeout 150 "$tests" targets:: --test-threads 2 \
  > "$out/parity.txt" 2>&1
echo "exit $?" >> "$out/parity.txt"
grep -E "^test |test result|panicked" "$out/parity.txt" | tee -a "$out/log.txt"

log "benchmark: cpu, burn-wgpu, wgsl (whole calls, compute pass alone, device copy)"
export CRITERION_HOME=/tmp/tradeoff-criterion
rm -rf "$CRITERION_HOME"
TRADEOFF_BENCH_TARGETS=cpu,burn-wgpu,wgsl timeout "$(( $(left) > budget * 3 / 5 ? budget * 3 / 5 : $(left) ))" \
  "$bench" --bench --warm-up-time 0.5 --measurement-time 1 'predict/|limits/device-copy' \
  2>&1 | grep -E "^(predict|limits)/|time:|thrpt:|per row|panicked|[Ee]rror" | grep -v XDG_RUNTIME \
  > "$out/bench.txt"
echo "exit ${PIPESTATUS[0]}" >> "$out/bench.txt"
python3 scripts/gpu-table.py "$CRITERION_HOME" --json "$out/bench.json" --costs "$out/bench.txt" \
  > "$out/table.md"
cat "$out/table.md" >> "$out/log.txt"
head -40 "$out/table.md"

log "default dataset, GPU targets required"
rm -rf /tmp/tradeoff-run
timeout "$(left)" "$tradeoff" run --targets cpu,burn-wgpu,wgsl --require-gpu \
  --candidates logistic,tree,gbm,mlp-m --batch-sizes 1,64,4096,65536 --quick \
  --out /tmp/tradeoff-run > "$out/run.txt" 2>&1
echo "exit $?" >> "$out/run.txt"
tail -30 "$out/run.txt" | tee -a "$out/log.txt"
tar -czf "$out/run.tar.gz" -C /tmp tradeoff-run 2>/dev/null || true
log "done: $out"
