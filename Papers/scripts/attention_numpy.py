#!/usr/bin/env python3
"""The numpy (OpenBLAS) peer of `fedshare bench attention`: the same computation on data of the
same shape, timed the same way (generation excluded, best of --repeats runs).

Per chunk of records X (n x d): S = X @ P + b with P = (W @ K.T) * scale precomputed once (the
same algebraic folding fedshare uses), a numerically stable softmax (row max subtracted, exp,
row sums divided out), and the per-group sums. numpy has no segmented sum that is both fast and
exact, so the group sums use the fastest of the idiomatic ways measured on this machine
(--group-sum: 'sort' = stable argsort + np.add.reduceat, 'onehot' = one-hot matrix product,
'addat' = np.add.at).

Usage:
  python3 Papers/scripts/attention_numpy.py --records 1000000 --features 64 --dim 64 \
      --anchors 256 --groups 32 --json
"""
import argparse
import json
import resource
import time

import numpy as np


def attention(x, labels, p, b, groups, chunk, group_sum):
    m = p.shape[1]
    a = np.zeros((groups, m))
    counts = np.bincount(labels, minlength=groups)
    for start in range(0, x.shape[0], chunk):
        s = x[start:start + chunk] @ p
        s += b
        s -= s.max(axis=1, keepdims=True)
        np.exp(s, out=s)
        s /= s.sum(axis=1, keepdims=True)
        g = labels[start:start + chunk]
        if group_sum == "sort":
            order = np.argsort(g, kind="stable")
            sorted_g = g[order]
            present, first = np.unique(sorted_g, return_index=True)
            a[present] += np.add.reduceat(s[order], first, axis=0)
        elif group_sum == "onehot":
            onehot = np.zeros((groups, g.shape[0]))
            onehot[g, np.arange(g.shape[0])] = 1.0
            a += onehot @ s
        else:
            np.add.at(a, g, s)
    return a, counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--anchors", type=int, default=256)
    parser.add_argument("--groups", type=int, default=32)
    parser.add_argument("--chunk-size", type=int, default=8192)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--group-sum", choices=["sort", "onehot", "addat"], default="sort")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    k = rng.uniform(-1, 1, (args.anchors, args.dim))
    w = rng.uniform(-1, 1, (args.features, args.dim))
    b = np.zeros(args.anchors)
    x = rng.uniform(-1, 1, (args.records, args.features))
    labels = rng.integers(0, args.groups, args.records)
    scale = 1 / np.sqrt(args.dim)

    times = []
    total = 0.0
    for _ in range(args.repeats):
        start = time.perf_counter()
        p = (w @ k.T) * scale
        a, counts = attention(x, labels, p, b, args.groups, args.chunk_size, args.group_sum)
        times.append(time.perf_counter() - start)
        total = float(a.sum())
    best = min(times)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    report = {
        "benchmark": "attention-numpy", "records": args.records, "features": args.features, "dim": args.dim,
        "anchors": args.anchors, "groups": args.groups, "chunkSize": args.chunk_size, "groupSum": args.group_sum,
        "seconds": best, "secondsAll": times, "recordsPerSecond": args.records / best, "peakRSSBytes": peak,
        "total": total, "numpy": np.__version__,
    }
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        print(f"numpy attention: {args.records} records, d={args.features} h={args.dim} M={args.anchors} "
              f"G={args.groups}: {best:.3f} s (best of {args.repeats}), {args.records / best:.0f} records/s, "
              f"peak RSS {peak / 2**20:.0f} MiB, total {total:.6f}")


if __name__ == "__main__":
    main()
