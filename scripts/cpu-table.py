#!/usr/bin/env python3
"""The cpu-target table: our criterion medians beside scikit-learn's and ONNX Runtime's
figures (scripts/peers.py) and the limits computed from bytes and FLOPs.

    python3 scripts/cpu-table.py --criterion TARGET_DIR/criterion --costs costs.txt \
        --peers peers.json [--bandwidth 35e9] [--peak 259e9] > table.md

--costs is the benchmark's stderr (one line per model: input bytes, FLOPs and node steps
per row). The limits default to the reference figures measured on this project's machine
kind (AMD EPYC Zen 5, one core: DRAM read 35 GB/s, fp32 FMA peak 259 GFLOP/s); pass your
machine's own. Linear models and trees run on one core; MLPs at 4096 rows on --cores.
"""
import argparse
import json
import os
import re

MODELS = ["linear", "logistic", "tree", "forest", "gbm", "mlp-m"]
LABELS = {
    "linear": "linear regression",
    "logistic": "logistic regression",
    "tree": "decision tree, depth 8",
    "forest": "random forest, 100 x depth 8",
    "gbm": "gradient boosting, 100 x depth 6",
    "mlp-m": "MLP 256x256",
}


def median_ns(root, model, batch):
    path = os.path.join(root, "predict", f"{model}_cpu", str(batch), "new", "estimates.json")
    try:
        with open(path) as f:
            return json.load(f)["median"]["point_estimate"]
    except FileNotFoundError:
        return None


def costs(path):
    out = {}
    pat = re.compile(r"^(\S+): (\d+) input bytes, (\d+) FLOPs and (\d+) node steps per row")
    for line in open(path):
        m = pat.match(line.strip())
        if m:
            out[m.group(1)] = tuple(int(g) for g in m.groups()[1:])
    return out


def fmt_ns(ns):
    if ns is None:
        return "-"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def fmt_rate(r):
    if r is None:
        return "-"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if r >= scale:
            return f"{r / scale:.3g} {unit}"
    return f"{r:.3g}"


def ratio(a, b):
    return "-" if a is None or b is None or b == 0 else f"{a / b:.2f}x"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--criterion", required=True)
    ap.add_argument("--costs", required=True)
    ap.add_argument("--peers")
    ap.add_argument("--bandwidth", type=float, default=35e9)
    ap.add_argument("--peak", type=float, default=259e9)
    # The cpu target runs MLP layers of 4M multiply-adds and more on every core.
    ap.add_argument("--cores", type=int, default=os.cpu_count())
    a = ap.parse_args()
    peers = {}
    if a.peers and os.path.exists(a.peers):
        peers = json.load(open(a.peers))["models"]
    cost = costs(a.costs)

    print("| model | ours batch 1 | sklearn batch 1 | ORT batch 1 | ours rows/s at 4096 | sklearn | ORT | ours / ORT at 4096 | limit at 4096 | ours / limit |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for m in MODELS:
        b1 = median_ns(a.criterion, m, 1)
        b4 = median_ns(a.criterion, m, 4096)
        rps = 4096 / (b4 * 1e-9) if b4 else None
        p = peers.get(m, {})
        bytes_, flops, steps = cost.get(m, (0, 0, 0))
        if m in ("linear", "logistic"):
            limit = a.bandwidth / bytes_ if bytes_ else None
            limit_text = f"{fmt_rate(limit)} (DRAM: {bytes_} B/row)"
        elif m.startswith("mlp"):
            limit = a.cores * a.peak / flops if flops else None
            limit_text = f"{fmt_rate(limit)} (FMA peak x {a.cores} cores: {flops} FLOP/row)"
        else:
            limit = None
            per_step = b4 / 4096 / steps if b4 and steps else None
            limit_text = f"none simple; {steps} node steps/row, {per_step:.2f} ns each" if per_step else "-"
        print(
            f"| {LABELS[m]} | {fmt_ns(b1)} | {fmt_ns(p.get('sklearn_batch1_ns'))} | {fmt_ns(p.get('ort_batch1_ns'))} "
            f"| {fmt_rate(rps)} | {fmt_rate(p.get('sklearn_rows_per_s_4096'))} | {fmt_rate(p.get('ort_rows_per_s_4096'))} "
            f"| {ratio(rps, p.get('ort_rows_per_s_4096'))} | {limit_text} | {ratio(rps, limit)} |"
        )
    big = median_ns(a.criterion, "linear", 1 << 20)
    if big:
        bytes_ = cost.get("linear", (0, 0, 0))[0]
        gbs = (1 << 20) * bytes_ / (big * 1e-9) / 1e9
        print(
            f"\nlinear at 1,048,576 rows: {fmt_ns(big)} per call, {gbs:.1f} GB/s of input read, "
            f"{gbs * 1e9 / a.bandwidth:.0%} of {a.bandwidth / 1e9:.0f} GB/s"
        )


if __name__ == "__main__":
    main()
