#!/usr/bin/env bash
# Regenerates crates/tradeoff-import/src/onnx_proto.rs: ONNX's own schema (onnx.proto3, from
# the candle-onnx crate's sources, which ship the official file) compiled by prost-build,
# with protoc from grpcio-tools (no system protoc needed). Run when ONNX's schema changes.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
proto=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/candle-onnx-0.9.2/src/onnx.proto3 2>/dev/null | head -1)
[ -n "$proto" ] || { (cd "$work" && cargo info candle-onnx@0.9.2 > /dev/null); proto=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/candle-onnx-0.9.2/src/onnx.proto3 | head -1); }
python3 -m venv "$work/venv" && "$work/venv/bin/pip" install -q grpcio-tools
printf '#!/bin/sh\nexec %s -m grpc_tools.protoc "$@"\n' "$work/venv/bin/python" > "$work/protoc" && chmod +x "$work/protoc"
mkdir -p "$work/gen/src" && cp "$proto" "$work/gen/onnx.proto3"
cat > "$work/gen/Cargo.toml" <<'TOML'
[package]
name = "onnxgen"
version = "0.1.0"
edition = "2021"
[dependencies]
prost-build = "0.14.1"
TOML
cat > "$work/gen/src/main.rs" <<'RS'
fn main() {
    prost_build::Config::new().out_dir(".").compile_protos(&["onnx.proto3"], &["."]).unwrap();
}
RS
(cd "$work/gen" && PROTOC="$work/protoc" cargo run -q)
out=crates/tradeoff-import/src/onnx_proto.rs
{ echo "// The ONNX protobuf schema (onnx.proto3 of ONNX IR version 9, Apache-2.0, as shipped in the"
  echo "// candle-onnx 0.9.2 crate) compiled by prost-build 0.14 (scripts/onnx-proto.sh). Do not edit."
  cat "$work/gen/onnx.rs"; } > "$out"
rm -rf "$work"
echo "wrote $out"
