#!/usr/bin/env python3
"""Independent check of `fedshare attention` with numpy: recomputes a party's matrix from a CSV
and compares it with fedshare's output (max relative difference per entry).

Reads the manifest's [attention] table (tomllib), the anchors and optional encoder files, and
the data CSV; features are `features` or every column but group/user/ignored. No per-user
bound is applied, so use a manifest without max_records_per_user (or pass
--no-user-exceeds-bound when no user has more records than the bound).

  python3 Papers/scripts/attention_crosscheck.py --manifest M.toml --data D.csv --attention A.csv
"""
import argparse
import csv
import os
import sys
import tomllib

import numpy as np


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--attention", required=True, help="fedshare's labelled CSV")
    parser.add_argument("--tolerance", type=float, default=1e-9)
    parser.add_argument("--no-user-exceeds-bound", action="store_true",
                        help="accept a manifest with max_records_per_user when no user exceeds it")
    args = parser.parse_args()
    with open(args.manifest, "rb") as f:
        att = tomllib.load(f)["attention"]
    if "max_records_per_user" in att and not args.no_user_exceeds_bound:
        sys.exit("the manifest bounds records per user (random); use one without max_records_per_user")
    folder = os.path.dirname(os.path.abspath(args.manifest))
    with open(os.path.join(folder, att["anchors"])) as f:
        rows = list(csv.reader(f))
    names = [r[0] for r in rows[1:]]
    k = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    h = k.shape[1]
    w = np.loadtxt(os.path.join(folder, att["encoder"]), delimiter=",", ndmin=2) if "encoder" in att else np.eye(h)
    scale = att.get("scale", 1 / np.sqrt(h))
    bias = np.broadcast_to(np.asarray(att.get("bias", 0.0), dtype=float), (len(names),))
    groups = att["groups"]
    gcol = att.get("group_column", "group")
    excluded = {gcol, att.get("user_column")} | set(att.get("ignore_columns", []))
    with open(args.data) as f:
        header = next(csv.reader(f))
    features = att.get("features") or [c for c in header if c not in excluded]
    index = {g: i for i, g in enumerate(groups)}
    a = np.zeros((len(groups), len(names)))
    for chunk in pd_chunks(args.data, header, features, gcol):
        x, labels = chunk
        s = (x @ w) @ k.T * scale + bias
        s -= s.max(axis=1, keepdims=True)
        e = np.exp(s)
        e /= e.sum(axis=1, keepdims=True)
        np.add.at(a, np.array([index[g] for g in labels]), e)
    with open(args.attention) as f:
        rows = list(csv.reader(f))
    assert rows[0][1:] == names, "anchor names differ"
    assert [r[0] for r in rows[1:]] == groups, "group labels differ"
    b = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    rel = np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-300))
    print(f"{args.attention}: max relative difference from numpy {rel:.3e} (total {b.sum():.6f} vs {a.sum():.6f})")
    sys.exit(0 if rel <= args.tolerance else 1)


def pd_chunks(path, header, features, gcol, size=100_000):
    cols = [header.index(c) for c in features]
    gi = header.index(gcol)
    with open(path) as f:
        reader = csv.reader(f)
        next(reader)
        batch = []
        for row in reader:
            batch.append(row)
            if len(batch) == size:
                yield np.array([[float(r[c]) for c in cols] for r in batch]), [r[gi] for r in batch]
                batch = []
        if batch:
            yield np.array([[float(r[c]) for c in cols] for r in batch]), [r[gi] for r in batch]


if __name__ == "__main__":
    main()
