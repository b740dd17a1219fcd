#!/usr/bin/env bash
# Run a fleet plan's SkyPilot tasks on this machine, one after another, as if each were its
# instance type, then merge them as a real fleet run is merged, and check the merged table.
# No cloud: what this tests is the tasks' `run:` scripts, the pricing by --instance, the
# resume path a reclaimed instance takes, and `tradeoff merge` over the collected directories.
#
#   bash scripts/fleet-simulate.sh PLAN       # PLAN/skypilot/<instance>.yaml from `tradeoff fleet plan`
#
# For each task: its `envs:` are exported as SkyPilot exports them, with three overrides, as
# `sky launch --env` would set them: TRADEOFF_BIN (this machine's binary: $TRADEOFF_BIN, else
# target/release/tradeoff), RESULTS=PLAN/results (so the run writes PLAN/results/<instance>/),
# and REQUIRE_GPU=false where this machine has no hardware GPU adapter (said in the output:
# the wgpu targets then run on lavapipe/llvmpipe, labelled software). `setup:` is skipped (it
# installs packages and builds). `run:` runs with bash in the task's workdir, as SkyPilot runs
# it in ~/sky_workdir. Each run is then run a second time, which must find its finished run
# and measure nothing (what a recovered spot instance does).
# Then `tradeoff merge PLAN/results/* --out PLAN/merged` (the directories, as launch.sh merges
# them), and a check that the merged records have every instance of the plan, priced at its
# prices.toml price, and that the merged manifest's `fleet` lists each run as complete with
# how long it ran.
# Exit 0 when all of that holds; 1 naming what did not.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
[ $# -eq 1 ] || { echo "usage: $0 PLAN" >&2; exit 2; }
plan="$(cd "$1" && pwd)"
ls "$plan"/skypilot/*.yaml >/dev/null 2>&1 || { echo "fleet-simulate: no $plan/skypilot/*.yaml" >&2; exit 2; }

bin="${TRADEOFF_BIN:-$repo/target/release/tradeoff}"
[ -x "$bin" ] || { echo "fleet-simulate: no tradeoff binary at $bin (build it, or set TRADEOFF_BIN)" >&2; exit 2; }
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
# PyYAML reads the tasks: the validation venv has it, else the system's python3.
py="${FLEET_VENV:-$HOME/.cache/tradeoff-fleet-venv}/bin/python"
[ -x "$py" ] || py=python3
"$py" -c 'import yaml' 2>/dev/null || { echo "fleet-simulate: $py has no PyYAML (pip install pyyaml, or run scripts/fleet-validate.sh once)" >&2; exit 2; }

# `tradeoff` on PATH too, for run scripts that call it by name.
shim="$plan/sim/bin"
mkdir -p "$shim"
ln -sf "$bin" "$shim/tradeoff"
export PATH="$shim:$PATH"

hardware_gpu() { "$bin" devices 2>/dev/null | grep '^  wgsl' | grep -v unavailable | grep -vq software; }
gpu_here=no
hardware_gpu && gpu_here=yes

rm -rf "$plan/results" "$plan/merged"
mkdir -p "$plan/results" "$plan/sim"
failed=()
instances=()
for task in "$plan"/skypilot/*.yaml; do
  inst="$(basename "$task" .yaml)"
  instances+=("$inst")
  dir="$plan/sim/$inst"
  mkdir -p "$dir"
  # The task's envs as `export` lines, its workdir, and its run script.
  "$py" - "$task" "$dir" <<'PY'
import shlex, sys, yaml
task, out = sys.argv[1], sys.argv[2]
t = yaml.safe_load(open(task))
with open(f"{out}/env.sh", "w") as f:
    for k, v in (t.get("envs") or {}).items():
        f.write(f"export {k}={shlex.quote('' if v is None else str(v))}\n")
open(f"{out}/workdir", "w").write(str(t.get("workdir") or "."))
open(f"{out}/run.sh", "w").write(t.get("run") or "")
PY
  workdir="$(cat "$dir/workdir")"
  rm -f "$dir/failed"
  (
    set -a
    . "$dir/env.sh"
    set +a
    export TRADEOFF_BIN="$bin" RESULTS="$plan/results"
    if [ "${REQUIRE_GPU:-false}" = true ] && [ "$gpu_here" = no ]; then
      export REQUIRE_GPU=false
      echo "== $inst: this machine has no hardware GPU: REQUIRE_GPU=false, the wgpu targets run on a software adapter" >&2
    fi
    cd "$workdir"
    echo "== $inst: run (workdir $workdir)" >&2
    bash "$dir/run.sh" > "$dir/run.log" 2>&1 || { echo "run exited $?" > "$dir/failed"; exit 0; }
    lines=$(wc -l < "$RESULTS/$inst/results.jsonl")
    echo "== $inst: run again (a recovered instance): must resume nothing" >&2
    bash "$dir/run.sh" > "$dir/rerun.log" 2>&1 || { echo "second run exited $?" > "$dir/failed"; exit 0; }
    grep -q "nothing to resume" "$dir/rerun.log" || echo "second run did not say 'nothing to resume'" > "$dir/failed"
    [ "$(wc -l < "$RESULTS/$inst/results.jsonl")" = "$lines" ] \
      || echo "second run added records to a finished run" > "$dir/failed"
  ) || echo "simulation step failed with exit $?" >> "$dir/failed"
  if [ -f "$dir/failed" ]; then
    failed+=("$inst: $(cat "$dir/failed") (log: $dir/run.log, $dir/rerun.log)")
  else
    tail -n 3 "$dir/run.log" | sed "s/^/   $inst | /" >&2
  fi
done

shopt -s nullglob
results=("$plan"/results/*/)
if [ ${#results[@]} -eq 0 ]; then
  printf 'fleet-simulate: FAIL %s\n' "${failed[@]}" "no results to merge" >&2
  exit 1
fi
echo "== merge ${#results[@]} result directories" >&2
"$bin" merge "${results[@]}" --out "$plan/merged" > "$plan/merge.txt" 2>&1 \
  || failed+=("merge exited $? (see $plan/merge.txt)")
cat "$plan/merge.txt"

# Every instance of the plan in the merged records and manifest, at its catalog price.
"$py" - "$plan" "$repo/prices.toml" "${instances[@]}" <<'PY' || failed+=("merged table check")
import json, sys, tomllib
plan, prices, instances = sys.argv[1], sys.argv[2], sys.argv[3:]
catalog = {e["name"]: e for e in tomllib.load(open(prices, "rb"))["instance"]}
cells = [json.loads(l) for l in open(f"{plan}/merged/results.jsonl")]
cells = [c for c in cells if c.get("kind") == "cell"]
manifest = json.load(open(f"{plan}/merged/manifest.json"))
machines = manifest.get("machines", [])
fleet = {f.get("instance"): f for f in manifest.get("fleet", [])}
bad = 0
print(f"{'instance':<12} {'cells':>5} {'ok':>3} {'usd_per_hour':>12} {'catalog':>8} {'ran':>5}  machine in manifest")
for inst in instances:
    mine = [c for c in cells if c.get("instance") == inst]
    prices_seen = sorted({c.get("usd_per_hour") for c in mine}, key=str)
    want = catalog.get(inst, {}).get("usd_per_hour")
    listed = [m for m in machines if m.endswith(f"[{inst}]")]
    member = fleet.get(inst, {})
    ok = (bool(mine) and prices_seen == [want] and bool(listed)
          and member.get("status") == "complete" and member.get("seconds") is not None)
    bad += not ok
    print(f"{inst:<12} {len(mine):>5} {sum(c.get('status') == 'ok' for c in mine):>3} "
          f"{','.join(map(str, prices_seen)) or '-':>12} {want if want is not None else '-':>8} "
          f"{str(member.get('seconds', '-')) + 's':>5}  "
          f"{listed[0] if listed else 'MISSING'}{'' if ok else '   <- FAIL'}")
sys.exit(1 if bad else 0)
PY

if [ ${#failed[@]} -gt 0 ]; then
  printf 'fleet-simulate: FAIL %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "fleet-simulate: ${#instances[@]} instances run, rerun as recovered, merged into $plan/merged, priced from the catalog"
