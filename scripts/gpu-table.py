#!/usr/bin/env python3
"""The GPU table from one benchmark run: every candidate's end-to-end time per call on each
target and batch size, the `wgsl` compute pass alone (device timestamps) in input bytes per
second against the device's measured copy bandwidth, and the batch from which each GPU
target's whole call (upload, compute, readback) is faster than the `cpu` target's.

    python3 scripts/gpu-table.py CRITERION_DIR [--json bench.json] > table.md
    python3 scripts/gpu-table.py bench.json > table.md     # again, from the medians kept

--costs names the benchmark's output with its "per row" lines; MLPs' compute passes then
get FLOP/s as well.

CRITERION_DIR is criterion's output folder (CRITERION_HOME, or TARGET_DIR/criterion). Standard
library only, so it runs on a machine with nothing installed. Targets ending in `[sw]` ran on
a software adapter: the table says so, and their figures are CPU timings.
"""
import argparse
import json
import os
import re

from criterion_results import costs, fmt_ns as fmt_time, load

COPY_TARGET = 0.60  # issue 6: linear models at large batch, input bytes vs device copy


def fmt_rate(bytes_per_s):
    return f"{bytes_per_s / 1e9:.3g} GB/s"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("criterion", help="criterion's folder, or a bench.json this script wrote")
    ap.add_argument("--json", help="also write every median here")
    ap.add_argument("--costs", help="the benchmark's output (its 'per row' lines)")
    args = ap.parse_args()
    cost = costs(args.costs) if args.costs else {}
    if os.path.isfile(args.criterion):
        with open(args.criterion) as f:
            runs = {k: (v["median_ns"], v["throughput"]) for k, v in json.load(f).items()}
    else:
        runs = load(args.criterion)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({k: {"median_ns": v[0], "throughput": v[1]} for k, v in sorted(runs.items())},
                      f, indent=1)

    # predict/<candidate>/<target>[/compute]/<batch>
    pat = re.compile(r"^predict/([^/]+)/([^/]+?)(/compute)?/(\d+)$")
    cells = {}  # (candidate, target, compute) -> {batch: ns}
    for full_id, (ns, _) in runs.items():
        m = pat.match(full_id)
        if m:
            key = (m.group(1), m.group(2), bool(m.group(3)))
            cells.setdefault(key, {})[int(m.group(4))] = ns
    copy = None
    for full_id, (ns, tp) in runs.items():
        if full_id.startswith("limits/device-copy") and "Bytes" in tp:
            copy = (full_id, tp["Bytes"] / (ns * 1e-9))
    software = any("[sw]" in t for (_, t, _) in cells) or (copy and "[sw]" in copy[0])

    print("# GPU table\n")
    if software:
        print("**Software adapter** (targets marked `[sw]`): the GPU targets ran on the CPU "
              "through a software Vulkan driver. These are CPU timings, not GPU timings.\n")
    if copy:
        print(f"Device copy ({copy[0]}, 256 MiB, bytes read and written): "
              f"**{fmt_rate(copy[1])}**.\n")
    candidates = sorted({c for (c, _, _) in cells}, key=lambda c: (
        ["linear", "logistic", "tree", "forest", "gbm"] + [c]).index(c))
    for cand in candidates:
        targets = sorted({t for (c, t, comp) in cells if c == cand and not comp},
                         key=lambda t: (t != "cpu", t))
        computed = sorted({t for (c, t, comp) in cells if c == cand and comp})
        batches = sorted({b for (c, _, _), v in cells.items() if c == cand for b in v})
        print(f"## {cand}\n")
        head = [f"{t} call" for t in targets] + [f"{t} compute" for t in computed]
        print("| rows | " + " | ".join(head) + " |")
        print("|---:|" + "---:|" * len(head))
        for b in batches:
            row = [fmt_time(cells[(cand, t, False)].get(b)) for t in targets]
            for t in computed:
                ns = cells[(cand, t, True)].get(b)
                tp = runs.get(f"predict/{cand}/{t}/compute/{b}", (None, {}))[1]
                if ns is None:
                    row.append("-")
                    continue
                rate = tp.get("Bytes", 0) / (ns * 1e-9)
                # Input bytes bound only the linear models' time; others' is compute.
                share = ""
                if copy and cand in ("linear", "logistic"):
                    share = f", {rate / copy[1]:.0%} of copy"
                flops = cost.get(cand, (0, 0, 0))[1]
                if flops and cand not in ("linear", "logistic"):
                    share = f", {b * flops / (ns * 1e-9) / 1e9:.3g} GFLOP/s"
                row.append(f"{fmt_time(ns)} ({fmt_rate(rate)}{share})")
            print(f"| {b} | " + " | ".join(row) + " |")
        print()
        cpu = cells.get((cand, "cpu", False), {})
        for t in targets:
            if t == "cpu" or not cpu:
                continue
            mine = cells[(cand, t, False)]
            common = [b for b in batches if b in cpu and b in mine]
            # The smallest batch from which this target's whole call is faster at every
            # larger measured batch.
            cross = None
            for b in reversed(common):
                if mine[b] < cpu[b]:
                    cross = b
                else:
                    break
            if cross is None:
                print(f"- {t}: the whole call is slower than `cpu` at every measured batch "
                      f"(up to {common[-1] if common else '-'} rows).")
            else:
                print(f"- {t}: the whole call is faster than `cpu` from {cross} rows "
                      f"(measured: {', '.join(map(str, common))}).")
        if cand in ("linear", "logistic") and copy:
            for t in computed:
                big = max(cells[(cand, t, True)], default=None)
                if big is None:
                    continue
                ns = cells[(cand, t, True)][big]
                rate = runs[f"predict/{cand}/{t}/compute/{big}"][1].get("Bytes", 0) / (ns * 1e-9)
                verdict = "met" if rate >= COPY_TARGET * copy[1] else "missed"
                print(f"- {t} compute at {big} rows: {fmt_rate(rate)} of input, "
                      f"{rate / copy[1]:.0%} of the device copy (target {COPY_TARGET:.0%}: "
                      f"{verdict}{', software adapter' if '[sw]' in t else ''}).")
        print()


if __name__ == "__main__":
    main()
