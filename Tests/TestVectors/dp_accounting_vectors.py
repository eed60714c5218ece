#!/usr/bin/env python3
"""Generates dp_accounting.json: privacy values computed by Google's dp-accounting 0.6.0
(pip install dp-accounting==0.6.0), read by Tests/DifferentialPrivacyTests.

Run from this folder: python3 dp_accounting_vectors.py > dp_accounting.json
"""
import importlib.metadata
import json
import math
import sys

import dp_accounting
from dp_accounting import dp_event
from dp_accounting import gaussian_mechanism
from dp_accounting.pld import accountant as pld_accountant
from dp_accounting.pld import common
from dp_accounting.rdp import rdp_privacy_accountant as rdp

VERSION = importlib.metadata.version("dp-accounting")
if VERSION != "0.6.0":
    sys.exit(f"expected dp-accounting 0.6.0, found {VERSION}")


def kov(epsilon, delta, count, total_delta):
    """dp-accounting's advanced_composition, or None where its float arithmetic overflows."""
    try:
        value = pld_accountant.advanced_composition(
            common.DifferentialPrivacyParameters(epsilon, delta), count, total_delta)
    except OverflowError:
        return None
    return float(value) if value is not None and math.isfinite(value) else None


def rdp_epsilon(event, count, delta):
    accountant = rdp.RdpAccountant()
    accountant.compose(dp_event.SelfComposedDpEvent(event, count))
    epsilon, order = accountant.get_epsilon_and_optimal_order(delta)
    return float(epsilon), float(order)


gaussian = []
for sigma in [0.5, 1.0, 2.0, 5.0, 10.0, 50.0]:
    for sensitivity in [1.0, 2.5]:
        for count in [1, 10, 100, 1000, 10000]:
            for delta in [1e-5, 1e-8]:
                m = sigma / sensitivity
                eps_rdp, order = rdp_epsilon(dp_event.GaussianDpEvent(m), count, delta)
                eps_exact = gaussian_mechanism.get_epsilon_gaussian(m / math.sqrt(count), delta)
                row = {"sigma": sigma, "sensitivity": sensitivity, "count": count, "delta": delta,
                       "rdp": eps_rdp, "order": order, "exact": float(eps_exact)}
                if count <= 100:
                    # Homogeneous KOV with each release (ε₀, δ/(2k)), ε₀ from the analytic curve.
                    delta0 = delta / (2 * count)
                    eps0 = gaussian_mechanism.get_epsilon_gaussian(m, delta0)
                    adv = kov(eps0, delta0, count, delta)
                    if adv is not None:
                        row["advanced"] = adv
                gaussian.append(row)

laplace = []
for scale in [0.5, 1.0, 2.0, 10.0, 100.0]:
    for sensitivity in [1.0, 3.0]:
        for count in [1, 10, 100, 1000]:
            for delta in [1e-5, 1e-8]:
                m = scale / sensitivity
                eps_rdp, order = rdp_epsilon(dp_event.LaplaceDpEvent(m), count, delta)
                row = {"scale": scale, "sensitivity": sensitivity, "count": count, "delta": delta,
                       "rdp": eps_rdp, "order": order, "basic": count * sensitivity / scale}
                if count <= 100:
                    adv = kov(sensitivity / scale, 0.0, count, delta)
                    if adv is not None:
                        row["advanced"] = adv
                laplace.append(row)

calibration = []
for epsilon in [0.05, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0]:
    for delta in [1e-3, 1e-5, 1e-6, 1e-9]:
        calibration.append({"epsilon": epsilon, "delta": delta,
                            "sigma": float(gaussian_mechanism.get_sigma_gaussian(epsilon, delta))})

json.dump({"source": f"dp-accounting {VERSION} (RdpAccountant default orders; gaussian_mechanism; "
                     "pld.accountant.advanced_composition)",
           "gaussian": gaussian, "laplace": laplace, "calibration": calibration},
          sys.stdout, indent=1)
sys.stdout.write("\n")
