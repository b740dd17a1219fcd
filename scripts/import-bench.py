"""Trains 500-tree XGBoost and LightGBM models on exported rows and times each library's
own predict and ONNX Runtime on them; writes the models and a JSON of figures.

    python import-bench.py --split DIR --out DIR [--trees 500] [--runs 5] [--threads 2]

DIR/train.csv and DIR/test.csv are `tradeoff run --export-split` files (encoded features,
the target last). Timing rules as scripts/peers.py: batch 1 cycles 64 distinct rows, the
median of single calls; rows/s at 4096 rows a call, calls back to back for 0.5 s; the
median of --runs repeats.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

import lightgbm as lgb
import numpy as np
import onnxruntime as ort
import pandas as pd
import xgboost as xgb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peers import batch_1_ns, rows_per_s  # noqa: E402  the same timing rules as the peers'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--trees", type=int, default=500)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    train = pd.read_csv(os.path.join(a.split, "train.csv"))
    test = pd.read_csv(os.path.join(a.split, "test.csv"))
    names = list(train.columns[:-1])
    x = train.iloc[:, :-1].to_numpy(dtype=np.float32)
    y = train.iloc[:, -1].to_numpy()
    xt = test.iloc[:, :-1].to_numpy(dtype=np.float32)
    out = {
        "machine": {"processor": platform.processor(), "cpus": os.cpu_count()},
        "versions": {
            "xgboost": xgb.__version__,
            "lightgbm": lgb.__version__,
            "onnxruntime": ort.__version__,
            "numpy": np.__version__,
        },
        "threads": a.threads,
        "runs": a.runs,
        "models": {},
    }
    t = time.perf_counter()
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 6, "eta": 0.1, "nthread": a.threads, "seed": 1},
        xgb.DMatrix(x, label=y, feature_names=names),
        num_boost_round=a.trees,
    )
    xgb_fit = time.perf_counter() - t
    booster.save_model(os.path.join(a.out, "xgb500.json"))
    t = time.perf_counter()
    lgbm = lgb.train(
        {"objective": "binary", "num_leaves": 63, "learning_rate": 0.1, "num_threads": a.threads,
         "seed": 1, "verbose": -1, "deterministic": True},
        lgb.Dataset(x.astype(np.float64), label=y, feature_name=names),
        num_boost_round=a.trees,
    )
    lgb_fit = time.perf_counter() - t
    lgbm.save_model(os.path.join(a.out, "lgb500.txt"))

    from onnxmltools import convert_lightgbm, convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = a.threads
    opts.inter_op_num_threads = 1
    inputs = [("input", FloatTensorType([None, x.shape[1]]))]
    # onnxmltools converts boosters made through the scikit-learn wrappers' attributes;
    # positional feature names (f0, f1, ...) are what its XGBoost converter reads.
    xgb_plain = xgb.Booster(model_file=os.path.join(a.out, "xgb500.json"))
    xgb_plain.feature_names = None
    onnx_xgb = convert_xgboost(xgb_plain, initial_types=inputs, target_opset=15)
    onnx_lgb = convert_lightgbm(lgbm, initial_types=inputs, target_opset=15, zipmap=False)
    dm = lambda xb: xgb.DMatrix(xb, feature_names=names)
    libraries = {
        "xgb500": (lambda xb: booster.predict(dm(xb)), booster.inplace_predict, onnx_xgb, xgb_fit),
        "lgb500": (lambda xb: lgbm.predict(xb, num_threads=a.threads), None, onnx_lgb, lgb_fit),
    }
    for name, (predict, inplace, onx, fit) in libraries.items():
        sess = ort.InferenceSession(onx.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        input_name = sess.get_inputs()[0].name
        ort_call = lambda xb: sess.run(None, {input_name: xb})
        # The ONNX model must compute the library's function before it is timed.
        lib_p = np.asarray(predict(xt[:512])).reshape(-1)
        ort_p = np.asarray(ort_call(xt[:512])[1])[:, 1] if len(sess.get_outputs()) > 1 else None
        res = {"fit_seconds": fit, "ort_max_abs_diff": float(np.abs(ort_p - lib_p).max()) if ort_p is not None else None}
        calls = [("library", predict), ("ort", ort_call)]
        if inplace is not None:
            calls.insert(1, ("library_inplace", lambda xb: inplace(xb)))
        for label, fn in calls:
            res[f"{label}_batch1_ns"] = statistics.median(batch_1_ns(fn, xt) for _ in range(a.runs))
            res[f"{label}_rows_per_s_4096"] = statistics.median(rows_per_s(fn, xt) for _ in range(a.runs))
        out["models"][name] = res
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
