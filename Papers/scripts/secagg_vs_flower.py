#!/usr/bin/env python3
"""Side-by-side: `fedshare bench secagg` against Flower's SecAgg+ (flower_secaggplus_bench.py).

Runs each configuration for both implementations, alternating, and prints a Markdown table
(best wall time of --repetitions rounds each). Both sides use the same parties, vector length,
neighbourhood (Flower's num_shares = fedshare's Harary degree + 1, self included), threshold,
and dropouts (the first D parties vanish before sending their masked input, the one dropout
point Flower survives).

Usage: python3 Papers/scripts/secagg_vs_flower.py [--fedshare .build/release/fedshare] [--repetitions 3] [--quick]
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

CONFIGS = [
    # parties, length, degree (None: complete graph), threshold, dropouts
    (20, 100_000, 6, 4, 0),
    (20, 100_000, 6, 4, 2),
    (20, 100_000, None, 11, 2),
    (100, 100_000, 14, 8, 0),
    (100, 100_000, 14, 8, 10),
]


def run(command):
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--fedshare", default=".build/release/fedshare")
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--flower-repetitions", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="only the n = 20 rows")
    args = parser.parse_args()
    flower_reps = args.flower_repetitions or args.repetitions
    rows = []
    for parties, length, degree, threshold, dropouts in CONFIGS:
        if args.quick and parties > 20:
            continue
        graph = ["--graph", "sparse", "--degree", str(degree)] if degree else ["--graph", "full"]
        ours = run([args.fedshare, "bench", "secagg", "--parties", str(parties), "--length", str(length),
                    "--threshold", str(threshold), "--dropouts", str(dropouts), "--drop-phase", "contribute",
                    "--repetitions", str(args.repetitions), "--json", *graph])
        shares = (degree + 1) if degree else parties
        theirs = run([sys.executable, os.path.join(HERE, "flower_secaggplus_bench.py"), "--parties", str(parties),
                      "--length", str(length), "--num-shares", str(shares), "--threshold", str(threshold),
                      "--dropouts", str(dropouts), "--drop-phase", "contribute",
                      "--repetitions", str(flower_reps), "--json"])
        rows.append((parties, length, shares, threshold, dropouts, ours, theirs))
        print(json.dumps({"fedshare": ours, "flower": theirs}, sort_keys=True), file=sys.stderr)

    print("| n | values | neighbourhood (incl. self) | t | dropouts | fedshare wall (s) | fedshare masking/client (ms) | fedshare unmasking (ms) | bytes/client | Flower wall (s) | Flower client mean (ms) | speed-up |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for parties, length, shares, threshold, dropouts, ours, theirs in rows:
        hood = f"{shares}" + (" (complete)" if shares == parties else "")
        print(f"| {parties} | {length:,} | {hood} | {threshold} | {dropouts} | {ours['wallSeconds']:.3f} | "
              f"{ours['maskingSecondsMean'] * 1e3:.2f} | {ours['unmaskingSeconds'] * 1e3:.1f} | {ours['bytesSentPerClient']:,} | "
              f"{theirs['wall_seconds']:.2f} | {theirs['client_seconds_mean'] * 1e3:.1f} | "
              f"{theirs['wall_seconds'] / ours['wallSeconds']:.1f}x |")


if __name__ == "__main__":
    main()
