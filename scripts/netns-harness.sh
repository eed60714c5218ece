#!/usr/bin/env bash
# Network-fault harness (issue 8): the aggregator and three parties each run in their own Linux
# network namespace, joined by veth pairs to a bridge that lives in a namespace of its own (the
# host's network is never touched). It cuts a party's link at each phase of a round, delays a
# party (SIGSTOP/SIGCONT: this kernel has no netem), and SIGKILLs the aggregator at each phase
# and restarts it, in both modes, then checks the outcome and every ledger
# (`fedshare budget --history --json`): no ledger records less than what was released, and no
# round id is released twice.
#
#   scripts/netns-harness.sh [FEDSHARE_BINARY] [CASE_FILTER]
#
# FEDSHARE_BINARY defaults to .build/debug/fedshare; CASE_FILTER (an extended regex over case
# names such as "cut-paillier-p2-contribute", "delay-secagg-long", "kill-paillier-decrypt")
# runs a subset (a filter that matches no case is an error). Where network namespaces cannot
# be made (not root, no iproute2, no netns support) it fails with one line saying why under
# CI=true, and elsewhere skips loudly with exit status 77 (never 0: nothing was checked).
# Everything it creates is named with a per-run prefix and removed on exit, even on failure.
# Addresses: 10.213.0.0/24 inside the test's own namespaces only.
set -uo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${1:-$ROOT/.build/debug/fedshare}"
FILTER="${2:-.}"
# Per-phase timeouts (seconds): Paillier's must cover encrypting a contribution in a debug build
# on a busy 2-core machine; secure aggregation's phases are quick.
PAILLIER_TIMEOUT="${NETNS_PAILLIER_TIMEOUT:-15}"
SECAGG_TIMEOUT="${NETNS_SECAGG_TIMEOUT:-5}"
JOIN_TIMEOUT="${NETNS_JOIN_TIMEOUT:-30}"
PHASE_TIMEOUT=$PAILLIER_TIMEOUT

# Under CI a check that cannot run fails the run; elsewhere it may be skipped, but never quietly.
skip() {
    case "${CI:-}" in
        true|1|yes) echo "netns-harness: FAILED: cannot run under CI=true: $*" >&2; exit 1 ;;
    esac
    echo "netns-harness: SKIPPED (nothing was checked; under CI=true this fails): $*" >&2
    exit 77
}
[ -x "$BIN" ] || { echo "netns-harness: no fedshare binary at $BIN (build first: swift build)" >&2; exit 2; }
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
command -v ip >/dev/null 2>&1 || skip "the ip command (iproute2) is not installed"
command -v python3 >/dev/null 2>&1 || skip "python3 is needed to check the ledgers"
[ "$(id -u)" -eq 0 ] || skip "network namespaces need root (CAP_NET_ADMIN); run as root"

PFX="fsh$(( $$ % 100000 ))"
PROBE="${PFX}-probe"
probe_error=$(ip netns add "$PROBE" 2>&1) \
    || skip "cannot create a network namespace here (ip netns add: ${probe_error//$'\n'/; }; no CAP_NET_ADMIN or no netns support)"
ip netns del "$PROBE" >/dev/null 2>&1

NAMESPACES=()
PIDS=()
WORK="$(mktemp -d "${TMPDIR:-/tmp}/${PFX}.XXXXXX")"
KEEP="${NETNS_KEEP:-0}"
cleanup() {
    local status=$?
    for pid in "${PIDS[@]}"; do kill -CONT "$pid" 2>/dev/null; kill -KILL "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null; done
    if [ "$KEEP" = 1 ] || [ $status -ne 0 ]; then echo "netns-harness: logs kept in $WORK"; else rm -rf "$WORK"; fi
    exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

NS_BR="${PFX}-br"; NS_AGG="${PFX}-agg"
NS_P=("" "${PFX}-p1" "${PFX}-p2" "${PFX}-p3")
AGG_IP=10.213.0.1
P_IP=("" 10.213.0.11 10.213.0.12 10.213.0.13)

mk_ns() { ip netns add "$1" && NAMESPACES+=("$1") && ip -n "$1" link set lo up; }
mk_ns "$NS_BR" || exit 1
ip -n "$NS_BR" link add br0 type bridge && ip -n "$NS_BR" link set br0 up || exit 1
attach() { # namespace address index
    mk_ns "$1" || exit 1
    ip -n "$NS_BR" link add "v$3" type veth peer name eth0 netns "$1" || exit 1
    ip -n "$NS_BR" link set "v$3" master br0 up
    ip -n "$1" addr add "$2/24" dev eth0
    ip -n "$1" link set eth0 up
}
attach "$NS_AGG" "$AGG_IP" 0
for i in 1 2 3; do attach "${NS_P[$i]}" "${P_IP[$i]}" "$i"; done
if command -v ping >/dev/null 2>&1; then
    for i in 1 2 3; do
        ip netns exec "${NS_P[$i]}" ping -c1 -W2 "$AGG_IP" >/dev/null 2>&1 || { echo "netns-harness: party $i cannot reach $AGG_IP" >&2; exit 1; }
    done
fi

# --- kits (key_bits 2048), one per mode ---
EXAMPLE="$ROOT/Examples/three-worlds"
provision() { # mode
    local dir="$WORK/$1"
    mkdir -p "$dir/manifest"
    cp "$EXAMPLE/anchors.csv" "$dir/manifest/"
    sed -e "s/^aggregator = .*/aggregator = \"$AGG_IP:7443\"/" -e 's/^key_bits = .*/key_bits = 2048/' \
        -e "s/^mode = .*/mode = \"$1\"/" "$EXAMPLE/manifest.toml" > "$dir/manifest/manifest.toml"
    "$BIN" provision --manifest "$dir/manifest/manifest.toml" --out "$dir/kits" > "$dir/provision.log" 2>&1 \
        || { echo "netns-harness: provisioning the $1 kit failed:" >&2; tail -5 "$dir/provision.log" >&2; exit 1; }
}
START=$(date +%s)
provision paillier
provision secagg
echo "netns-harness: namespaces up, kits provisioned in $(( $(date +%s) - START )) s"

# --- helpers ---
wait_for() { # file pattern seconds
    local deadline=$(( $(date +%s%N) / 1000000 + $3 * 1000 ))
    while ! grep -qE "$2" "$1" 2>/dev/null; do
        [ $(( $(date +%s%N) / 1000000 )) -lt $deadline ] || return 1
        sleep 0.02
    done
}
wait_pid() { # pid seconds -> 0 if exited
    local deadline=$(( $(date +%s) + $2 ))
    while kill -0 "$1" 2>/dev/null; do
        [ "$(date +%s)" -lt $deadline ] || return 1
        sleep 0.1
    done
}
CASE=""; CDIR=""; MODE=""; AGG_PID=""; PARTY_PID=("" "" "" "")
start_aggregator() { # rounds tag [extra options]
    ip netns exec "$NS_AGG" "$BIN" aggregator --kit "$CDIR/aggregator" --out "$CDIR/out-$2" --rounds "$1" "${@:3}" \
        --join-timeout "$JOIN_TIMEOUT" --phase-timeout "$PHASE_TIMEOUT" --ledger "$CDIR/ledger-aggregator.sqlite" --json \
        >> "$CDIR/aggregator.out" 2> "$CDIR/aggregator-$2.err" &
    AGG_PID=$!; PIDS+=("$AGG_PID")
    wait_for "$CDIR/aggregator-$2.err" "listening" 30 || { echo "aggregator did not start"; return 1; }
}
start_party() { # id [extra options]
    local kits="$WORK/$MODE/kits"
    ip netns exec "${NS_P[$1]}" "$BIN" party --id "$1" --kit "$kits/party-$1" --data "$EXAMPLE/world-$1.csv" "${@:2}" \
        --ledger "$CDIR/ledger-$1.sqlite" --retry-for 30 --json > "$CDIR/party-$1.out" 2> "$CDIR/party-$1.err" &
    PARTY_PID[$1]=$!; PIDS+=("${PARTY_PID[$1]}")
}
wait_stopped() { # pid seconds: until the process has stopped itself (SIGSTOP)
    local deadline=$(( $(date +%s) + $2 ))
    until [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = T ]; do
        [ "$(date +%s)" -lt $deadline ] || return 1
        sleep 0.02
    done
}
phase_event() { echo "\"detail\":\"$1\",\"event\":\"phase\""; }
begin_case() { # name mode
    CASE="$1"; MODE="$2"; CDIR="$WORK/cases/$1"
    if [ "$MODE" = paillier ]; then PHASE_TIMEOUT=$PAILLIER_TIMEOUT; else PHASE_TIMEOUT=$SECAGG_TIMEOUT; fi
    mkdir -p "$CDIR"
    cp -a "$WORK/$MODE/kits/aggregator" "$CDIR/aggregator"
    : > "$CDIR/aggregator.out"
    CASE_START=$(date +%s)
}
link() { ip -n "${NS_P[$1]}" link set eth0 "$2"; }
finish_parties() {
    for i in 1 2 3; do
        kill -CONT "${PARTY_PID[$i]}" 2>/dev/null
        kill -KILL "${PARTY_PID[$i]}" 2>/dev/null; wait "${PARTY_PID[$i]}" 2>/dev/null
    done
    kill -KILL "$AGG_PID" 2>/dev/null; wait "$AGG_PID" 2>/dev/null
}
PASSED=0; FAILED=0; FAILURES=()
verdict() { # rc message
    local took=$(( $(date +%s) - CASE_START ))
    if [ "$1" -eq 0 ]; then PASSED=$((PASSED + 1)); echo "  ok    $CASE ($took s): $2"
    else FAILED=$((FAILED + 1)); FAILURES+=("$CASE"); echo "  FAIL  $CASE ($took s): $2"; echo "        logs: $CDIR"; KEEP=1; fi
}
check() { # expectations as KEY=VALUE words for the checker
    for f in "$CDIR"/ledger-*.sqlite; do
        "$BIN" budget --ledger "$f" --history --json > "${f%.sqlite}.json" 2> "${f%.sqlite}.err" || echo "[]" > "${f%.sqlite}.json"
    done
    python3 "$ROOT/scripts/netns-check.py" "$CDIR" "$@"
}

# --- (a) a party's link cut after it reports a phase ---
cut_case() { # mode party phase
    local mode=$1 party=$2 phase=$3
    begin_case "cut-$mode-p$party-$phase" "$mode"
    [[ "$CASE" =~ $FILTER ]] || return 0
    # Every contributor decrypts here, so that the cut party reaches the phase whichever t
    # contributions arrive first (the committee's stand-ins are covered by the SIGKILL tests).
    local committee=()
    [ "$phase" = decrypt ] && committee=(--decryption-committee everyone)
    start_aggregator 1 a "${committee[@]}" || { verdict 1 "aggregator"; finish_parties; return; }
    # The party stops itself right after reporting the phase (hidden --stop-after): its link
    # goes down before it handles another message.
    for i in 1 2 3; do if [ "$i" = "$party" ]; then start_party "$i" --stop-after "$phase"; else start_party "$i"; fi; done
    if ! wait_stopped "${PARTY_PID[$party]}" 90; then
        finish_parties; verdict 1 "party $party never reported phase $phase"; return
    fi
    link "$party" down; kill -CONT "${PARTY_PID[$party]}"
    wait_pid "$AGG_PID" $(( JOIN_TIMEOUT + 6 * PHASE_TIMEOUT + 30 )) || echo "        (aggregator still running)"
    link "$party" up
    # The cut party learns its stream is gone once the link is back (or by keepalive) and
    # settles its reservation before dialling again.
    wait_for "$CDIR/party-$party.out" '"event":"(reconnecting|released)"' 35 >/dev/null
    for i in 1 2 3; do [ "$i" = "$party" ] || wait_pid "${PARTY_PID[$i]}" 10; done
    finish_parties
    local out; out=$(check "case=cut" "mode=$mode" "party=$party" "phase=$phase"); verdict $? "$out"
}

# --- (b) a party stopped (SIGSTOP) for a while after it reports a phase ---
delay_case() { # mode kind seconds phase
    local mode=$1 kind=$2 seconds=$3 phase=$4 party=2
    begin_case "delay-$mode-$kind" "$mode"
    [[ "$CASE" =~ $FILTER ]] || return 0
    start_aggregator 1 a || { verdict 1 "aggregator"; finish_parties; return; }
    for i in 1 2 3; do if [ "$i" = "$party" ]; then start_party "$i" --stop-after "$phase"; else start_party "$i"; fi; done
    if ! wait_stopped "${PARTY_PID[$party]}" 90; then
        finish_parties; verdict 1 "party $party never reported phase $phase"; return
    fi
    sleep "$seconds"; kill -CONT "${PARTY_PID[$party]}"
    wait_pid "$AGG_PID" $(( JOIN_TIMEOUT + 6 * PHASE_TIMEOUT + 30 )) || echo "        (aggregator still running)"
    wait_for "$CDIR/party-$party.out" '"event":"(reconnecting|released)"' 20 >/dev/null
    for i in 1 3; do wait_pid "${PARTY_PID[$i]}" 10; done
    finish_parties
    local out; out=$(check "case=delay-$kind" "mode=$mode" "party=$party" "phase=$phase"); verdict $? "$out"
}

# --- (c) the aggregator SIGKILLed when it enters a phase, then restarted ---
kill_case() { # mode phase
    local mode=$1 phase=$2
    begin_case "kill-$mode-$phase" "$mode"
    [[ "$CASE" =~ $FILTER ]] || return 0
    # The aggregator stops itself when the round enters the phase (hidden --stop-at; for join:
    # when the first party joined), and is killed there.
    start_aggregator 1 a --stop-at "$phase" || { verdict 1 "aggregator"; finish_parties; return; }
    for i in 1 2 3; do start_party "$i"; done
    if ! wait_stopped "$AGG_PID" 90; then
        finish_parties; verdict 1 "the aggregator never reached $phase"; return
    fi
    kill -KILL "$AGG_PID"; wait "$AGG_PID" 2>/dev/null
    start_aggregator 1 b || { finish_parties; verdict 1 "the restarted aggregator did not start"; return; }
    wait_pid "$AGG_PID" $(( JOIN_TIMEOUT + 6 * PHASE_TIMEOUT + 30 )) || echo "        (restarted aggregator still running)"
    for i in 1 2 3; do wait_pid "${PARTY_PID[$i]}" 15; done
    finish_parties
    local out; out=$(check "case=kill" "mode=$mode" "phase=$phase"); verdict $? "$out"
}

echo "netns-harness: (a) each party cut off after each phase it reports"
for mode in paillier secagg; do
    if [ $mode = paillier ]; then phases="join contribute decrypt"; else phases="join advertise share contribute check unmask"; fi
    for party in 1 2 3; do for phase in $phases; do cut_case $mode $party $phase; done; done
done
echo "netns-harness: (b) a party delayed (SIGSTOP) below and above the phase timeout"
delay_case paillier short 2 contribute
delay_case paillier long $(( PAILLIER_TIMEOUT + 5 )) contribute
delay_case secagg short 2 share
delay_case secagg long $(( SECAGG_TIMEOUT + 5 )) share
echo "netns-harness: (c) the aggregator killed when it enters each phase, then restarted"
for phase in join contribute decrypt; do kill_case paillier $phase; done
for phase in join advertise share contribute check unmask; do kill_case secagg $phase; done

if [ $((PASSED + FAILED)) -eq 0 ]; then
    echo "netns-harness: no case matches the filter '$FILTER'" >&2
    exit 2
fi
echo "netns-harness: $PASSED passed, $FAILED failed in $(( $(date +%s) - START )) s${FAILURES:+ (failed: ${FAILURES[*]})}"
[ "$FAILED" -eq 0 ]
