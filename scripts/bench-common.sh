# Sourced by the comparison scripts (fit-vs-sklearn.sh, mlp-vs-sklearn.sh).
#
# tradeoff_bin: the binary to measure: $TRADEOFF_BIN, or a release build of this checkout.
# fresh_dir DIR NAME: makes DIR, refusing one that holds anything (results are never
# overwritten).
tradeoff_bin() {
  if [ -n "${TRADEOFF_BIN:-}" ]; then
    echo "$TRADEOFF_BIN"
  else
    cargo build --release --quiet
    echo "${CARGO_TARGET_DIR:-target}/release/tradeoff"
  fi
}

fresh_dir() {
  if [ -e "$1" ] && [ -n "$(ls -A "$1" 2>/dev/null)" ]; then
    echo "$2: $1 is not empty; give a new or empty directory" >&2
    exit 2
  fi
  mkdir -p "$1"
}
