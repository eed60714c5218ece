#!/usr/bin/env python3
"""python-paillier (pip `phe`, with gmpy2) measured the way `fedshare bench paillier` measures:
one core, fixed wall-clock windows, fresh randomness per encryption. Prints one JSON object.

Usage: python3 Papers/scripts/bench_python_paillier.py [--bits 2048] [--seconds 2]
"""
import argparse
import json
import random
import time

import phe
from phe import paillier


def rate(seconds, operation):
    operation()
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        operation()
        count += 1
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bits", type=int, default=2048)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    start = time.perf_counter()
    pub, priv = paillier.generate_paillier_keypair(n_length=args.bits)
    keygen = time.perf_counter() - start
    m = random.SystemRandom().randrange(pub.max_int)
    c = pub.encrypt(m)
    c.ciphertext()  # obfuscated once
    result = {
        "implementation": "python-paillier " + phe.__version__ + (" + gmpy2" if phe.util.HAVE_GMP else " (no gmpy2)"),
        "bits": args.bits,
        "keygenSeconds": keygen,
        # encrypt() of an integer: encoding plus r^n mod n^2 obfuscation, as pheutil does.
        "encryptPerSecond": rate(args.seconds, lambda: pub.encrypt(m).ciphertext()),
        "decryptPerSecond": rate(args.seconds, lambda: priv.decrypt(c)),
        "addPerSecond": rate(args.seconds, lambda: c._raw_add(c.ciphertext(False), c.ciphertext(False))),
    }
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
