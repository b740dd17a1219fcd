#!/usr/bin/env python3
"""The cpu-target table: our criterion medians beside scikit-learn's and ONNX Runtime's
figures (scripts/peers.py) and the limits computed from bytes and FLOPs.

    python3 scripts/cpu-table.py --criterion TARGET_DIR/criterion --costs costs.txt \
        --peers peers.json [--bandwidth 35e9] [--peak 259e9] > table.md

--costs is the benchmark's stderr (one line per model: input bytes, FLOPs and node steps
per row). Two kinds of limit: the reference figures of issue 5, measured on this project's
machine kind (AMD EPYC Zen 5: DRAM read 35 GB/s on one core and 66 on two, fp32 GEMM 452
GFLOP/s on two cores; pass your machine's own with --bandwidth, --bandwidth-all, --gemm-peak),
and the benchmark's `limits` group, measured in the same run: a plain read of 256 MiB on one
core and on every core, and the `gemm` crate alone on the MLP's widest layer. Linear models
up to 65,535 rows and trees run on one core; linear models from 65,536 rows and MLPs at 4096
rows on every core.
"""
import argparse
import json
import os
import re

from criterion_results import costs, fmt_ns

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


def limit_estimate(root, name):
    """Median throughput of a `limits/...` bench: bytes or FLOPs per second."""
    base = os.path.join(root, "limits", name.replace("/", "_"))
    try:
        with open(os.path.join(base, "new", "estimates.json")) as f:
            ns = json.load(f)["median"]["point_estimate"]
        with open(os.path.join(base, "new", "benchmark.json")) as f:
            tp = json.load(f)["throughput"]
        return next(iter(tp.values())) / (ns * 1e-9)
    except (FileNotFoundError, KeyError, StopIteration):
        return None


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
    ap.add_argument("--bandwidth-all", type=float, default=66e9)
    ap.add_argument("--gemm-peak", type=float, default=452e9)
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
            # 4096 rows (512 KiB) are read from L2, not DRAM: no DRAM bound applies here.
            limit = None
            limit_text = f"none from DRAM (in L2; {bytes_} B/row)"
        elif m.startswith("mlp"):
            limit = a.gemm_peak / flops if flops else None
            limit_text = f"{fmt_rate(limit)} (GEMM {a.gemm_peak / 1e9:.0f} GFLOP/s: {flops} FLOP/row)"
        else:
            limit = None
            per_step = b4 / 4096 / steps if b4 and steps else None
            limit_text = f"none simple; {steps} node steps/row, {per_step:.2f} ns each" if per_step else "-"
        print(
            f"| {LABELS[m]} | {fmt_ns(b1)} | {fmt_ns(p.get('sklearn_batch1_ns'))} | {fmt_ns(p.get('ort_batch1_ns'))} "
            f"| {fmt_rate(rps)} | {fmt_rate(p.get('sklearn_rows_per_s_4096'))} | {fmt_rate(p.get('ort_rows_per_s_4096'))} "
            f"| {ratio(rps, p.get('ort_rows_per_s_4096'))} | {limit_text} | {ratio(rps, limit)} |"
        )
    read1 = limit_estimate(a.criterion, "read/1")
    cores = a.cores
    read_all = limit_estimate(a.criterion, f"read/{cores}")
    gemm = limit_estimate(a.criterion, f"gemm/4096x256x256/{cores}")
    print("\nLimits measured in this run (`limits` benchmarks): plain read of 256 MiB "
          f"{fmt_gbs(read1)} on one core, {fmt_gbs(read_all)} on {cores}; "
          f"`gemm` alone, 4096x256x256 in 512-row blocks on {cores} cores: "
          f"{'-' if gemm is None else f'{gemm / 1e9:.0f} GFLOP/s'}.")
    big = median_ns(a.criterion, "linear", 1 << 20)
    if big:
        bytes_ = cost.get("linear", (0, 0, 0))[0]
        gbs = (1 << 20) * bytes_ / (big * 1e-9)
        print(
            f"\nlinear at 1,048,576 rows ({cores} cores): {fmt_ns(big)} per call, {fmt_gbs(gbs)} of "
            f"input read: {gbs / a.bandwidth_all:.0%} of the reference {a.bandwidth_all / 1e9:.0f} GB/s "
            f"on {cores} cores, {gbs / a.bandwidth:.0%} of the one-core {a.bandwidth / 1e9:.0f} GB/s, "
            f"{ratio(gbs, read_all)} of the plain read measured on {cores} cores"
        )
    b4 = median_ns(a.criterion, "mlp-m", 4096)
    flops = cost.get("mlp-m", (0, 0, 0))[1]
    if b4 and flops:
        rate = 4096 * flops / (b4 * 1e-9)
        print(
            f"\nMLP 256x256 at 4096 rows ({cores} cores): {rate / 1e9:.0f} GFLOP/s: "
            f"{rate / a.gemm_peak:.0%} of the reference GEMM {a.gemm_peak / 1e9:.0f} GFLOP/s, "
            f"{ratio(rate, gemm)} of `gemm` alone measured"
        )


def fmt_gbs(v):
    return "-" if v is None else f"{v / 1e9:.1f} GB/s"


if __name__ == "__main__":
    main()
