#!/usr/bin/env bash
# The fleet path without a cloud (part of scripts/test): `tradeoff fleet plan` for three
# instance types (one with a GPU), the plan checked with SkyPilot's and Kubernetes' own Python
# parsers (scripts/fleet-validate.sh, which makes its virtual environment from PyPI the first
# time), and the tasks' run scripts run here, one per instance, then merged
# (scripts/fleet-simulate.sh). FLEET_CHECK=skip skips it and says so: not checked.
#
#   bash scripts/fleet-check.sh [PLAN_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${FLEET_CHECK:-}" = skip ]; then
  echo "fleet-check: not checked (FLEET_CHECK=skip)"
  exit 0
fi
bin="${TRADEOFF_BIN:-${CARGO_TARGET_DIR:-target}/release/tradeoff}"
[ -x "$bin" ] || { echo "fleet-check: no binary at $bin (cargo build --release)" >&2; exit 2; }
if [ $# -ge 1 ]; then
  plan="$1"
else
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  plan="$tmp/plan"
fi
"$bin" fleet plan --suite suites/fleet-smoke.toml --instances c7i.large,g5.xlarge,m7g.large \
  --out "$plan" --force
bash scripts/fleet-validate.sh "$plan"
TRADEOFF_BIN="$bin" bash scripts/fleet-simulate.sh "$plan"
