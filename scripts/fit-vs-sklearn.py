#!/usr/bin/env python3
"""One fit per family: tradeoff's trainers against scikit-learn and LightGBM, same rows, same
settings, same machine, same run. Run by scripts/fit-vs-sklearn.sh, which has tradeoff fit
each family once with fixed parameters (`tradeoff run --candidates id:params`, so no tuning:
`fit_seconds` is one fit on the training part) and export that training part.

    python3 scripts/fit-vs-sklearn.py --cls DIR --reg DIR [--runs 3] > fit.json

DIR holds train.csv (exported by --export-split) and run*/results.jsonl (ours, one fit a
candidate a run). Each figure, ours and the peers', is the median of its fits (--runs for the
peers; ours as many as there are runs). Peers use
every core where they can (n_jobs=-1 for the forest, OpenMP for HistGradientBoosting and
LightGBM), as ours does for the forest; the other trainers of ours use one core.
"""
import argparse
import glob
import json
import os
import platform
import statistics
import sys
import time

import numpy as np
import pandas as pd

# The fixed settings of scripts/fit-vs-sklearn.sh, in each library's terms.
TREE = dict(max_depth=8, min_leaf=1)
FOREST = dict(trees=100, max_depth=8, min_leaf=1, features=0.2)
GBM = dict(iterations=100, learning_rate=0.1, max_depth=6, l2=1.0)


def load(d):
    train = pd.read_csv(os.path.join(d, "train.csv"))
    y = train.iloc[:, -1].to_numpy()
    x = train.iloc[:, :-1].to_numpy(dtype=np.float32)
    return x, y


def ours(d):
    """The median fit_seconds of each candidate over the runs in d (every record of a
    candidate in one run carries that run's fit)."""
    fits = {}
    for run in sorted(glob.glob(os.path.join(d, "run*", "results.jsonl"))):
        one = {}
        with open(run) as f:
            for line in f:
                r = json.loads(line)
                if r.get("kind") == "cell" and r.get("fit_seconds") is not None:
                    one[r["candidate"]] = r["fit_seconds"]
        for c, s in one.items():
            fits.setdefault(c, []).append(s)
    return {c: statistics.median(s) for c, s in fits.items()}, max(map(len, fits.values()), default=0)


def peers(x, classification):
    from sklearn.ensemble import (
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    m = int(np.ceil(x.shape[1] * FOREST["features"]))  # ours: ceil(share x features)
    if classification:
        yield "logistic", "sklearn", LogisticRegression(max_iter=200)
        yield "tree", "sklearn", DecisionTreeClassifier(max_depth=8, min_samples_leaf=1, random_state=1)
        yield "forest", "sklearn", RandomForestClassifier(
            n_estimators=100, max_depth=8, min_samples_leaf=1, max_features=m, n_jobs=-1, random_state=1
        )
        yield "gbm", "sklearn", HistGradientBoostingClassifier(
            max_iter=100, learning_rate=0.1, max_depth=6, max_leaf_nodes=None,
            l2_regularization=1.0, early_stopping=False, random_state=1,
        )
    else:
        yield "linear", "sklearn", Ridge(alpha=1.0)
        yield "tree", "sklearn", DecisionTreeRegressor(max_depth=8, min_samples_leaf=1, random_state=1)
        yield "forest", "sklearn", RandomForestRegressor(
            n_estimators=100, max_depth=8, min_samples_leaf=1, max_features=m, n_jobs=-1, random_state=1
        )
        yield "gbm", "sklearn", HistGradientBoostingRegressor(
            max_iter=100, learning_rate=0.1, max_depth=6, max_leaf_nodes=None,
            l2_regularization=1.0, early_stopping=False, random_state=1,
        )
    try:
        import lightgbm as lgb
    except ImportError:
        return
    base = dict(verbose=-1, min_child_samples=1, min_child_weight=0.0, random_state=1)
    model = lgb.LGBMClassifier if classification else lgb.LGBMRegressor
    # A single tree: one boosting round at learning rate 1, the same depth (LightGBM grows
    # leaf-wise; 2^depth leaves lets it reach the same shape).
    yield "tree", "lightgbm", model(n_estimators=1, learning_rate=1.0, max_depth=8, num_leaves=256, **base)
    yield "forest", "lightgbm", model(
        boosting_type="rf", n_estimators=100, max_depth=8, num_leaves=256, bagging_freq=1,
        bagging_fraction=0.632, feature_fraction_bynode=FOREST["features"], **base
    )
    yield "gbm", "lightgbm", model(
        n_estimators=100, learning_rate=0.1, max_depth=6, num_leaves=64, reg_lambda=1.0,
        verbose=-1, random_state=1,
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cls", required=True)
    ap.add_argument("--reg", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--families", default="all", help="comma-separated families, or all")
    args = ap.parse_args()
    rows = []
    our_runs = 0
    for task, d in (("classification", args.cls), ("regression", args.reg)):
        if not os.path.exists(os.path.join(d, "train.csv")):
            continue
        x, y = load(d)
        mine, n = ours(d)
        our_runs = max(our_runs, n)
        for family, lib, model in peers(x, task == "classification"):
            if args.families != "all" and family not in args.families.split(","):
                continue
            times = []
            for _ in range(args.runs):
                t = time.perf_counter()
                model.fit(x, y)
                times.append(time.perf_counter() - t)
            peer = statistics.median(times)
            rows.append(dict(task=task, rows=len(x), features=x.shape[1], family=family,
                             peer=lib, peer_seconds=peer, ours_seconds=mine.get(family)))
            print(f"{task} {family} {lib}: {peer:.3f}s, ours {mine.get(family)}", file=sys.stderr)
    import sklearn
    try:
        import lightgbm
        lgb_version = lightgbm.__version__
    except ImportError:
        lgb_version = None
    json.dump(dict(machine=platform.processor() or platform.machine(), cores=os.cpu_count(),
                   sklearn=sklearn.__version__, lightgbm=lgb_version, runs=args.runs,
                   our_runs=our_runs, rows=rows),
              sys.stdout, indent=1)


if __name__ == "__main__":
    main()
