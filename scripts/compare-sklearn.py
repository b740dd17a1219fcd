#!/usr/bin/env python3
"""Train scikit-learn's comparable models on a split exported by `tradeoff run --export-split DIR`.

Same rows, same folds (PredefinedSplit from folds.csv), same number of random-search trials;
scikit-learn's own hyperparameter spaces. Prints the held-out primary metric of each model, to
check that tradeoff's ladder is trained competently.

    pip install scikit-learn pandas
    python3 scripts/compare-sklearn.py DIR [--trials 8] [--seed 42]
"""
import argparse
import json
import time

import numpy as np
import pandas as pd
from scipy.stats import loguniform, randint, uniform
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import PredefinedSplit, RandomizedSearchCV
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--only", help="comma-separated model names to run (default: all)")
    args = ap.parse_args()
    train = pd.read_csv(f"{args.dir}/train.csv")
    test = pd.read_csv(f"{args.dir}/test.csv")
    folds = pd.read_csv(f"{args.dir}/folds.csv")["fold"].to_numpy()
    target = train.columns[-1]
    xtr, ytr = train.drop(columns=[target]).to_numpy(np.float32), train[target]
    xte, yte = test.drop(columns=[target]).to_numpy(np.float32), test[target]
    classification = ytr.dtype == object or ytr.nunique() <= 20 and (ytr == ytr.round()).all()
    if classification:
        ytr, yte = ytr.astype(str), yte.astype(str)
        metric, score, scoring = "accuracy", accuracy_score, "accuracy"
        models = {
            "logistic": (make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
                         {"logisticregression__C": loguniform(1e-3, 1e3)}),
            "tree": (DecisionTreeClassifier(random_state=args.seed),
                     {"max_depth": randint(2, 17), "min_samples_leaf": randint(1, 33)}),
            "forest": (RandomForestClassifier(random_state=args.seed),
                       {"n_estimators": randint(10, 201), "max_depth": randint(4, 17),
                        "min_samples_leaf": randint(1, 17), "max_features": uniform(0.2, 0.8)}),
            "gbm": (HistGradientBoostingClassifier(random_state=args.seed),
                    {"max_iter": randint(20, 301), "learning_rate": loguniform(0.02, 0.3),
                     "max_depth": randint(2, 9), "l2_regularization": loguniform(0.1, 10)}),
        }
    else:
        metric, score, scoring = "r2", r2_score, "r2"
        models = {
            "linear": (make_pipeline(StandardScaler(), Ridge()), {"ridge__alpha": loguniform(1e-3, 1e3)}),
            "tree": (DecisionTreeRegressor(random_state=args.seed),
                     {"max_depth": randint(2, 17), "min_samples_leaf": randint(1, 33)}),
            "forest": (RandomForestRegressor(random_state=args.seed),
                       {"n_estimators": randint(10, 201), "max_depth": randint(4, 17),
                        "min_samples_leaf": randint(1, 17), "max_features": uniform(0.2, 0.8)}),
            "gbm": (HistGradientBoostingRegressor(random_state=args.seed),
                    {"max_iter": randint(20, 301), "learning_rate": loguniform(0.02, 0.3),
                     "max_depth": randint(2, 9), "l2_regularization": loguniform(0.1, 10)}),
        }
    # The MLP ladder with tradeoff's sizes (mlp-s 64; mlp-m 256x2; mlp-l 1024x4): Adam,
    # minibatches, early stopping on 10% of the training rows, as tradeoff trains them.
    mlp = MLPClassifier if classification else MLPRegressor
    prefix = "mlpclassifier" if classification else "mlpregressor"
    for name, hidden in [("mlp-s", (64,)), ("mlp-m", (256, 256)), ("mlp-l", (1024,) * 4)]:
        models[name] = (
            make_pipeline(StandardScaler(), mlp(hidden_layer_sizes=hidden, early_stopping=True,
                                                validation_fraction=0.1, n_iter_no_change=10,
                                                max_iter=200, random_state=args.seed)),
            {f"{prefix}__learning_rate_init": loguniform(1e-4, 3e-2),
             f"{prefix}__alpha": loguniform(1e-6, 1e-2),
             f"{prefix}__batch_size": randint(16, 257)})
    if args.only:
        wanted = args.only.split(",")
        unknown = [w for w in wanted if w not in models]
        if unknown:
            ap.error(f"unknown model(s) {unknown}; known: {', '.join(models)}")
        models = {k: v for k, v in models.items() if k in wanted}
    out = {}
    for name, (model, space) in models.items():
        t = time.perf_counter()
        search = RandomizedSearchCV(model, space, n_iter=args.trials, cv=PredefinedSplit(folds),
                                    scoring=scoring, random_state=args.seed, n_jobs=1)
        search.fit(xtr, ytr)
        s = score(yte, search.predict(xte))
        out[name] = {f"test_{metric}": round(float(s), 4), "cv": round(float(search.best_score_), 4),
                     "seconds": round(time.perf_counter() - t, 2)}
        print(f"{name:9s} test {metric} {s:.4f}  cv {search.best_score_:.4f}  ({out[name]['seconds']}s)")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
