"""Makes the fixtures of the model-import tests with the real libraries.

For each task (regression, binary, multiclass): a CSV of rows (features x0..x4, target y),
an XGBoost model (JSON, `save_model`) and a LightGBM model (text, `save_model`) trained
on its first 300 rows, and each library's own predictions on every row of the CSV. The
features are exactly representable in f32, as tradeoff reads them, so the libraries and
tradeoff see the same numbers. `positional` models are saved without feature names.

ONNX: scikit-learn models exported by skl2onnx (linear and logistic regression, a
scaler and logistic regression in a pipeline, gradient boosting, MLPs with ReLU, tanh and
logistic hidden layers; `onnx-*`), and the XGBoost and LightGBM binary models converted by
onnxmltools (`onnx-xgb-binary`, `onnx-lgb-binary`), with the producing library's own
predictions.

The newer `TreeEnsemble` operator (ai.onnx.ml opset 5): no exporter we know of writes it yet,
so the scikit-learn gradient-boosting exports above are rewritten into it here
(`onnx-te5-gbm-*`; a base value becomes a one-leaf tree) and checked with ONNX Runtime to
predict what the original operator predicts; their predictions are scikit-learn's. One more
(`onnx-te5-mixed-multiclass`) adds a tree whose leaves add to different classes, which the
operator allows and the converted ones do not use; its predictions are ONNX Runtime's.

Run from the repository root, in a virtual environment with the pinned versions:

    python3 -m venv /tmp/fx && /tmp/fx/bin/pip install xgboost==3.2.0 lightgbm==4.7.0 \
        numpy==2.4.6 scikit-learn==1.9.1 skl2onnx==1.20.0 onnx==1.23.2 onnxmltools==1.16.0 \
        onnxruntime==1.32.0
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
            "onnxruntime": __import__("onnxruntime").__version__,
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
        ("binary", "mlp-tanh", MLPClassifier(hidden_layer_sizes=(4,), activation="tanh", max_iter=50, random_state=1)),
        ("multiclass", "mlp-tanh", MLPClassifier(hidden_layer_sizes=(16, 8), activation="tanh", max_iter=300, random_state=1)),
        ("regression", "mlp-logistic", MLPRegressor(hidden_layer_sizes=(16,), activation="logistic", max_iter=300, random_state=1)),
        ("binary", "mlp-logistic", MLPClassifier(hidden_layer_sizes=(16,), activation="logistic", max_iter=300, random_state=1)),
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
        if name == "gbm":
            te5 = tree_ensemble_5(onx)
            check_same(onx, te5, x, task)
            onnx.save(te5, f"{OUT}/onnx-te5-gbm-{task}.onnx")
            write_predictions(f"{OUT}/onnx-te5-gbm-{task}.pred.csv", p)
            if task == "multiclass":
                mixed = with_mixed_tree(te5)
                onnx.save(mixed, f"{OUT}/onnx-te5-mixed-multiclass.onnx")
                write_predictions(f"{OUT}/onnx-te5-mixed-multiclass.pred.csv", run_onnx(mixed, x))
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


def run_onnx(model, x):
    """ONNX Runtime's output: a classifier's probabilities (class 1's alone for two), or the
    one output. A TreeEnsemble's post_transform is applied here, as the ONNX specification
    defines it: ONNX Runtime 1.32 numbers the transforms differently (1 LOGISTIC, 2 SOFTMAX)
    and skips LOGISTIC on a single target (onnxruntime issue 26596), so it runs with NONE."""
    import onnx
    import onnxruntime as ort

    post = 0
    if model.graph.node[0].op_type == "TreeEnsemble":
        m = onnx.ModelProto()
        m.CopyFrom(model)
        for a in m.graph.node[0].attribute:
            if a.name == "post_transform":
                post, a.i = a.i, 0
        model = m
    s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    out = s.run(None, {s.get_inputs()[0].name: x})
    p = np.asarray(out[-1], dtype=np.float64)
    if post == 1:
        e = np.exp(p - p.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
    elif post == 2:
        p = 1 / (1 + np.exp(-p))
    return p[:, -1] if p.shape[1] <= 2 else p


def check_same(old, new, x, task):
    a, b = run_onnx(old, x), run_onnx(new, x)
    assert a.shape == b.shape, (task, a.shape, b.shape)
    assert np.abs(a - b).max() < 1e-5, (task, np.abs(a - b).max())


def tree_ensemble_5(model):
    """The model's TreeEnsembleRegressor or TreeEnsembleClassifier as one TreeEnsemble node."""
    import onnx
    from onnx import TensorProto, helper

    old = next(n for n in model.graph.node if n.op_type.startswith("TreeEnsemble"))
    a = {x.name: helper.get_attribute_value(x) for x in old.attribute}
    prefix = "class" if "class_ids" in a else "target"
    post = a.get("post_transform", b"NONE").decode()
    modes = [m.decode() for m in a["nodes_modes"]]
    key = list(zip(a["nodes_treeids"], a["nodes_nodeids"]))
    interior = {k: i for i, k in enumerate(k for k, m in zip(key, modes) if m != "LEAF")}
    leaves = {}  # (tree, node) -> (target, weight)
    for t, nid, c, w in zip(a[f"{prefix}_treeids"], a[f"{prefix}_nodeids"], a[f"{prefix}_ids"], a[f"{prefix}_weights"]):
        target, weight = leaves.get((t, nid), (c, 0.0))
        assert target == c
        leaves[(t, nid)] = (c, weight + w)
    leaf_index, leaf_targets, leaf_weights = {}, [], []
    for k, m in zip(key, modes):
        if m == "LEAF":
            target, weight = leaves.get(k, (0, 0.0))
            leaf_index[k] = len(leaf_targets)
            leaf_targets.append(target)
            leaf_weights.append(weight)
    n_targets = max(leaf_targets) + 1 if prefix == "class" and post == "SOFTMAX" else 1
    if prefix == "class" and post == "SOFTMAX":
        n_targets = len(a.get("classlabels_int64s", []))
    codes = {"BRANCH_LEQ": 0, "BRANCH_LT": 1, "BRANCH_GTE": 2, "BRANCH_GT": 3}
    nodes = {f: [] for f in ["modes", "features", "splits", "yes", "yes_leaf", "no", "no_leaf"]}
    by_key = {k: i for i, k in enumerate(key)}

    def child(tree, nid):
        k = (tree, nid)
        return (1, leaf_index[k]) if k in leaf_index else (0, interior[k])

    roots = []
    for k, i in sorted(interior.items(), key=lambda kv: kv[1]):
        j = by_key[k]
        if k[1] == 0:
            roots.append(i)
        nodes["modes"].append(codes[modes[j]])
        nodes["features"].append(a["nodes_featureids"][j])
        nodes["splits"].append(a["nodes_values"][j])
        yl, y = child(k[0], a["nodes_truenodeids"][j])
        nl, n = child(k[0], a["nodes_falsenodeids"][j])
        nodes["yes"].append(y), nodes["yes_leaf"].append(yl)
        nodes["no"].append(n), nodes["no_leaf"].append(nl)
    # The operator has no base values: each is added to the leaves of the first tree that
    # adds to its target (every row reaches one leaf of it). A one-leaf tree would do too,
    # but ONNX Runtime and the specification disagree on which leaf such a tree holds.
    leaf_tree = [k[0] for k, m in zip(key, modes) if m == "LEAF"]
    for t, base in enumerate(a.get("base_values", [])):
        target = t if n_targets > 1 else 0
        first = min(tree for tree, c in zip(leaf_tree, leaf_targets) if c == target)
        for i, tree in enumerate(leaf_tree):
            if tree == first:
                leaf_weights[i] += base
    node = helper.make_node(
        "TreeEnsemble", ["X"], ["Y"], domain="ai.onnx.ml",
        n_targets=n_targets, aggregate_function=1,
        # The specification's numbers (ONNX Runtime 1.32 reads 1 as LOGISTIC, 2 as SOFTMAX).
        post_transform={"NONE": 0, "SOFTMAX": 1, "LOGISTIC": 2}[post],
        tree_roots=roots,
        nodes_modes=helper.make_tensor("nodes_modes", TensorProto.UINT8, (len(nodes["modes"]),), nodes["modes"]),
        nodes_featureids=nodes["features"],
        nodes_splits=helper.make_tensor("nodes_splits", TensorProto.FLOAT, (len(nodes["splits"]),), nodes["splits"]),
        nodes_truenodeids=nodes["yes"], nodes_trueleafs=nodes["yes_leaf"],
        nodes_falsenodeids=nodes["no"], nodes_falseleafs=nodes["no_leaf"],
        leaf_targetids=leaf_targets,
        leaf_weights=helper.make_tensor("leaf_weights", TensorProto.FLOAT, (len(leaf_weights),), leaf_weights),
    )
    features = model.graph.input[0].type.tensor_type.shape.dim[1].dim_value
    graph = helper.make_graph(
        [node], "tree_ensemble_5",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, features])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, n_targets])],
    )
    m = helper.make_model(graph, producer_name="tradeoff scripts/import-fixtures.py",
                          opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid("ai.onnx.ml", 5)])
    m.ir_version = 10
    onnx.checker.check_model(m)
    return m


def with_mixed_tree(model):
    """The TreeEnsemble model plus one tree whose three leaves add to classes 0, 1 and 2."""
    import onnx
    from onnx import helper, numpy_helper

    m = onnx.ModelProto()
    m.CopyFrom(model)
    node = m.graph.node[0]
    a = {x.name: x for x in node.attribute}
    n = len(a["nodes_featureids"].ints)
    leaves = len(a["leaf_targetids"].ints)

    def extend_tensor(name, values):
        old = numpy_helper.to_array(a[name].t)
        a[name].t.CopyFrom(numpy_helper.from_array(np.concatenate([old, np.array(values, dtype=old.dtype)]), name))

    # node n: x0 <= 0.1 ? node n+1 : leaf (class 2); node n+1: x1 < -0.3 ? leaf (class 0) : leaf (class 1)
    extend_tensor("nodes_modes", [0, 1])
    extend_tensor("nodes_splits", [0.1, -0.3])
    extend_tensor("leaf_weights", [0.8, -0.4, 0.6])
    a["nodes_featureids"].ints.extend([0, 1])
    a["nodes_truenodeids"].ints.extend([n + 1, leaves])
    a["nodes_trueleafs"].ints.extend([0, 1])
    a["nodes_falsenodeids"].ints.extend([leaves + 2, leaves + 1])
    a["nodes_falseleafs"].ints.extend([1, 1])
    a["leaf_targetids"].ints.extend([0, 1, 2])
    a["tree_roots"].ints.append(n)
    onnx.checker.check_model(m)
    return m


if __name__ == "__main__":
    main()
