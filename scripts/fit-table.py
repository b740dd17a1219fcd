#!/usr/bin/env python3
"""The table of scripts/fit-vs-sklearn.sh: one fit per family, ours against each peer, as
ratios (peer seconds / our seconds: above 1 means ours is faster).

    python3 scripts/fit-table.py fit.json [fit.json ...]
"""
import json
import sys


def fmt(s):
    return "-" if s is None else (f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s")


def main():
    print("| task | rows x features | family | ours | peer | peer time | peer / ours |")
    print("|---|---|---|---:|---|---:|---:|")
    for path in sys.argv[1:]:
        doc = json.load(open(path))
        for r in doc["rows"]:
            ratio = (f"{r['peer_seconds'] / r['ours_seconds']:.2f}x"
                     if r["ours_seconds"] else "-")
            print(f"| {r['task']} | {r['rows']:,} x {r['features']} | {r['family']} | "
                  f"{fmt(r['ours_seconds'])} | {r['peer']} | {fmt(r['peer_seconds'])} | {ratio} |")
    doc = json.load(open(sys.argv[1]))
    print(f"\nscikit-learn {doc['sklearn']}, LightGBM {doc['lightgbm']}, {doc['cores']} cores; "
          f"peers: median of {doc['runs']} fits; ours: "
          + (f"median of {doc['our_runs']} fits" if doc.get("our_runs", 1) > 1 else "one fit")
          + " (fixed parameters, no tuning).")


if __name__ == "__main__":
    main()
