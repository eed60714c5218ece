#!/usr/bin/env bash
# Benchmark (not a test): the latency of an analyst's request against a serving federation, in
# separate processes over loopback gRPC with mutual TLS, per phase: the aggregator --serve, three
# parties --serve with their catalogs, and `fedshare request` with several filters, at two sizes:
#   three-worlds   the bundled example (10 records and 5 catalog entries per world, Paillier 3072);
#   3 x RECORDS    the marketplace's shape (d = 32, h = 16, M = 64, G = 16; default 100,000
#                  records and 100,000 catalog entries per world), each record about one catalog
#                  entry of its world, in MODE (default secagg, the marketplace's; or paillier).
# Prints one JSON object per request (wall time, the aggregator's seconds per phase, the records
# released, noisy). Usage: scripts/bench-service.sh [RECORDS] [MODE] [FOLDER]. Needs the release
# build (swift build -c release --product fedshare) and numpy (scripts/setup-system.sh).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
records="${1:-100000}"
mode="${2:-secagg}"
folder="${3:-/tmp/fedshare-bench-service}"
fedshare="$root/.build/release/fedshare"
[ -x "$fedshare" ] || { echo "bench-service: build first: swift build -c release --product fedshare" >&2; exit 2; }
rm -rf "$folder"
mkdir -p "$folder"
pids=()
trap 'for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done' EXIT

# serve NAME FEDERATION_FOLDER PORT: provision, import the catalogs, start the aggregator and
# the three parties, and wait until all three wait for a round.
serve() {
    local name="$1" fed="$2" port="$3"
    "$fedshare" provision --manifest "$fed/manifest.toml" --out "$fed/kits" > /dev/null
    for party in 1 2 3; do
        "$fedshare" catalog import --catalog "$fed/catalog-$party.sqlite" "$fed"/catalog/world-$party.* > /dev/null
    done
    "$fedshare" aggregator --kit "$fed/kits/aggregator" --listen "127.0.0.1:$port" --serve --out "$fed/rounds" \
        --join-timeout 30 --phase-timeout 300 --log-level error > "$fed/aggregator.out" 2> "$fed/aggregator.err" &
    pids+=($!)
    sleep 1
    for party in 1 2 3; do
        "$fedshare" party --id "$party" --kit "$fed/kits/party-$party" --data "$fed/world-$party.csv" \
            --catalog "$fed/catalog-$party.sqlite" --aggregator "127.0.0.1:$port" --serve --json --log-level error \
            > "$fed/party-$party.out" 2> "$fed/party-$party.err" &
        pids+=($!)
    done
    for _ in $(seq 1 240); do
        local connected
        connected=$("$fedshare" status --kit "$fed/kits/aggregator" --aggregator "127.0.0.1:$port" --json 2>/dev/null \
            | python3 -c 'import json,sys; print(len(json.load(sys.stdin).get("connected", [])))' 2>/dev/null || echo 0)
        [ "$connected" = 3 ] && return 0
        sleep 0.5
    done
    echo "bench-service: $name: the parties never all connected" >&2
    exit 1
}

# request NAME FEDERATION_FOLDER PORT FILTERS…: one request, timed; prints its JSON line.
request() {
    local name="$1" fed="$2" port="$3"
    shift 3
    local out="$fed/request-$RANDOM$RANDOM"
    local start end
    start=$(date +%s.%N)
    "$fedshare" request --kit "$fed/kits/analyst-bench" --aggregator "127.0.0.1:$port" --out "$out" --json "$@" > "$out.json"
    end=$(date +%s.%N)
    python3 - "$name" "$fed" "$out" "$start" "$end" "$*" <<'PY'
import glob, json, os, sys
name, fed, out, start, end, filters = sys.argv[1:]
summary = json.load(open(os.path.join(out, "result.json")))
rounds = sorted(glob.glob(os.path.join(fed, "rounds", "round-*", "result.json")), key=os.path.getmtime)
phases = json.load(open(rounds[-1])).get("phaseSeconds", {})
counts = [float(line.split(",")[1]) for line in open(os.path.join(out, "counts-raw.csv")).read().splitlines()[1:]]
print(json.dumps({"federation": name, "filters": filters or "(none: every record)", "wall_s": round(float(end) - float(start), 3),
                  "records_released": round(sum(counts)),
                  "phases_s": {k: round(v, 3) for k, v in phases.items()}, "contributors": summary["partiesContributed"],
                  "epsilon": summary["privacyCost"]["epsilon"]}))
PY
}

# The bundled example, as it ships (Paillier, 3072-bit key).
small="$folder/three-worlds"
mkdir -p "$small"
cp -r "$root/Examples/three-worlds/"{anchors.csv,world-1.csv,world-2.csv,world-3.csv,catalog} "$small/"
{ cat "$root/Examples/three-worlds/manifest.toml"; printf '\n[analysts]\nnames = ["bench"]\n'; } > "$small/manifest.toml"
serve three-worlds "$small" 7471
request three-worlds "$small" 7471
request three-worlds "$small" 7471 --where kind=event --from 2025-12-01T00:00:00Z --to 2025-12-31T23:59:59Z
request three-worlds "$small" 7471 --text music
request three-worlds "$small" 7471 --near 0,0 --radius 40

# The marketplace's shape at 3 x RECORDS, each record about one of its world's catalog entries.
large="$folder/marketplace"
python3 "$root/Examples/marketplace/generate.py" --records "$records" --worlds 3 --catalog "$records" --out "$large" > /dev/null
python3 - "$large" <<'PY'
import json, sys
import numpy as np
folder = sys.argv[1]
rng = np.random.default_rng(7)
for world in (1, 2, 3):
    ids = [json.loads(line)["id"] for line in open(f"{folder}/catalog/world-{world}.jsonl")]
    ids = [i for i in ids if not i.startswith("category-")]
    lines = open(f"{folder}/world-{world}.csv").read().splitlines()
    chosen = rng.integers(0, len(ids), size=len(lines) - 1)
    with open(f"{folder}/world-{world}.csv", "w") as f:
        f.write(lines[0] + ",item\n")
        f.write("\n".join(line + "," + ids[k] for line, k in zip(lines[1:], chosen)) + "\n")
PY
sed -e 's/^parties = .*/parties = [1, 2, 3]/' -e 's/^threshold = .*/threshold = 2/' \
    -e 's/^user_column = "shopper"/user_column = "shopper"\nitem_column = "item"/' \
    -e "s/^mode = .*/mode = \"$mode\"/" "$root/Examples/marketplace/manifest.toml" > "$large/manifest.toml"
# Parties publish only the 64 category entries to the directory (a publication must fit one
# 4 MiB message); each still evaluates requests on its whole catalog.
printf '\n[catalog]\nwhere = ["kind=category"]\n\n[analysts]\nnames = ["bench"]\n' >> "$large/manifest.toml"
serve marketplace "$large" 7472
request "marketplace 3x$records $mode" "$large" 7472
request "marketplace 3x$records $mode" "$large" 7472 --where kind=event --from 2025-06-01T00:00:00Z --to 2025-06-30T23:59:59Z
request "marketplace 3x$records $mode" "$large" 7472 --where category=category-07
request "marketplace 3x$records $mode" "$large" 7472 --text kalomi
request "marketplace 3x$records $mode" "$large" 7472 --within 0,0,5000,5000
