"""Makes the fixtures of the model-import tests with the real libraries.

For each task (regression, binary, multiclass): a CSV of rows (features x0..x4, target y),
an XGBoost model (JSON, `save_model`) and a LightGBM model (text, `save_model`) trained
on its first 300 rows, and each library's own predictions on every row of the CSV. The
features are exactly representable in f32, as tradeoff reads them, so the libraries and
tradeoff see the same numbers. `positional` models are saved without feature names.

ONNX: scikit-learn models exported by skl2onnx (linear and logistic regression, a
scaler and logistic regression in a pipeline, gradient boosting, MLPs; `onnx-*`), and the XGBoost
and LightGBM binary models converted by onnxmltools (`onnx-xgb-binary`, `onnx-lgb-binary`),
with the producing library's own predictions.

Run from the repository root, in a virtual environment with the pinned versions:

    python3 -m venv /tmp/fx && /tmp/fx/bin/pip install xgboost==3.2.0 lightgbm==4.7.0 \
        numpy==2.4.6 scikit-learn==1.9.1 skl2onnx==1.20.0 onnx==1.23.2 onnxmltools==1.16.0
    /tmp/fx/bin/python scripts/import-fixtures.py
"""

import json
import os

import lightgbm as lgb
import numpy as np
import xgboost as xgb

OUT = "tests/fixtures/import"
ROWS, TRAIN, FEATURES, TREES = 400, 300, 5, 12
NAMES = [f"x{i}" for i in range(FEATURES)]


def data(task, rng):
    x = rng.normal(size=(ROWS, FEATURES)).astype(np.float32)
    z = x[:, 0] * 1.5 - x[:, 1] + 0.5 * x[:, 2] * x[:, 3]
    if task == "regression":
        y = z + rng.normal(scale=0.3, size=ROWS)
    elif task == "binary":
        y = (z + rng.normal(scale=0.5, size=ROWS) > 0).astype(int)
    else:
        y = np.digitize(z + rng.normal(scale=0.5, size=ROWS), [-0.7, 0.7])
    return x, y


def write_csv(path, x, y, task):
    with open(path, "w") as f:
        f.write(",".join(NAMES + ["y"]) + "\n")
        for row, t in zip(x, y):
            target = f"{t:.9g}" if task == "regression" else str(int(t))
            f.write(",".join(f"{float(v):.9g}" for v in row) + "," + target + "\n")


def write_predictions(path, p):
    p = np.asarray(p, dtype=np.float64)
    if p.ndim == 1:
        p = p[:, None]
    with open(path, "w") as f:
        for row in p:
            f.write(",".join(repr(float(v)) for v in row) + "\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(7)
    versions = {"xgboost": xgb.__version__, "lightgbm": lgb.__version__, "numpy": np.__version__}
    for task in ["regression", "binary", "multiclass"]:
        x, y = data(task, rng)
        write_csv(f"{OUT}/{task}.csv", x, y, task)
        xt, yt = x[:TRAIN], y[:TRAIN]
        objective = {
            "regression": "reg:squarederror",
            "binary": "binary:logistic",
            "multiclass": "multi:softprob",
        }[task]
        params = {"objective": objective, "max_depth": 3, "eta": 0.3, "seed": 1}
        if task == "multiclass":
            params["num_class"] = 3
        for named in [True, False]:
            d = xgb.DMatrix(xt, label=yt, feature_names=NAMES if named else None)
            booster = xgb.train(params, d, num_boost_round=TREES)
            suffix = "" if named else "-positional"
            booster.save_model(f"{OUT}/xgb-{task}{suffix}.json")
            p = booster.predict(xgb.DMatrix(x, feature_names=NAMES if named else None))
            write_predictions(f"{OUT}/xgb-{task}{suffix}.pred.csv", p)
        lparams = {
            "objective": {"regression": "regression", "binary": "binary", "multiclass": "multiclass"}[task],
            "num_leaves": 8,
            "learning_rate": 0.3,
            "min_data_in_leaf": 5,
            "seed": 1,
            "verbose": -1,
            "deterministic": True,
            "num_threads": 1,
        }
        if task == "multiclass":
            lparams["num_class"] = 3
        for named in [True, False]:
            ds = lgb.Dataset(
                x[:TRAIN].astype(np.float64), label=yt, feature_name=NAMES if named else "auto"
            )
            model = lgb.train(lparams, ds, num_boost_round=TREES)
            suffix = "" if named else "-positional"
            model.save_model(f"{OUT}/lgb-{task}{suffix}.txt")
            write_predictions(f"{OUT}/lgb-{task}{suffix}.pred.csv", model.predict(x.astype(np.float64)))
    onnx_fixtures(rng, versions)
    with open(f"{OUT}/versions.json", "w") as f:
        json.dump(versions, f, indent=1)
        f.write("\n")


def onnx_fixtures(rng, versions):
    import onnx
    import onnxmltools
    import skl2onnx
    import sklearn
    from onnxmltools.convert.common.data_types import FloatTensorType
    from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    versions.update(
        {
            "scikit-learn": sklearn.__version__,
            "skl2onnx": skl2onnx.__version__,
            "onnx": onnx.__version__,
            "onnxmltools": onnxmltools.__version__,
        }
    )

    def rows(task):
        d = np.loadtxt(f"{OUT}/{task}.csv", delimiter=",", skiprows=1)
        return d[:, :FEATURES].astype(np.float32), d[:, FEATURES]

    models = [
        ("regression", "linear", LinearRegression()),
        ("binary", "logistic", LogisticRegression()),
        ("multiclass", "logistic", LogisticRegression()),
        ("multiclass", "scaled-logistic", make_pipeline(StandardScaler(), LogisticRegression())),
        ("regression", "gbm", GradientBoostingRegressor(n_estimators=TREES, max_depth=3, random_state=1)),
        ("binary", "gbm", GradientBoostingClassifier(n_estimators=TREES, max_depth=3, random_state=1)),
        ("multiclass", "gbm", GradientBoostingClassifier(n_estimators=TREES, max_depth=3, random_state=1)),
        ("regression", "mlp", MLPRegressor(hidden_layer_sizes=(16, 8), max_iter=300, random_state=1)),
        ("binary", "mlp", MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=1)),
        ("multiclass", "mlp", MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=1)),
        # Not in the IR (tanh hidden layers): the import tests expect it refused.
        ("binary", "mlp-tanh", MLPClassifier(hidden_layer_sizes=(4,), activation="tanh", max_iter=50, random_state=1)),
    ]
    for task, name, model in models:
        x, y = rows(task)
        if task != "regression":
            y = y.astype(int)
        model.fit(x[:TRAIN], y[:TRAIN])
        classifier = task != "regression"
        onx = skl2onnx.to_onnx(
            model,
            x[:1],
            target_opset={"": 17, "ai.onnx.ml": 3},
            options={id(model): {"zipmap": False}} if classifier else None,
        )
        onnx.save(onx, f"{OUT}/onnx-{name}-{task}.onnx")
        p = model.predict_proba(x) if classifier else model.predict(x)
        if task == "binary":
            p = p[:, 1]
        write_predictions(f"{OUT}/onnx-{name}-{task}.pred.csv", p)
    # The XGBoost and LightGBM binary fixtures, converted: their libraries' predictions.
    types = [("input", FloatTensorType([None, FEATURES]))]
    booster = xgb.Booster(model_file=f"{OUT}/xgb-binary-positional.json")
    onx = onnxmltools.convert_xgboost(booster, initial_types=types, target_opset=15)
    onnx.save(onx, f"{OUT}/onnx-xgb-binary.onnx")
    model = lgb.Booster(model_file=f"{OUT}/lgb-binary-positional.txt")
    onx = onnxmltools.convert_lightgbm(model, initial_types=types, target_opset=15, zipmap=False)
    onnx.save(onx, f"{OUT}/onnx-lgb-binary.onnx")
    for lib in ["xgb", "lgb"]:
        import shutil

        shutil.copy(f"{OUT}/{lib}-binary-positional.pred.csv", f"{OUT}/onnx-{lib}-binary.pred.csv")


if __name__ == "__main__":
    main()
