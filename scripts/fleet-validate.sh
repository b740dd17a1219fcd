#!/usr/bin/env bash
# Check a fleet plan on paper with SkyPilot's and Kubernetes' own Python parsers, in a virtual
# environment this script makes (or reuses) with pinned versions. No cloud account needed.
#
#   bash scripts/fleet-validate.sh PLAN        # PLAN/skypilot/*.yaml, PLAN/k8s/*.yaml
#
# The environment: ${FLEET_VENV:-~/.cache/tradeoff-fleet-venv}; the first run installs about
# 150 MB from PyPI. Exit 0 when every file passes, 1 naming each file that fails and why.
# What is checked and what cannot be here: see scripts/fleet_validate.py.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ $# -ge 1 ] || { echo "usage: $0 PLAN [--prices FILE]" >&2; exit 2; }

SKYPILOT_VERSION=0.14.1
KUBERNETES_VERSION=37.0.2
venv="${FLEET_VENV:-$HOME/.cache/tradeoff-fleet-venv}"
py="$venv/bin/python"

have() { # the venv exists and holds the pinned versions
  [ -x "$py" ] && "$py" - "$SKYPILOT_VERSION" "$KUBERNETES_VERSION" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if (version("skypilot"), version("kubernetes")) == tuple(sys.argv[1:3]) else 1)
PY
}
if ! have; then
  echo "fleet-validate: installing skypilot==$SKYPILOT_VERSION kubernetes==$KUBERNETES_VERSION into $venv" >&2
  python3 -m venv "$venv"
  "$py" -m pip install --quiet --disable-pip-version-check \
    "skypilot==$SKYPILOT_VERSION" "kubernetes==$KUBERNETES_VERSION"
fi
exec "$py" "$here/fleet_validate.py" "$@"
