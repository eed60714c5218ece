#!/usr/bin/env python3
"""Generates the marketplace federation's data, deterministically (same seed, same bytes).

Four virtual marketplaces ("worlds") with 100,000 purchase-browsing records each. Every record
has 32 raw features, one of 16 shopper segments (the groups) and a shopper id (the user column,
so the manifest can bound records per shopper). The 64 anchors are item categories embedded in
h = 16 dimensions; the public encoder (32 x 16) maps raw features to that space.

How the data is made: each segment has a taste vector t_g in the embedding space (each world
tilts the tastes its own way); a record's latent z = t_g + noise, its raw features
x = z @ A + noise for a fixed mixing A (16 x 32), and the encoder is the pseudo-inverse of A, so
x @ W recovers z up to noise. Shoppers have a geometric number of records (mean 5, heavy tail),
so some exceed max_records_per_user.

With --catalog N it also writes catalog/world-N.jsonl: N public catalog entries per world
(fedshare catalog import), for benchmarks: the 64 categories as `category` entries (ids
category-NN, the anchor names), shops (venues), promotions (events with a start and an end in
2025) and products (items), named from a fixed vocabulary, tagged with categories and segments,
placed on a 10,000 x 10,000 map (a third with z). Deterministic like the rest.

Usage:
  python3 Examples/marketplace/generate.py            # anchors.csv, encoder.csv, world-1..4.csv
  python3 Examples/marketplace/generate.py --npy      # also world-N.npy + world-N.groups.csv
  python3 Examples/marketplace/generate.py --records 1000 --out /tmp/small
  python3 Examples/marketplace/generate.py --catalog 100000 --records 0   # catalogs only
"""
import json
import argparse
import os

import numpy as np

SEGMENTS = [f"{age}-{region}" for age in ("teen", "young", "adult", "senior")
            for region in ("americas", "europe", "asia", "oceania")]
H, D, M = 16, 32, 64


def main():
    parser = argparse.ArgumentParser(description="Generate the marketplace example's data.")
    parser.add_argument("--records", type=int, default=100_000, help="records per world")
    parser.add_argument("--worlds", type=int, default=4)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--npy", action="store_true", help="also write .npy features with .groups.csv side files")
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--catalog", type=int, default=0, metavar="N",
                        help="also write catalog/world-N.jsonl with N catalog entries per world (0: none)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(args.seed)

    anchors = rng.normal(size=(M, H))
    anchors /= np.linalg.norm(anchors, axis=1, keepdims=True)
    names = [f"category-{i:02d}" for i in range(M)]
    mixing = rng.normal(size=(H, D)) / np.sqrt(H)
    encoder = np.linalg.pinv(mixing)  # D x H
    tastes = 2.0 * rng.normal(size=(len(SEGMENTS), H)) / np.sqrt(H) * 3

    with open(os.path.join(args.out, "anchors.csv"), "w") as f:
        f.write("name," + ",".join(f"e{j + 1}" for j in range(H)) + "\n")
        for name, row in zip(names, anchors):
            f.write(name + "," + ",".join(f"{v:.6f}" for v in row) + "\n")
    with open(os.path.join(args.out, "encoder.csv"), "w") as f:
        for row in encoder:
            f.write(",".join(f"{v:.6f}" for v in row) + "\n")

    if args.catalog > 0:
        write_catalogs(args, names)
    if args.records <= 0:
        return

    for world in range(1, args.worlds + 1):
        tilt = 0.5 * rng.normal(size=(len(SEGMENTS), H)) / np.sqrt(H)
        segment_weights = rng.dirichlet(np.full(len(SEGMENTS), 2.0))
        # Shoppers: geometric record counts (mean 5) until the world has enough records.
        sizes = []
        while sum(sizes) < args.records:
            sizes.append(int(rng.geometric(0.2)))
        sizes[-1] -= sum(sizes) - args.records
        shopper_segment = rng.choice(len(SEGMENTS), size=len(sizes), p=segment_weights)
        users = np.repeat(np.arange(len(sizes)), sizes)
        segments = shopper_segment[users]
        order = rng.permutation(args.records)  # records arrive interleaved, not per shopper
        users, segments = users[order], segments[order]
        latent = tastes[segments] + tilt[segments] + 0.8 * rng.normal(size=(args.records, H))
        features = latent @ mixing + 0.05 * rng.normal(size=(args.records, D))

        path = os.path.join(args.out, f"world-{world}.csv")
        with open(path, "w") as f:
            f.write("shopper,segment," + ",".join(f"x{j + 1}" for j in range(D)) + "\n")
            body = np.char.add(np.char.add(np.char.add(
                np.array([f"w{world}-s{u:06d}" for u in users]), ","), np.array(SEGMENTS)[segments]), ",")
            numbers = [",".join(f"{v:.5f}" for v in row) for row in features]
            f.write("\n".join(b + n for b, n in zip(body, numbers)) + "\n")
        if args.npy:
            np.save(os.path.join(args.out, f"world-{world}.npy"), features.astype(np.float32))
            with open(os.path.join(args.out, f"world-{world}.groups.csv"), "w") as f:
                f.write("shopper,segment\n")
                f.write("\n".join(f"w{world}-s{u:06d},{SEGMENTS[s]}" for u, s in zip(users, segments)) + "\n")
        print(f"{path}: {args.records} records, {len(sizes)} shoppers, up to {max(sizes)} records per shopper")


SYLLABLES = ["ka", "lo", "mi", "ne", "su", "ra", "to", "vi", "ze", "po", "chi", "bel", "dor", "fen", "gar", "hul"]


def write_catalogs(args, categories):
    """N entries per world: the categories, then shops, promotions and products."""
    rng = np.random.default_rng(args.seed + 1)
    vocabulary = sorted({a + b + c for a in SYLLABLES for b in SYLLABLES for c in SYLLABLES})
    folder = os.path.join(args.out, "catalog")
    os.makedirs(folder, exist_ok=True)
    year_start = 1735689600  # 2025-01-01T00:00:00Z
    for world in range(1, args.worlds + 1):
        n = args.catalog
        kinds = rng.choice(["venue", "event", "item"], size=n, p=[0.2, 0.3, 0.5])
        first = rng.integers(0, len(vocabulary), size=n)
        second = rng.integers(0, len(vocabulary), size=n)
        category = rng.integers(0, len(categories), size=n)
        segment = rng.integers(0, len(SEGMENTS), size=n)
        xy = rng.uniform(0, 10_000, size=(n, 2))
        has_z = rng.random(n) < 1 / 3
        z = rng.uniform(0, 100, size=n)
        starts = year_start + rng.integers(0, 365 * 86400, size=n)
        lengths = rng.integers(1, 14 * 86400, size=n)
        price = rng.integers(1, 500, size=n)
        path = os.path.join(folder, f"world-{world}.jsonl")
        with open(path, "w") as f:
            for i, name in enumerate(categories[:n]):
                f.write(json.dumps({"id": name, "kind": "category", "name": name.replace("-", " "),
                                    "tags": ["category"], "attributes": {}}, separators=(",", ":")) + "\n")
            for i in range(min(n, len(categories)), n):
                kind = str(kinds[i])
                entry = {
                    "id": f"w{world}-{kind}-{i:07d}", "kind": kind,
                    "name": f"{vocabulary[first[i]]} {vocabulary[second[i]]}".title(),
                    "tags": [categories[category[i]], SEGMENTS[segment[i]]],
                    "attributes": {"category": categories[category[i]], "price": str(int(price[i]))},
                }
                if kind == "event":
                    entry["start"] = f"{np.datetime64(int(starts[i]), 's')}Z"
                    entry["end"] = f"{np.datetime64(int(starts[i] + lengths[i]), 's')}Z"
                if kind != "item":
                    location = {"x": round(float(xy[i, 0]), 2), "y": round(float(xy[i, 1]), 2)}
                    if has_z[i]:
                        location["z"] = round(float(z[i]), 2)
                    entry["location"] = location
                f.write(json.dumps(entry, separators=(",", ":")) + "\n")
        print(f"{path}: {n} catalog entries")


if __name__ == "__main__":
    main()
