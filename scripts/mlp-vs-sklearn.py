#!/usr/bin/env python3
"""MLP training cost, ours (burn, Flex CPU device) against scikit-learn's MLPClassifier at the
same settings: hidden layers, Adam, batch size, learning rate, L2 penalty, 10% of the rows
held out and scored after every epoch. scikit-learn runs as many epochs as ours ran (ours
stops on validation loss with a patience of 10, or after 30 s), so the comparison is seconds
per epoch. Run by scripts/mlp-vs-sklearn.sh, which has tradeoff fit each MLP once
with fixed parameters and `-vv` (its debug line gives each fit's epochs and seconds).

    python3 scripts/mlp-vs-sklearn.py --dir DIR --log LOG --lr LR --decay D --batch B > mlp.json
"""
import argparse
import json
import os
import re
import sys
import time
import warnings

import numpy as np
import pandas as pd

SIZES = {"mlp-s": (64,), "mlp-m": (256, 256), "mlp-l": (1024, 1024, 1024, 1024)}


def ours(log):
    """Epochs and seconds of each MLP's refit (the last fit the log shows for it)."""
    out = {}
    pat = re.compile(r'mlp fit candidate="?([\w-]+)"? epochs=(\d+) seconds=([\d.]+)')
    for line in open(log, errors="replace"):
        m = pat.search(line)
        if m:
            out[m.group(1)] = (int(m.group(2)), float(m.group(3)))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--lr", type=float, required=True)
    ap.add_argument("--decay", type=float, required=True)
    ap.add_argument("--batch", type=int, required=True)
    args = ap.parse_args()
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter is ours, on purpose

    train = pd.read_csv(os.path.join(args.dir, "train.csv"))
    y = train.iloc[:, -1].to_numpy()
    x = train.iloc[:, :-1].to_numpy(dtype=np.float32)
    x = (x - x.mean(0)) / x.std(0)  # ours standardizes inside the fit
    mine = ours(args.log)
    rows = []
    for cid, hidden in SIZES.items():
        if cid not in mine:
            continue
        model = MLPClassifier(hidden_layer_sizes=hidden, solver="adam", batch_size=args.batch,
                              learning_rate_init=args.lr, alpha=args.decay,
                              max_iter=mine[cid][0], early_stopping=True,
                              validation_fraction=0.1, n_iter_no_change=10, random_state=1)
        t = time.perf_counter()
        model.fit(x, y)
        secs = time.perf_counter() - t
        epochs, our_secs = mine[cid]
        rows.append(dict(candidate=cid, rows=len(x), features=x.shape[1],
                         ours_epochs=epochs, ours_seconds=our_secs,
                         peer_epochs=int(model.n_iter_), peer_seconds=secs))
        print(f"{cid}: ours {epochs} epochs {our_secs:.1f}s, sklearn {model.n_iter_} epochs "
              f"{secs:.1f}s", file=sys.stderr)
    import sklearn
    warnings.resetwarnings()
    json.dump(dict(sklearn=sklearn.__version__, cores=os.cpu_count(), batch=args.batch,
                   lr=args.lr, decay=args.decay, rows=rows), sys.stdout, indent=1)


if __name__ == "__main__":
    main()
