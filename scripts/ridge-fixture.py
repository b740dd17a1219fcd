#!/usr/bin/env python3
"""Writes the ridge test's fixture: a table with correlated and one-hot columns, and
scikit-learn's Ridge fitted on it (standardized features, alpha = rows x ours), so the test
`linear_ridge_agrees_with_scikit_learn` checks our closed form against scikit-learn's own
coefficients. Rerun only to regenerate the fixture:

    python3 scripts/ridge-fixture.py crates/tradeoff-linfa/tests/data
"""
import json
import os
import sys

import numpy as np
import sklearn
from sklearn.linear_model import Ridge
from sklearn.preprocessing import StandardScaler

ALPHAS = [1e-5, 0.01, 1.0]


def main():
    out = sys.argv[1]
    rng = np.random.default_rng(7)
    n = 600
    a = rng.normal(size=n) * 3 + 5
    b = rng.normal(size=n)
    near_a = a + 0.01 * rng.normal(size=n)  # nearly a copy of a
    level = rng.integers(0, 3, size=n)  # one categorical column, one-hot
    onehot = np.eye(3)[level]
    x = np.column_stack([a, b, near_a, onehot]).astype(np.float32)
    y = (2 * a - b + 0.5 * near_a + onehot @ [1.0, -2.0, 0.5] + rng.normal(size=n)).astype(np.float32)
    names = ["a", "b", "near_a", "level_0", "level_1", "level_2"]
    with open(os.path.join(out, "ridge.csv"), "w") as f:
        f.write(",".join(names + ["y"]) + "\n")
        for row, t in zip(x, y):
            f.write(",".join(repr(float(v)) for v in row) + f",{float(t)!r}\n")
    # The float32 values, widened, as ours reads them.
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    xs = StandardScaler().fit_transform(x64)
    fits = []
    for alpha in ALPHAS:
        m = Ridge(alpha=alpha * n, solver="cholesky").fit(xs, y64)
        fits.append(dict(alpha=alpha, coef=m.coef_.tolist(), intercept=float(m.intercept_)))
    json.dump(dict(sklearn=sklearn.__version__, rows=n, fits=fits),
              open(os.path.join(out, "ridge-sklearn.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
