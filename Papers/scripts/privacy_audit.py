#!/usr/bin/env python3
"""Empirical privacy audit of fedshare's released sums (Papers/privacy.md, section 7).

Neighbouring datasets: the three-worlds data with a canary user added to world 1 (D), and the
same data with that user removed (D'). The canary has max_records_per_user = 3 records whose
attention falls on one anchor, so it moves the released vector by almost exactly the
sensitivity the ledger charges (sqrt(2)*3 in L2, 6 in L1): the worst case the claim covers.

For each dataset, `fedshare privacy sample-releases` prints many releases made through the
product's own noise path (RoundPlan.noiseShare and RoundPlan.encode for every contributing
party, the production CSPRNG, the calibrated plan), summed as the aggregator opens them. Only
the threshold t of parties contribute, so each release carries exactly the noise the claim
assumes (any more is post-processing).

Distinguishing test (Jagielski, Ullman, Oprea 2020; Nasr et al. 2021): the score is the
log-likelihood ratio of D against D' (for the Gaussian, the projection on the difference of the
clear sums; for the Laplace, the sum of |r - b| - |r - a|). The first half of the releases of
each dataset chooses a threshold and a direction; on the second half, Clopper-Pearson upper
bounds on the false-positive and false-negative rates (each at confidence 1 - alpha/2) give

    eps_lb = max( ln((1 - delta - FNR_hi) / FPR_hi), ln((1 - delta - FPR_hi) / FNR_hi) ),

a lower bound on the ε of the mechanism with confidence 1 - alpha. The audit fails (exit 1)
when eps_lb exceeds the ε the product claims for one release (the certified ε it prints).

Only Python's standard library is used (the binomial tail through the regularized incomplete
beta function), so nothing needs installing.

usage: privacy_audit.py --fedshare .build/debug/fedshare [--releases 20000] [--mechanism gaussian]
"""

import argparse
import bisect
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "Examples", "three-worlds")
CANARY = "zz-canary"


# --- Clopper-Pearson through the regularized incomplete beta function ----------------------

def _beta_continued_fraction(a, b, x):
    """Lentz's method for the continued fraction of I_x(a, b) (Numerical Recipes, betacf)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def regularized_beta(a, b, x):
    """I_x(a, b) for a, b > 0 and 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_continued_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_continued_fraction(b, a, 1.0 - x) / b


def binomial_cdf(k, n, p):
    """P(Bin(n, p) <= k)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    return regularized_beta(n - k, k + 1, 1.0 - p)


def clopper_pearson_upper(k, n, alpha):
    """The one-sided (1 - alpha) Clopper-Pearson upper bound on p after k successes in n."""
    if k >= n:
        return 1.0
    lo, hi = k / n, 1.0
    for _ in range(200):  # bisection on the decreasing p -> P(Bin(n, p) <= k)
        mid = (lo + hi) / 2
        if binomial_cdf(k, n, mid) > alpha:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-15:
            break
    return hi


def epsilon_lower_bound(false_positives, negatives, false_negatives, positives, delta, alpha):
    """Both one-sided bounds at alpha/2 each; returns (eps_lb, FPR_hi, FNR_hi)."""
    fpr = clopper_pearson_upper(false_positives, negatives, alpha / 2)
    fnr = clopper_pearson_upper(false_negatives, positives, alpha / 2)
    candidates = []
    for numerator, denominator in ((1 - delta - fnr, fpr), (1 - delta - fpr, fnr)):
        if numerator > 0 and denominator > 0:
            candidates.append(math.log(numerator / denominator))
    return (max(candidates) if candidates else 0.0), fpr, fnr


# --- Releases through the product -------------------------------------------------------------

def write_inputs(folder, mechanism):
    """The manifest (three-worlds, or its Laplace variant), anchors and both world-1 files."""
    with open(os.path.join(EXAMPLE, "manifest.toml")) as handle:
        manifest = handle.read()
    if mechanism == "laplace":
        manifest = re.sub(r'(?m)^mechanism = "gaussian"', 'mechanism = "laplace"', manifest)
        manifest = re.sub(r"(?m)^delta(_budget)? = .*\n", "", manifest)
    with open(os.path.join(folder, "manifest.toml"), "w") as handle:
        handle.write(manifest)
    with open(os.path.join(EXAMPLE, "anchors.csv")) as source, open(os.path.join(folder, "anchors.csv"), "w") as target:
        target.write(source.read())
    with open(os.path.join(EXAMPLE, "world-1.csv")) as handle:
        world = handle.read()
    if not world.endswith("\n"):
        world += "\n"
    without = os.path.join(folder, "world-1-without-canary.csv")
    with_canary = os.path.join(folder, "world-1-with-canary.csv")
    with open(without, "w") as handle:
        handle.write(world)
    with open(with_canary, "w") as handle:
        # Three records (the per-user bound) that all attend to the sports anchor, at the stadium.
        handle.write(world + "".join(f"{CANARY},explorers,100.0,0.0,0.0,0.0,stadium\n" for _ in range(3)))
    return os.path.join(folder, "manifest.toml"), with_canary, without


def sample(fedshare, manifest, world1, releases, contributors):
    """(clear sum, event fields, list of releases) from `fedshare privacy sample-releases`."""
    command = [fedshare, "privacy", "sample-releases", "--manifest", manifest,
               "--data", world1, "--data", os.path.join(EXAMPLE, "world-2.csv"),
               "--data", os.path.join(EXAMPLE, "world-3.csv"),
               "--contributors", contributors, "--count", str(releases)]
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        sys.exit(f"privacy_audit: {' '.join(command)} failed ({completed.returncode}): {completed.stderr.strip()}")
    clear, event, rows = None, None, []
    for line in completed.stdout.splitlines():
        label, _, rest = line.partition(" ")
        if label == "release":
            rows.append([int(v) for v in rest.split()])
        elif label == "clear":
            clear = [int(v) for v in rest.split()]
        elif label == "event":
            event = dict(field.split("=", 1) for field in rest.split())
    if clear is None or event is None or len(rows) != releases:
        sys.exit(f"privacy_audit: unexpected output from {' '.join(command)}")
    return clear, event, rows


def scores(rows, a, b, mechanism):
    """Log-likelihood-ratio scores of D (clear sum a) against D' (clear sum b), up to scale."""
    if mechanism == "gaussian":
        direction = [x - y for x, y in zip(a, b)]
        middle = [(x + y) / 2 for x, y in zip(a, b)]
        return [sum((r - m) * d for r, m, d in zip(row, middle, direction)) for row in rows]
    return [sum(abs(r - y) - abs(r - x) for r, x, y in zip(row, a, b)) for row in rows]


def choose_threshold(positive, negative, delta, alpha, candidates=120):
    """The threshold and direction with the largest bound on the selection half."""
    pos, neg = sorted(positive), sorted(negative)
    pooled = sorted(pos + neg)
    best = (-math.inf, 0.0, 1)
    for index in range(candidates):
        # Quantiles spread towards both tails, where the large likelihood ratios are.
        q = 0.5 + 0.5 * math.tanh(4 * (index / (candidates - 1) - 0.5)) / math.tanh(2)
        threshold = pooled[min(len(pooled) - 1, max(0, int(q * len(pooled))))]
        for direction in (1, -1):
            # direction 1: "D" when score > threshold; -1: "D" when score <= threshold.
            above_pos = len(pos) - bisect.bisect_right(pos, threshold)
            above_neg = len(neg) - bisect.bisect_right(neg, threshold)
            if direction == 1:
                fp, fn = above_neg, len(pos) - above_pos
            else:
                fp, fn = len(neg) - above_neg, above_pos
            bound, _, _ = epsilon_lower_bound(fp, len(neg), fn, len(pos), delta, alpha)
            if bound > best[0]:
                best = (bound, threshold, direction)
    return best[1], best[2]


def audit(fedshare, releases, mechanism, alpha):
    with tempfile.TemporaryDirectory(prefix="fedshare-audit-") as folder:
        manifest, with_canary, without = write_inputs(folder, mechanism)
        start = time.monotonic()
        contributors = "1,2"  # exactly t = 2 shares in each release: the least noise released
        a, event, d_rows = sample(fedshare, manifest, with_canary, releases, contributors)
        b, event_b, d_prime_rows = sample(fedshare, manifest, without, releases, contributors)
        sampling = time.monotonic() - start
    if event != event_b:
        sys.exit(f"privacy_audit: the two datasets were charged differently: {event} vs {event_b}")
    claimed = float(event["epsilon"])
    delta = float(event["delta"])
    difference = [x - y for x, y in zip(a, b)]
    charged = float(event["sensitivity"])
    moved = (math.sqrt(sum(v * v for v in difference)) if mechanism == "gaussian"
             else float(sum(abs(v) for v in difference)))
    positive, negative = scores(d_rows, a, b, mechanism), scores(d_prime_rows, a, b, mechanism)
    half = releases // 2
    threshold, direction = choose_threshold(positive[:half], negative[:half], delta, alpha)
    held_pos, held_neg = positive[half:], negative[half:]
    if direction == 1:
        fp = sum(1 for s in held_neg if s > threshold)
        fn = sum(1 for s in held_pos if s <= threshold)
    else:
        fp = sum(1 for s in held_neg if s <= threshold)
        fn = sum(1 for s in held_pos if s > threshold)
    bound, fpr, fnr = epsilon_lower_bound(fp, len(held_neg), fn, len(held_pos), delta, alpha)
    return {
        "mechanism": event["mechanism"],
        "claimedEpsilon": claimed,
        "delta": delta,
        "accountant": event["accountant"],
        "noise": float(event["noise"]),
        "chargedSensitivity": charged,
        "canaryMoves": moved,
        "releasesPerDataset": releases,
        "heldOutPerDataset": len(held_pos),
        "confidence": 1 - alpha,
        "falsePositives": fp,
        "falseNegatives": fn,
        "falsePositiveRateUpper": fpr,
        "falseNegativeRateUpper": fnr,
        "empiricalEpsilonLowerBound": bound,
        "samplingSeconds": round(sampling, 2),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fedshare", required=True, help="the fedshare executable")
    parser.add_argument("--releases", type=int, default=20000, help="releases per dataset (default 20000)")
    parser.add_argument("--mechanism", choices=["gaussian", "laplace"], action="append",
                        help="which manifest to audit (repeatable; default: gaussian, the three-worlds manifest)")
    parser.add_argument("--alpha", type=float, default=0.01, help="1 - confidence of the bound (default 0.01)")
    parser.add_argument("--json", help="also write the results to this file")
    arguments = parser.parse_args()
    if arguments.releases < 100:
        parser.error("--releases must be at least 100")
    failed = False
    results = []
    for mechanism in arguments.mechanism or ["gaussian"]:
        result = audit(arguments.fedshare, arguments.releases, mechanism, arguments.alpha)
        results.append(result)
        verdict = "ok" if result["empiricalEpsilonLowerBound"] <= result["claimedEpsilon"] else "FAILED"
        failed |= verdict != "ok"
        print(f"privacy audit ({mechanism}, {result['mechanism']}): empirical ε ≥ {result['empiricalEpsilonLowerBound']:.3f} "
              f"at {100 * result['confidence']:.0f}% confidence vs claimed ε = {result['claimedEpsilon']} "
              f"(δ = {result['delta']}, {result['accountant']} accountant); {result['releasesPerDataset']} releases per dataset, "
              f"canary moves the sum {result['canaryMoves'] / result['chargedSensitivity']:.4f} of the charged sensitivity; "
              f"FP {result['falsePositives']}/{result['heldOutPerDataset']}, FN {result['falseNegatives']}/{result['heldOutPerDataset']}: {verdict}")
    if arguments.json:
        with open(arguments.json, "w") as handle:
            json.dump(results, handle, indent=2)
            handle.write("\n")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
