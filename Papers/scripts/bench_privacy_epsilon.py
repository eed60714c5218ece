#!/usr/bin/env python3
"""Times `fedshare privacy epsilon` (a whole process: start, compute, print) against Google's
dp-accounting 0.6.0 answering the same query (same accountants: RDP with default orders, the
exact Gaussian curve, KOV advanced composition for Laplace; `best` = the smallest).

Usage: python3 Papers/scripts/bench_privacy_epsilon.py [path/to/fedshare] > results.json
Reports, per query, the minimum and median wall time over REPEATS runs:
fedshare as a process; dp-accounting in-process (after import) and as a process (python3 -c).
"""
import json
import math
import statistics
import subprocess
import sys
import time

REPEATS = 15
FEDSHARE = sys.argv[1] if len(sys.argv) > 1 else ".build/release/fedshare"

QUERIES = [
    ("gaussian", 1.0, 1), ("gaussian", 1.0, 100), ("gaussian", 1.0, 10000),
    ("laplace", 10.0, 1), ("laplace", 10.0, 100), ("laplace", 10.0, 10000),
]
DELTA = 1e-5

PY = """
import math, sys
from dp_accounting import dp_event, gaussian_mechanism
from dp_accounting.rdp import rdp_privacy_accountant as rdp
from dp_accounting.pld import accountant as pld_accountant, common
def answer(mechanism, noise, count, delta):
    acc = rdp.RdpAccountant()
    event = dp_event.GaussianDpEvent(noise) if mechanism == 'gaussian' else dp_event.LaplaceDpEvent(noise)
    acc.compose(dp_event.SelfComposedDpEvent(event, count))
    best = acc.get_epsilon(delta)
    if mechanism == 'gaussian':
        best = min(best, gaussian_mechanism.get_epsilon_gaussian(noise / math.sqrt(count), delta))
    else:
        best = min(best, count / noise)
        if count <= 1000:
            try:
                adv = pld_accountant.advanced_composition(common.DifferentialPrivacyParameters(1 / noise, 0), count, delta)
                if adv is not None:
                    best = min(best, adv)
            except OverflowError:
                pass
    return best
"""


def wall(command):
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return (time.perf_counter() - start) * 1000


def main():
    namespace = {}
    exec(PY, namespace)
    results = []
    for mechanism, noise, count in QUERIES:
        fedshare = [wall([FEDSHARE, "privacy", "epsilon", "--mechanism", mechanism, "--noise", str(noise),
                          "--sensitivity", "1", "--count", str(count), "--delta", str(DELTA), "--json"])
                    for _ in range(REPEATS)]
        inprocess = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            namespace["answer"](mechanism, noise, count, DELTA)
            inprocess.append((time.perf_counter() - start) * 1000)
        script = PY + f"\nprint(answer({mechanism!r}, {noise}, {count}, {DELTA}))"
        process = [wall([sys.executable, "-c", script]) for _ in range(5)]
        results.append({
            "mechanism": mechanism, "noise": noise, "count": count, "delta": DELTA,
            "fedshare_process_ms": {"min": min(fedshare), "median": statistics.median(fedshare)},
            "dp_accounting_inprocess_ms": {"min": min(inprocess), "median": statistics.median(inprocess)},
            "dp_accounting_process_ms": {"min": min(process), "median": statistics.median(process)},
        })
    json.dump({"repeats": REPEATS, "fedshare": FEDSHARE, "results": results}, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
