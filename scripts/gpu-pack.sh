#!/usr/bin/env bash
# Packs what scripts/gpu-check.sh needs on a borrowed GPU machine that has no Rust toolchain
# and no network: the release builds of `tradeoff`, the integration tests and the benchmark
# (stripped, xz-compressed) in .gpu/, and the Vulkan loader's Debian packages in .gl/. Both
# folders are ignored by git; name them in the device call's `carry`.
#
#   bash scripts/gpu-pack.sh      # here, with cargo and apt-get; prints the size that travels
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"

executable() { # the executable a cargo build's JSON messages name for target $1
  python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == sys.argv[1] and m.get("executable"):
        print(m["executable"])' "$1" | tail -1
}

cargo build --release --locked --bin tradeoff
tests=$(cargo test --release --locked --no-run --test tests --message-format=json | executable tests)
bench=$(cargo bench --locked --no-run --bench main --message-format=json | executable main)
rm -rf .gpu && mkdir -p .gpu
for pair in "tradeoff:$CARGO_TARGET_DIR/release/tradeoff" "tests:$tests" "bench:$bench"; do
  name=${pair%%:*}
  strip -o ".gpu/$name" "${pair#*:}"
  xz -T0 -6 ".gpu/$name"
done
git rev-parse HEAD > .gpu/commit
git status --porcelain --untracked-files=no | grep -q . && echo "dirty" >> .gpu/commit

# The Vulkan loader, for machines without one (GPU_PACK_LOADER=no: not wanted).
if [ "${GPU_PACK_LOADER:-yes}" != no ] && ! ls .gl/libvulkan1_*.deb >/dev/null 2>&1; then
  mkdir -p .gl /tmp/amd64/partial
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  apt-get $o update -qq
  (cd .gl && apt-get $o download libvulkan1 >/dev/null)
fi
du -ch .gpu .gl | tail -1
echo "carry: [\".gpu\", \".gl\"]; command: bash scripts/gpu-check.sh"
