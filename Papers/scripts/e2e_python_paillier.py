#!/usr/bin/env python3
"""The federation of `fedshare bench e2e`, done the way FATE-style pipelines do it with
python-paillier: every party encrypts every value of its matrix separately (no packing), the
aggregator adds the ciphertexts cell by cell, and the key holder decrypts every cell.

Same shape and same synthetic data generator as `fedshare bench e2e` (SplitMix64, seed
20261129, values uniform in [-1, 1) with 4 decimals, group of record r of party p =
(7r + p) mod G); local attention with numpy (softmax of x·Kᵀ/√h, summed per group, plus
counts); Gaussian noise share σ²/P per value added in the clear before encryption (numpy,
not a CSPRNG: this is a timing peer, not a product). python-paillier has no threshold
decryption, so one ordinary key pair decrypts: that flatters the peer (fedshare's decrypt
phase does threshold partial decryptions with proofs).

All cores are used for encryption and decryption (a process pool), as fedshare does.
Prints one JSON object: seconds per phase and serialized bytes each party sends.

Usage: python3 Papers/scripts/e2e_python_paillier.py [--parties 3] [--records 100000]
           [--groups 32] [--anchors 256] [--dimension 16] [--bits 2048]
"""
import argparse
import json
import math
import os
import time
from multiprocessing import Pool

import numpy as np
import phe
from phe import paillier

MASK = (1 << 64) - 1
PRECISION = 2.0 ** -32  # fedshare's default fixed-point step


class SplitMix:
    def __init__(self, seed):
        self.state = seed

    def uniforms(self, count):
        out = np.empty(count)
        s = self.state
        for i in range(count):
            s = (s + 0x9E3779B97F4A7C15) & MASK
            z = s
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
            z ^= z >> 31
            out[i] = (z >> 11) / float(1 << 53)
        self.state = s
        return out


def values(rng, count):
    return np.round(rng.uniforms(count) * 2 - 1, 4)


_KEY = None


def _init(key):
    global _KEY
    _KEY = key


def _encrypt(chunk):
    # FATE-style: one ciphertext per value, fixed precision so that sums need no rescaling.
    return [_KEY.encrypt(float(x), precision=PRECISION) for x in chunk]


def _decrypt(chunk):
    return [_KEY.decrypt(c) for c in chunk]


def chunks(seq, parts):
    size = max(1, math.ceil(len(seq) / parts))
    return [seq[i:i + size] for i in range(0, len(seq), size)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--parties", type=int, default=3)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--groups", type=int, default=32)
    parser.add_argument("--anchors", type=int, default=256)
    parser.add_argument("--dimension", type=int, default=16)
    parser.add_argument("--bits", type=int, default=2048)
    parser.add_argument("--sigma", type=float, default=4.0, help="noise standard deviation of the sum")
    args = parser.parse_args()
    workers = os.cpu_count() or 1
    phases = {}

    t = time.perf_counter()
    rng = SplitMix(20_261_129)
    anchors = values(rng, args.anchors * args.dimension).reshape(args.anchors, args.dimension)
    data = []
    for party in range(1, args.parties + 1):
        x = values(rng, args.records * args.dimension).reshape(args.records, args.dimension)
        groups = (np.arange(args.records) * 7 + party) % args.groups
        data.append((x, groups))
    phases["synthetic data"] = time.perf_counter() - t

    t = time.perf_counter()
    public, private = paillier.generate_paillier_keypair(n_length=args.bits)
    phases["key generation"] = time.perf_counter() - t

    t = time.perf_counter()
    contributions = []
    noise = np.random.default_rng()
    for x, groups in data:
        scores = x @ anchors.T / math.sqrt(args.dimension)
        scores -= scores.max(axis=1, keepdims=True)
        weights = np.exp(scores)
        weights /= weights.sum(axis=1, keepdims=True)
        matrix = np.zeros((args.groups, args.anchors))
        np.add.at(matrix, groups, weights)
        counts = np.bincount(groups, minlength=args.groups).astype(float)
        flat = np.concatenate([matrix.ravel(), counts])
        flat += noise.normal(0, args.sigma / math.sqrt(args.parties), flat.shape)
        contributions.append(flat)
    phases["local attention"] = time.perf_counter() - t

    bytes_sent = []
    with Pool(workers, initializer=_init, initargs=(public,)) as pool:
        t = time.perf_counter()
        encrypted = []
        for flat in contributions:
            parts = pool.map(_encrypt, chunks(flat.tolist(), workers * 4))
            cipher = [c for part in parts for c in part]
            # What a party would send: python-paillier's JSON form of each ciphertext.
            wire = json.dumps([[str(c.ciphertext()), c.exponent] for c in cipher])
            bytes_sent.append(len(wire))
            encrypted.append(cipher)
        phases["contribute (encrypt every value)"] = time.perf_counter() - t

        t = time.perf_counter()
        total = encrypted[0]
        for cipher in encrypted[1:]:
            total = [a + b for a, b in zip(total, cipher)]
        phases["aggregate (add ciphertexts)"] = time.perf_counter() - t

    with Pool(workers, initializer=_init, initargs=(private,)) as pool:
        t = time.perf_counter()
        parts = pool.map(_decrypt, chunks(total, workers * 4))
        result = np.array([v for part in parts for v in part])
        phases["decrypt (every value)"] = time.perf_counter() - t

    clear = np.sum(contributions, axis=0)
    error = float(np.max(np.abs(result - clear)))
    print(json.dumps({
        "implementation": "python-paillier " + phe.__version__ + (" + gmpy2" if phe.util.HAVE_GMP else " (no gmpy2)"),
        "parties": args.parties, "records": args.records, "groups": args.groups, "anchors": args.anchors,
        "dimension": args.dimension, "bits": args.bits, "workers": workers,
        "values": len(total), "ciphertexts per party": len(total),
        "phaseSeconds": phases,
        "cryptoSeconds": sum(v for k, v in phases.items() if k.startswith(("contribute", "aggregate", "decrypt"))),
        "totalSeconds": sum(v for k, v in phases.items() if k != "synthetic data"),
        "bytesSentPerParty": bytes_sent,
        "maxDecryptionError": error,
    }, indent=1))


if __name__ == "__main__":
    main()
