#!/usr/bin/env python3
"""Peer benchmark: one federated round in Flower (flwr), 3 clients, loopback.

This is a benchmark, not a test. It measures the wall-clock latency of a Flower
round in which each of 3 clients (separate OS processes) computes the same
attention statistic that fedshare's marketplace example computes, and the
server sums the clients' results. It is the peer of fedshare's "request"
latency; note that the Flower round has no cryptography (no Paillier, no
secure aggregation), no differential-privacy noise and, as run here, no TLS
(insecure gRPC on 127.0.0.1).

API: the legacy (deprecated but still shipped) `flwr.server.start_server` /
`flwr.client.start_client` pair over the grpc-bidi transport, with a
`NumPyClient`; no simulation engine, no SuperLink/SuperNode.

Statistic (per client): for every record with features x (d = 32),
z = x @ W (W: 32 x 16), s = (z @ K^T) * scale (K: 64 x 16 anchors, scale 2.0),
p = softmax(s) over the 64 anchors, summed per group (16 groups): a 16 x 64
matrix plus 16 counts. The server's strategy sums them (no averaging).

Usage (needs a Python with flwr and numpy, e.g. a venv):
    python scripts/bench-flower-round.py --records 10
    python scripts/bench-flower-round.py --records 100000 \
        --data-dir /tmp/fedshare-bench-service/marketplace

Prints one JSON object: per round the server-side wall time (fit dispatch to
aggregate done) and each client's compute time, their medians, and the total
wall time including process start.
"""

import argparse
import csv
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

# The marketplace manifest's group order.
GROUPS = [
    "teen-americas", "teen-europe", "teen-asia", "teen-oceania",
    "young-americas", "young-europe", "young-asia", "young-oceania",
    "adult-americas", "adult-europe", "adult-asia", "adult-oceania",
    "senior-americas", "senior-europe", "senior-asia", "senior-oceania",
]
D, H, A, G = 32, 16, 64, len(GROUPS)
NUM_CLIENTS = 3


# --------------------------------------------------------------------------- data

def load_model(data_dir):
    """Anchors K (64 x 16) and encoder W (32 x 16): from data_dir if present, else random."""
    import numpy as np

    rng = np.random.default_rng(20240601)
    anchors_path = os.path.join(data_dir, "anchors.csv") if data_dir else None
    encoder_path = os.path.join(data_dir, "encoder.csv") if data_dir else None
    if anchors_path and os.path.exists(anchors_path):
        K = np.loadtxt(anchors_path, delimiter=",", skiprows=1, usecols=range(1, H + 1))
        source_k = anchors_path
    else:
        K = rng.normal(0.0, 0.25, size=(A, H))
        source_k = "random (seeded)"
    if encoder_path and os.path.exists(encoder_path):
        W = np.loadtxt(encoder_path, delimiter=",")
        source_w = encoder_path
    else:
        W = rng.normal(0.0, 0.25, size=(D, H))
        source_w = "random (seeded)"
    assert K.shape == (A, H), K.shape
    assert W.shape == (D, H), W.shape
    return K, W, source_k, source_w


def load_records(data_dir, cid, n):
    """Features X (n x 32) and group indices g (n,) of world-<cid>.csv, first n records."""
    import numpy as np

    path = os.path.join(data_dir, f"world-{cid}.csv") if data_dir else None
    if path and os.path.exists(path):
        index = {name: i for i, name in enumerate(GROUPS)}
        feats, groups = [], []
        with open(path, newline="") as f:
            reader = csv.reader(f)
            header = next(reader)
            seg = header.index("segment")
            xcols = [header.index(f"x{j}") for j in range(1, D + 1)]
            for row in reader:
                if len(groups) >= n:
                    break
                gi = index.get(row[seg])
                if gi is None:
                    continue
                feats.append([float(row[c]) for c in xcols])
                groups.append(gi)
        return np.asarray(feats, dtype=np.float64), np.asarray(groups, dtype=np.int64), path
    rng = np.random.default_rng(1000 + cid)
    X = rng.normal(0.0, 1.0, size=(n, D))
    g = rng.integers(0, G, size=n)
    return X, g, "synthetic (seeded)"


def attention_statistic(X, g, W, K, scale):
    """16 x 64 sum of per-record softmax attention per group, and 16 counts."""
    import numpy as np

    z = X @ W                                  # n x 16
    s = (z @ K.T) * scale                      # n x 64
    s -= s.max(axis=1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(axis=1, keepdims=True)
    onehot = np.zeros((G, X.shape[0]), dtype=np.float64)
    onehot[g, np.arange(X.shape[0])] = 1.0
    return onehot @ p, onehot.sum(axis=1)      # (16 x 64, 16)


# --------------------------------------------------------------------------- roles

def run_server(args):
    import numpy as np
    import flwr as fl
    from flwr.common import ndarrays_to_parameters, parameters_to_ndarrays

    rounds = {}

    class SumStrategy(fl.server.strategy.FedAvg):
        """FedAvg whose aggregate_fit sums the clients' arrays instead of averaging."""

        def configure_fit(self, server_round, parameters, client_manager):
            # Wait for all clients first, so round 1 does not count their connecting.
            client_manager.wait_for(NUM_CLIENTS)
            rounds[server_round] = {"t0": time.perf_counter(), "wall_start": time.time()}
            return super().configure_fit(server_round, parameters, client_manager)

        def aggregate_fit(self, server_round, results, failures):
            if failures:
                raise RuntimeError(f"round {server_round}: {len(failures)} client failures")
            total = None
            clients = []
            for _, fit_res in results:
                arrays = parameters_to_ndarrays(fit_res.parameters)
                total = arrays if total is None else [a + b for a, b in zip(total, arrays)]
                clients.append({
                    "client": int(fit_res.metrics["cid"]),
                    "records": int(fit_res.num_examples),
                    "compute_s": float(fit_res.metrics["compute_s"]),
                })
            aggregated = ndarrays_to_parameters(total)
            r = rounds[server_round]
            r["round_s"] = time.perf_counter() - r["t0"]
            r["wall_end"] = time.time()
            r["clients"] = sorted(clients, key=lambda c: c["client"])
            r["total_count"] = float(total[1].sum())
            r["total_attention"] = float(total[0].sum())
            # position-weighted checksum of the summed 16 x 64 matrix, for cross-checking
            r["attention_checksum"] = float((total[0] * np.arange(1, G * A + 1).reshape(G, A)).sum())
            return aggregated, {}

    strategy = SumStrategy(
        fraction_fit=1.0,
        fraction_evaluate=0.0,
        min_fit_clients=NUM_CLIENTS,
        min_evaluate_clients=0,
        min_available_clients=NUM_CLIENTS,
        initial_parameters=ndarrays_to_parameters([np.zeros((G, A)), np.zeros(G)]),
    )
    fl.server.start_server(
        server_address=f"127.0.0.1:{args.port}",
        config=fl.server.ServerConfig(num_rounds=args.rounds),
        strategy=strategy,
        certificates=None,  # insecure gRPC
    )
    out = []
    for k in sorted(rounds):
        r = dict(rounds[k])
        r.pop("t0", None)
        r["round"] = k
        out.append(r)
    with open(args.result, "w") as f:
        json.dump(out, f)


def run_client(args):
    import flwr as fl

    t_start = time.perf_counter()
    K, W, _, _ = load_model(args.data_dir)
    X, g, source = load_records(args.data_dir, args.cid, args.records)
    load_s = time.perf_counter() - t_start
    with open(args.result, "w") as f:
        json.dump({"client": args.cid, "records": int(X.shape[0]), "source": source,
                   "load_s": load_s}, f)

    class AttentionClient(fl.client.NumPyClient):
        def get_parameters(self, config):
            import numpy as np
            return [np.zeros((G, A)), np.zeros(G)]

        def fit(self, parameters, config):
            t_fit = time.perf_counter()
            attention, counts = attention_statistic(X, g, W, K, args.scale)
            compute_s = time.perf_counter() - t_fit
            return [attention, counts], int(X.shape[0]), {"cid": args.cid,
                                                           "compute_s": compute_s}

    fl.client.start_client(
        server_address=f"127.0.0.1:{args.port}",
        client=AttentionClient().to_client(),
        insecure=True,
    )


# --------------------------------------------------------------------------- orchestration

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, deadline):
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start listening in time")


def orchestrate(args):
    env = dict(os.environ)
    env.setdefault("FLWR_TELEMETRY_ENABLED", "0")
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(args.blas_threads)
    port = args.port or free_port()
    work = tempfile.mkdtemp(prefix="bench-flower-")
    log_dir = args.log_dir or work
    os.makedirs(log_dir, exist_ok=True)
    me = os.path.abspath(__file__)
    common = ["--port", str(port), "--records", str(args.records), "--rounds", str(args.rounds),
              "--scale", str(args.scale)]
    if args.data_dir:
        common += ["--data-dir", args.data_dir]

    t_total = time.perf_counter()
    wall_total = time.time()
    procs = []
    server_result = os.path.join(work, "server.json")
    with open(os.path.join(log_dir, "server.log"), "w") as log:
        server = subprocess.Popen([sys.executable, me, "--role", "server", "--result", server_result]
                                  + common, stdout=log, stderr=subprocess.STDOUT, env=env)
    procs.append(server)
    try:
        wait_for_port(port, server, time.time() + args.timeout)
        t_listening = time.perf_counter() - t_total
        client_results = []
        for cid in range(1, NUM_CLIENTS + 1):
            path = os.path.join(work, f"client-{cid}.json")
            client_results.append(path)
            with open(os.path.join(log_dir, f"client-{cid}.log"), "w") as log:
                procs.append(subprocess.Popen(
                    [sys.executable, me, "--role", "client", "--cid", str(cid), "--result", path]
                    + common, stdout=log, stderr=subprocess.STDOUT, env=env))
        deadline = time.time() + args.timeout
        for p in procs:
            p.wait(timeout=max(1.0, deadline - time.time()))
        total_s = time.perf_counter() - t_total
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, name in zip(procs, ["server"] + [f"client-{i}" for i in range(1, NUM_CLIENTS + 1)]):
        if p.returncode != 0:
            raise RuntimeError(f"{name} exited with code {p.returncode}; see {log_dir}")

    with open(server_result) as f:
        rounds = json.load(f)
    clients = []
    for path in client_results:
        with open(path) as f:
            clients.append(json.load(f))

    import flwr
    import numpy
    _, _, source_k, source_w = load_model(args.data_dir)
    round_s = [r["round_s"] for r in rounds]
    first_round_start = min(r["wall_start"] for r in rounds) - wall_total
    last_round_end = max(r["wall_end"] for r in rounds) - wall_total
    for r in rounds:
        r.pop("wall_start", None)
        r.pop("wall_end", None)
    compute_max = [max(c["compute_s"] for c in r["clients"]) for r in rounds]
    compute_all = [c["compute_s"] for r in rounds for c in r["clients"]]
    result = {
        "tool": "flower",
        "flwr_version": flwr.__version__,
        "numpy_version": numpy.__version__,
        "python": sys.version.split()[0],
        "api": "flwr.server.start_server + flwr.client.start_client (grpc-bidi, NumPyClient)",
        "transport": "insecure gRPC on 127.0.0.1 (no TLS)",
        "clients": NUM_CLIENTS,
        "records_per_client": [c["records"] for c in clients],
        "data": [c["source"] for c in clients],
        "anchors": source_k,
        "encoder": source_w,
        "scale": args.scale,
        "blas_threads_per_process": args.blas_threads,
        "rounds": rounds,
        "median_round_s": statistics.median(round_s),
        "min_round_s": min(round_s),
        "max_round_s": max(round_s),
        "median_round_s_excluding_first": (statistics.median(round_s[1:])
                                           if len(round_s) > 1 else None),
        "median_client_compute_s": statistics.median(compute_all),
        "median_slowest_client_compute_s": statistics.median(compute_max),
        "median_round_overhead_s": statistics.median(
            [a - b for a, b in zip(round_s, compute_max)]),
        "client_load_s": [round(c["load_s"], 4) for c in clients],
        "server_listening_after_s": t_listening,
        "first_round_started_after_s": first_round_start,
        "last_round_done_after_s": last_round_end,
        "total_s": total_s,
        "note": "times after_s and total_s count from the server process's start; "
                "total_s runs until all 4 processes exited (includes Python/flwr import, "
                "data load, connecting, all rounds, shutdown); round_s is the server's "
                "configure_fit (after all 3 clients are connected) to aggregate_fit done",
    }
    print(json.dumps(result, indent=2))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=100000, help="records per client")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--data-dir", default=None,
                    help="folder with world-1.csv..world-3.csv (and anchors.csv, encoder.csv)")
    ap.add_argument("--scale", type=float, default=2.0)
    ap.add_argument("--blas-threads", type=int, default=1,
                    help="BLAS threads per process (default 1: 4 processes share the cores)")
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--log-dir", default=None, help="where the 4 processes' logs go")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--role", choices=["orchestrator", "server", "client"], default="orchestrator",
                    help=argparse.SUPPRESS)
    ap.add_argument("--cid", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--result", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.data_dir and not os.path.isdir(args.data_dir):
        args.data_dir = None
    if args.role == "server":
        run_server(args)
    elif args.role == "client":
        run_client(args)
    else:
        orchestrate(args)


if __name__ == "__main__":
    main()
