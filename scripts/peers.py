#!/usr/bin/env python3
"""The peers' side of the cpu-target table: scikit-learn's predict and ONNX Runtime on the
rows the benchmark uses, with the benchmark's model shapes.

Run by scripts/cpu-vs-peers.sh, which exports the rows (tradeoff run --export-split) and
installs scikit-learn, skl2onnx and onnxruntime into a virtual environment. By hand:

    python3 scripts/peers.py --cls DIR --reg DIR [--runs 5] [--threads 2] > peers.json

Each figure is the median of --runs runs; a run is the median latency of one call (batch 1,
cycling through 64 distinct rows) or rows per second over calls of 4096 rows.
"""
import argparse
import json
import os
import platform
import statistics
import time

import numpy as np
import pandas as pd


def load(d):
    train = pd.read_csv(os.path.join(d, "train.csv"))
    y = train.iloc[:, -1].to_numpy()
    x = train.iloc[:, :-1].to_numpy(dtype=np.float32)
    return x, y


def models(x_cls, y_cls, x_reg, y_reg):
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.neural_network import MLPClassifier
    from sklearn.tree import DecisionTreeClassifier

    # The shapes of benches/main.rs: the same family, size and depth.
    yield "linear", Ridge(alpha=0.01).fit(x_reg, y_reg), x_reg, False
    yield "logistic", LogisticRegression(C=100.0, max_iter=200).fit(x_cls, y_cls), x_cls, True
    yield "tree", DecisionTreeClassifier(max_depth=8, random_state=1).fit(x_cls, y_cls), x_cls, True
    yield "forest", RandomForestClassifier(
        n_estimators=100, max_depth=8, max_features=0.5, n_jobs=1, random_state=1
    ).fit(x_cls, y_cls), x_cls, True
    yield "gbm", HistGradientBoostingClassifier(
        max_iter=100, learning_rate=0.1, max_depth=6, max_leaf_nodes=None,
        l2_regularization=1.0, early_stopping=False, random_state=1,
    ).fit(x_cls, y_cls), x_cls, True
    small = slice(0, 2000)
    yield "mlp-m", MLPClassifier(hidden_layer_sizes=(256, 256), max_iter=30, random_state=1).fit(
        x_cls[small], y_cls[small]
    ), x_cls, True


def batch_1_ns(call, x, calls=2000):
    rows = [x[i : i + 1] for i in range(64)]
    for r in rows:
        call(r)
    times = []
    for i in range(calls):
        t = time.perf_counter_ns()
        call(rows[i % 64])
        times.append(time.perf_counter_ns() - t)
    return statistics.median(times)


def rows_per_s(call, x, batch=4096, seconds=0.5):
    xs = np.ascontiguousarray(np.resize(x, (batch, x.shape[1])).astype(np.float32))
    call(xs)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or n < 5:
        call(xs)
        n += 1
    return n * batch / (time.perf_counter() - start)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cls", required=True)
    ap.add_argument("--reg", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", default="")
    a = ap.parse_args()

    import onnxruntime as ort
    import sklearn
    from skl2onnx import to_onnx

    x_cls, y_cls = load(a.cls)
    x_reg, y_reg = load(a.reg)
    only = set(filter(None, a.only.split(",")))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = a.threads
    opts.inter_op_num_threads = 1
    out = {
        "machine": {"processor": platform.processor(), "cpus": os.cpu_count()},
        "versions": {
            "scikit-learn": sklearn.__version__,
            "onnxruntime": ort.__version__,
            "numpy": np.__version__,
        },
        "ort_threads": a.threads,
        "runs": a.runs,
        "models": {},
    }
    for name, model, x, classifier in models(x_cls, y_cls, x_reg, y_reg):
        if only and name not in only:
            continue
        sk = model.predict_proba if classifier else model.predict
        res = {"sklearn_model": type(model).__name__}

        def convert(m):
            return to_onnx(m, x[:1], target_opset=17,
                           options={id(m): {"zipmap": False}} if classifier else None)

        try:
            onx = convert(model)
            res["ort_model"] = type(model).__name__
        except Exception as e:  # skl2onnx cannot convert every version's HGB
            if name != "gbm":
                raise
            from sklearn.ensemble import GradientBoostingClassifier
            alt = GradientBoostingClassifier(n_estimators=100, learning_rate=0.1, max_depth=6,
                                             random_state=1).fit(x_cls, y_cls)
            onx = convert(alt)
            res["ort_model"] = (
                "GradientBoostingClassifier, 100 x depth 6 (skl2onnx could not convert "
                f"HistGradientBoostingClassifier: {str(e).splitlines()[0][:120]})"
            )
        sess = ort.InferenceSession(onx.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        input_name = sess.get_inputs()[0].name

        def ort_call(xb):
            return sess.run(None, {input_name: xb})

        for label, fn in (("sklearn", sk), ("ort", ort_call)):
            b1 = [batch_1_ns(fn, x) for _ in range(a.runs)]
            rps = [rows_per_s(fn, x) for _ in range(a.runs)]
            res[f"{label}_batch1_ns"] = statistics.median(b1)
            res[f"{label}_rows_per_s_4096"] = statistics.median(rps)
        out["models"][name] = res
        print(f"{name}: {res}", file=__import__("sys").stderr)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
