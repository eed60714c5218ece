#!/usr/bin/env python3
"""Flower SecAgg+ baseline for `fedshare bench secagg`.

Runs Flower's real `SecAggPlusWorkflow` (server) against Flower's real `secaggplus_mod`
(clients), in one process, through a minimal in-memory Grid that hands each message to the
destination node's mod and returns its reply, exactly as Flower's message-based runtime would,
minus the network. Dropped nodes simply never reply from the chosen stage on (as after a
timeout). The wall time of the workflow call is the end-to-end time; the client fit function
only returns a pre-drawn vector.

Usage: flower_secaggplus_bench.py --parties 20 --length 100000 --num-shares 7 --threshold 4
                                  [--dropouts 2] [--json]
(Tested with flwr 1.42.0; `pip install flwr`.)
"""
import argparse
import copy
import json
import logging
import sys
import time

import numpy as np

from flwr.app import ConfigRecord, Context, Message, RecordDict
from flwr.client.mod.secure_aggregation.secaggplus_mod import secaggplus_mod
from flwr.common import Code, FitRes, Parameters, Status, ndarrays_to_parameters
from flwr.common.secure_aggregation.secaggplus_constants import RECORD_KEY_CONFIGS, Key, Stage
from flwr.compat.common import recorddict_compat as compat
from flwr.server import ServerConfig
from flwr.server.client_manager import SimpleClientManager
from flwr.server.compat.grid_client_proxy import GridClientProxy
from flwr.server.compat.legacy_context import LegacyContext
from flwr.server.strategy import FedAvg
from flwr.server.workflow.constant import MAIN_CONFIGS_RECORD, MAIN_PARAMS_RECORD, Key as WorkflowKey
from flwr.server.workflow.secure_aggregation.secaggplus_workflow import SecAggPlusWorkflow
from flwr.serverapp.grid import Grid
from flwr.supercore.task_identity import TaskIdentity


class InProcessGrid(Grid):
    """Delivers each message to its node's `secaggplus_mod` and collects the replies."""

    def __init__(self, nodes, drop_stage, dropped):
        self.nodes = nodes            # node_id -> (Context, fit vector)
        self.drop_stage = drop_stage  # the stage from which dropped nodes stop replying
        self.dropped = dropped
        self.client_seconds = {nid: 0.0 for nid in nodes}
        self.stage_order = Stage.all()
        self._run = None

    # Unused parts of the Grid interface.
    @property
    def run(self):
        return self._run

    def set_run(self, run_id):
        pass

    def create_message(self, content, message_type, dst_node_id, group_id, ttl=None):
        return Message(content, dst_node_id=dst_node_id, message_type=message_type, group_id=group_id)

    def get_node_ids(self):
        return list(self.nodes)

    def push_messages(self, messages):
        raise NotImplementedError

    def pull_messages(self, message_ids):
        raise NotImplementedError

    def send_and_receive(self, messages, *, timeout=None):
        replies = []
        for msg in messages:
            # Each node gets its own copy, as after (de)serialisation: the mod pops keys from
            # the config record, and the setup stage sends one shared record to every node.
            msg = copy.deepcopy(msg)
            nid = msg.metadata.dst_node_id
            stage = msg.content.config_records[RECORD_KEY_CONFIGS][Key.STAGE]
            if nid in self.dropped and self.stage_order.index(stage) >= self.stage_order.index(self.drop_stage):
                continue  # the node is gone: no reply (as after a timeout)
            ctxt, vector, num_examples = self.nodes[nid]

            def fit(m, c, vector=vector, num_examples=num_examples):
                fitres = FitRes(Status(Code.OK, ""), ndarrays_to_parameters([vector]), num_examples, {})
                return Message(compat.fitres_to_recorddict(fitres, keep_input=True), reply_to=m)

            start = time.perf_counter()
            reply = secaggplus_mod(msg, ctxt, fit)
            self.client_seconds[nid] += time.perf_counter() - start
            replies.append(reply)
        return replies


STAGE_FOR_PHASE = {
    "advertise": Stage.SETUP,
    "share": Stage.SHARE_KEYS,
    "contribute": Stage.COLLECT_MASKED_VECTORS,
    "unmask": Stage.UNMASK,
}


def run_once(args):
    rng = np.random.default_rng(args.seed)
    node_ids = list(range(1001, 1001 + args.parties))
    nodes = {}
    client_manager = SimpleClientManager()
    for nid in node_ids:
        ctxt = Context(run_id=1, node_id=nid, node_config={}, state=RecordDict(), run_config={})
        vector = rng.uniform(-1.0, 1.0, args.length).astype(np.float32)
        nodes[nid] = (ctxt, vector, 10)
    dropped = set(node_ids[: args.dropouts])
    grid = InProcessGrid(nodes, STAGE_FOR_PHASE[args.drop_phase], dropped)
    for nid in node_ids:
        client_manager.register(GridClientProxy(nid, grid, 1))

    strategy = FedAvg(fraction_fit=1.0, fraction_evaluate=0.0, min_fit_clients=args.parties,
                      min_available_clients=args.parties)
    server_context = Context(run_id=1, node_id=0, node_config={}, state=RecordDict(), run_config={})
    context = LegacyContext(server_context, config=ServerConfig(num_rounds=1), strategy=strategy,
                            client_manager=client_manager)
    context.state.config_records[MAIN_CONFIGS_RECORD] = ConfigRecord({WorkflowKey.CURRENT_ROUND: 1})
    context.state.array_records[MAIN_PARAMS_RECORD] = compat.parameters_to_arrayrecord(
        ndarrays_to_parameters([np.zeros(args.length, dtype=np.float32)]), True)

    workflow = SecAggPlusWorkflow(num_shares=args.num_shares, reconstruction_threshold=args.threshold)
    start = time.perf_counter()
    workflow(grid, context)
    wall = time.perf_counter() - start

    # Check the result against the survivors' mean.
    survivors = [nid for nid in node_ids if not (nid in dropped and args.drop_phase in ("advertise", "share", "contribute"))]
    expected = np.mean([nodes[nid][1] for nid in survivors], axis=0)
    params = compat.arrayrecord_to_parameters(context.state.array_records[MAIN_PARAMS_RECORD], keep_input=True)
    from flwr.common import parameters_to_ndarrays
    got = parameters_to_ndarrays(params)[0]
    error = float(np.max(np.abs(got - expected)))
    completed = error < 1e-3
    return grid, wall, error, completed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parties", type=int, default=20)
    parser.add_argument("--length", type=int, default=100_000)
    parser.add_argument("--num-shares", type=int, default=7, help="Flower's num_shares (neighbours including self)")
    parser.add_argument("--threshold", type=int, default=4, help="Flower's reconstruction_threshold")
    parser.add_argument("--dropouts", type=int, default=0)
    parser.add_argument("--drop-phase", choices=list(STAGE_FOR_PHASE), default="contribute")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repetitions", type=int, default=1, help="rounds to run; the fastest is reported")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.getLogger("flwr").setLevel(logging.ERROR)

    # The identity Flower's runtime sets for the ServerApp process (messages read it).
    TaskIdentity.run_id = 1
    TaskIdentity.node_id = 0
    TaskIdentity.task_id = 1

    best = None
    for _ in range(args.repetitions):
        outcome = run_once(args)
        if best is None or outcome[1] < best[1]:
            best = outcome
    grid, wall, error, completed = best
    client_total = sum(grid.client_seconds.values())
    report = {
        "implementation": "flower-secaggplus",
        "flwr_version": __import__("flwr").__version__,
        "parties": args.parties,
        "length": args.length,
        "num_shares": args.num_shares,
        "threshold": args.threshold,
        "dropouts": args.dropouts,
        "drop_phase": args.drop_phase,
        "completed": completed,
        "max_abs_error": error,
        "repetitions": args.repetitions,
        "wall_seconds": wall,
        "client_seconds_total": client_total,
        "client_seconds_mean": client_total / args.parties,
        "server_seconds": wall - client_total,
    }
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        for key, value in report.items():
            print(f"{key:22} {value}")
    return 0 if completed else 1


if __name__ == "__main__":
    sys.exit(main())
