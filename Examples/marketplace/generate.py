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

Usage:
  python3 Examples/marketplace/generate.py            # anchors.csv, encoder.csv, world-1..4.csv
  python3 Examples/marketplace/generate.py --npy      # also world-N.npy + world-N.groups.csv
  python3 Examples/marketplace/generate.py --records 1000 --out /tmp/small
"""
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


if __name__ == "__main__":
    main()
