#!/usr/bin/env python3
"""Writes the Parquet test fixtures (tests/fixtures/parquet/) with pyarrow and pandas, the
way users' files are written, plus a CSV export of the same frame for comparison.

    python3 scripts/parquet-fixtures.py   # needs pandas and pyarrow

The files are committed; rerun only to change them.
"""
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "parquet")


def churn(n, seed, plans):
    r = np.random.default_rng(seed)
    plan = r.choice(plans, n)
    monthly = np.round(r.uniform(10, 60, n), 2)
    # Hours from 1 to 22, so pandas' CSV keeps the time part of every timestamp.
    seen = pd.Timestamp("2024-01-01") + pd.to_timedelta(
        r.integers(0, 300, n), unit="D") + pd.to_timedelta(r.integers(1, 23, n), unit="h")
    return pd.DataFrame({
        "customer_id": np.arange(1000, 1000 + n, dtype=np.int64),
        "age": r.integers(18, 80, n).astype(np.int32),
        "plan": pd.Categorical(plan),
        "monthly": monthly,
        "region": r.choice(["north", "south", "east"], n),
        "signup": (pd.Timestamp("2020-01-01") + pd.to_timedelta(r.integers(0, 1500, n), unit="D")).date,
        "last_seen": seen,
        "paperless": r.random(n) < 0.5,
        "churned": np.where((monthly > 35) ^ (plan == "pro"), "yes", "no"),
    })


def main():
    os.makedirs(OUT, exist_ok=True)
    train = churn(300, 1, ["basic", "pro", "team"])
    pq.write_table(pa.Table.from_pandas(train, preserve_index=False),
                   f"{OUT}/churn.parquet", row_group_size=100)
    # tradeoff reads a Parquet boolean as 0 and 1; pandas writes True and False in a CSV.
    train.assign(paperless=train.paperless.astype(int)).to_csv(f"{OUT}/churn.csv", index=False)
    test = churn(100, 2, ["basic", "pro", "team", "enterprise"])
    pq.write_table(pa.Table.from_pandas(test, preserve_index=False),
                   f"{OUT}/churn-test.parquet", compression="zstd")

    # A string column of numbers with one word in it, in the second row group.
    r = np.random.default_rng(3)
    income = [str(round(v, 1)) for v in r.uniform(1e3, 9e3, 250)]
    income[180] = "twelve"
    bad = pd.DataFrame({"income": income, "y": r.random(250)})
    pq.write_table(pa.Table.from_pandas(bad, preserve_index=False),
                   f"{OUT}/word-in-numbers.parquet", row_group_size=100, compression="gzip")

    # A list column, which no model takes.
    nested = pa.table({
        "x": pa.array(r.random(50)),
        "tags": pa.array([["a", "b"][: i % 3] for i in range(50)], pa.list_(pa.string())),
        "y": pa.array(r.random(50)),
    })
    pq.write_table(nested, f"{OUT}/list-column.parquet", compression="lz4")

    # Nulls in a float, an integer and a string column.
    x = r.random(120)
    nulls = pd.DataFrame({
        "x": np.where(np.arange(120) % 10 == 3, np.nan, x),
        "n": pd.array([None if i % 15 == 4 else i % 7 for i in range(120)], dtype="Int64"),
        "c": [None if i % 20 == 5 else ["u", "v"][i % 2] for i in range(120)],
        "y": x * 2 + 1,
    })
    pq.write_table(pa.Table.from_pandas(nulls, preserve_index=False),
                   f"{OUT}/nulls.parquet", compression="brotli")
    print("wrote", sorted(os.listdir(OUT)))


if __name__ == "__main__":
    main()
