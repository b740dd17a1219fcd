"""The imported models' cpu-target figures from a run's records next to their libraries'
(scripts/import-bench.py's JSON): a Markdown table."""

import json
import sys

libs = json.load(open(sys.argv[1]))
cells = [json.loads(l) for l in open(sys.argv[2])]
cells = [c for c in cells if c.get("kind") == "cell" and c["target"] == "cpu"]


def ours(model, batch):
    for c in cells:
        if c["candidate"] == model and c["batch_size"] == batch and "latency_ns" in c:
            return c
    return None


def us(ns):
    return "-" if ns is None else f"{ns / 1000:.1f} µs"


def rps(v):
    return "-" if v is None else f"{v / 1e6:.2f}M" if v >= 1e6 else f"{v / 1e3:.0f}k"


print(f"versions: {libs['versions']}; library and ONNX Runtime threads: {libs['threads']}")
print()
print("| model | what | batch 1 p50 | rows/s at 4096 | ours vs it, batch 1 | ours vs it, 4096 |")
print("|---|---|---|---|---|---|")
for model, r in libs["models"].items():
    c1, c4 = ours(model, 1), ours(model, 4096)
    b1 = c1["latency_ns"]["p50"] if c1 else None
    t4 = c4["throughput_rows_per_s"] if c4 else None
    g = f" (groups of {c1['latency_ns']['group_size']})" if c1 and c1["latency_ns"].get("group_size", 1) > 1 else ""
    print(f"| {model} | tradeoff cpu target | {us(b1)}{g} | {rps(t4)} | | |")
    for label in ["library", "library_inplace", "ort"]:
        if f"{label}_batch1_ns" not in r:
            continue
        lb, lt = r[f"{label}_batch1_ns"], r[f"{label}_rows_per_s_4096"]
        x1 = f"{lb / b1:.1f}x faster" if b1 else "-"
        x4 = f"{t4 / lt:.1f}x" if t4 else "-"
        print(f"| {model} | {label} | {us(lb)} | {rps(lt)} | {x1} | {x4} |")
