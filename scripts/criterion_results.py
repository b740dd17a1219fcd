"""Reading criterion's output folder and formatting its figures, for scripts/cpu-table.py and
scripts/gpu-table.py. Standard library only."""
import json
import os
import re


def load(root):
    """{full_id: (median ns, throughput dict)} for every benchmark under criterion's folder."""
    out = {}
    for dirpath, _, files in os.walk(root):
        if os.path.basename(dirpath) != "new" or "benchmark.json" not in files:
            continue
        try:
            with open(os.path.join(dirpath, "benchmark.json")) as f:
                bench = json.load(f)
            with open(os.path.join(dirpath, "estimates.json")) as f:
                ns = json.load(f)["median"]["point_estimate"]
        except (OSError, KeyError, ValueError):
            continue
        out[bench["full_id"]] = (ns, bench.get("throughput") or {})
    return out


def fmt_ns(ns):
    if ns is None:
        return "-"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def costs(path):
    """{model: (input bytes, FLOPs, node steps) per row} from the benchmark's stderr lines."""
    out = {}
    pat = re.compile(r"^(\S+): (\d+) input bytes, (\d+) FLOPs and (\d+) node steps per row")
    for line in open(path):
        m = pat.match(line.strip())
        if m:
            out[m.group(1)] = tuple(int(g) for g in m.groups()[1:])
    return out
