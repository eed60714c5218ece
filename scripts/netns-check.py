#!/usr/bin/env python3
"""Checks one case of scripts/netns-harness.sh from its folder: the aggregator's JSON summaries
(aggregator.out), the parties' JSON events (party-N.out) and every ledger's history
(ledger-*.json, from `fedshare budget --history --json`).

Invariants checked in every case:
  * no round id is released twice (aggregator summaries; each party's released events);
  * no ledger records less than what was released: for every released round, the aggregator's
    ledger and the ledger of every contributor hold a committed charge for that round id;
  * nothing is left pending in any ledger (an interrupted or lost round is settled: committed
    if the party's contribution / the opening shares may have left, cancelled otherwise).
Then the case's own expectation (who is dropped, who contributed).

Prints one line (what happened) and exits 1 on the first violation.
"""
import json
import os
import sys


def fail(message):
    print(message)
    sys.exit(1)


def lines(path):
    out = []
    if not os.path.exists(path):
        return out
    with open(path) as handle:
        for line in handle:
            line = line.strip()
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
    return out


def ledger(folder, name):
    path = os.path.join(folder, f"ledger-{name}.json")
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        text = handle.read().strip()
    return json.loads(text) if text else []


def settlements(entries):
    """round id -> list of (reservation id, state) with state committed/cancelled/pending."""
    settled = {}
    for entry in entries:
        if entry.get("kind") in ("commit", "cancel") and entry.get("reservation") is not None:
            settled.setdefault(entry["reservation"], []).append(entry["kind"])
    rounds = {}
    for entry in entries:
        if entry.get("kind") != "reserve":
            continue
        kinds = settled.get(entry["id"], [])
        if len(kinds) > 1:
            fail(f"reservation {entry['id']} settled {len(kinds)} times: {kinds}")
        state = {"commit": "committed", "cancel": "cancelled"}.get(kinds[0], "?") if kinds else "pending"
        rounds.setdefault(str(entry.get("round")), []).append((entry["id"], state))
    return rounds


def main():
    folder = sys.argv[1]
    expect = dict(arg.split("=", 1) for arg in sys.argv[2:])
    case, mode = expect["case"], expect["mode"]
    party = int(expect["party"]) if "party" in expect else None
    phase = expect.get("phase")

    releases = lines(os.path.join(folder, "aggregator.out"))
    rounds = [r["round"] for r in releases]
    if len(rounds) != len(set(rounds)):
        fail(f"a round was released twice by the aggregator: {rounds}")
    events = {p: lines(os.path.join(folder, f"party-{p}.out")) for p in (1, 2, 3)}
    for p, evs in events.items():
        released = [e["round"] for e in evs if e.get("event") == "released"]
        if len(released) != len(set(released)):
            fail(f"party {p} saw round(s) {released} released twice")
        for r in released:
            if r not in rounds:
                fail(f"party {p} got a result for round {r}, which the aggregator never released ({rounds})")

    ledgers = {name: settlements(ledger(folder, name)) for name in ("aggregator", "1", "2", "3")}
    in_released = {(str(p), str(r["round"])) for r in releases for p in r["partiesContributed"]}
    held = []
    for name, by_round in ledgers.items():
        for r, reservations in by_round.items():
            if len(reservations) > 1:
                fail(f"ledger {name} holds {len(reservations)} reservations for round {r}")
            for rid, state in reservations:
                if state != "pending":
                    continue
                # A party cut off settles once it notices the loss (link back, or keepalive);
                # until then its reservation is held against its cap. That is allowed only
                # where none of its data is in a released sum.
                if case == "cut" and name == str(party) and (name, r) not in in_released:
                    held.append(f"party {name}'s reservation {rid} still held (not yet noticed)")
                    continue
                fail(f"ledger {name}: reservation {rid} of round {r} is still pending")
    for release in releases:
        r = str(release["round"])
        if [s for _, s in ledgers["aggregator"].get(r, [])] != ["committed"]:
            fail(f"round {r} was released but the aggregator's ledger holds {ledgers['aggregator'].get(r)}")
        for p in release["partiesContributed"]:
            if [s for _, s in ledgers[str(p)].get(r, [])] != ["committed"]:
                fail(f"round {r} holds party {p}'s data but its ledger holds {ledgers[str(p)].get(r)}")

    if len(releases) != 1:
        fail(f"expected one released round, the aggregator released {rounds}")
    release = releases[0]
    contributors = release["partiesContributed"]
    dropped = {d["party"]: d["phase"] for d in release["dropped"]}
    last = "decrypt" if mode == "paillier" else "unmask"
    in_sum = {"paillier": ("contribute", "decrypt"), "secagg": ("contribute", "check", "unmask")}[mode]

    if case == "cut":
        # The party was stopped at the first aggregator message after it reported `phase` (all
        # it owed so far had left), its link cut, then let go: it answers into a dead link, so
        # it is silent from the next step on. It owes nothing more only after the last phase.
        actual = phase
        for event in events[party]:
            if event.get("event") in ("reconnecting", "released"):
                break
            if event.get("event") == "phase":
                actual = event["detail"]
        # In Paillier mode only a committee of t contributors is asked to decrypt: a party cut
        # after contribute that was not on it owes nothing more (the others opened the sum).
        stand_in = mode == "paillier" and phase == "contribute" and party in contributors and not dropped
        if phase != last and party not in dropped and not stand_in:
            fail(f"party {party} cut after {phase} is not named dropped: {release['dropped']}")
        if (party in contributors) != (phase in in_sum):
            fail(f"party {party} cut after {phase}: contributors {contributors} (its contribution {'had' if phase in in_sum else 'had not'} left)")
        if party in dropped:
            note = f"dropped at {dropped[party]}"
        elif stand_in:
            note = "not dropped (a stand-in: the decryption committee opened the sum without it)"
        else:
            note = "not dropped (it had sent all it owed)"
        if held:
            note += "; " + "; ".join(held)
        return f"round {release['round']} released, contributors {contributors}; party {party} cut after {phase} (answered into the dead link up to {actual}), {note}; ledgers consistent"
    if case == "delay-short":
        if dropped or contributors != [1, 2, 3]:
            fail(f"a short stop should not drop anyone: contributors {contributors}, dropped {release['dropped']}")
        return f"round {release['round']} released with all three; ledgers consistent"
    if case == "delay-long":
        # Stopped after its contribution left: in Paillier mode it is dropped only if it was on
        # the decryption committee; a stand-in owes nothing and the round releases without it.
        stand_in = mode == "paillier" and phase == "contribute" and contributors == [1, 2, 3] and not dropped
        if party not in dropped and not stand_in:
            fail(f"party {party} stopped beyond the phase timeout is not named dropped: {release['dropped']}")
        what = f"dropped at {dropped[party]}" if party in dropped else "not dropped (a stand-in, never asked to decrypt)"
        return f"round {release['round']} released, contributors {contributors}; party {party} {what}; ledgers consistent"
    if case == "kill":
        if contributors != [1, 2, 3]:
            fail(f"after the restart every party should have rejoined: contributors {contributors}, dropped {release['dropped']}")
        interrupted = sorted(r for r in ledgers["aggregator"] if r != str(release["round"]))
        notes = []
        for r in interrupted:
            state = ledgers["aggregator"][r][0][1]
            want = "committed" if phase == last else "cancelled"
            if state != want:
                fail(f"interrupted round {r} (killed in {phase}): the aggregator's charge is {state}, expected {want}")
            parties = {p: (ledgers[str(p)].get(r) or [(0, "none")])[0][1] for p in (1, 2, 3)}
            notes.append(f"interrupted round {r}: aggregator {state}, parties {parties}")
        for p in (1, 2, 3):
            if not any(e.get("event") == "released" and e["round"] == release["round"] for e in events[p]):
                fail(f"party {p} did not get round {release['round']}'s result")
        return f"restarted aggregator released round {release['round']} with all three; " + ("; ".join(notes) or "no interrupted reservation")
    fail(f"unknown case {case}")


if __name__ == "__main__":
    print(main())
