#!/usr/bin/env bash
# Benchmark (not a test): one world's local attention over RECORDS records (default 10,000,000,
# the marketplace example's shape: d = 32, h = 16, M = 64, G = 16, at most 10 records per
# shopper) by `fedshare attention` and by the Spark job (Integrations/spark) in local[1] and
# local[2], on the same file, same machine, same run; plus the per-partition overhead (one
# fedshare process: start and manifest load, no records) and Spark's fixed cost (a 1,000-record
# job). Usage: scripts/bench-spark.sh [RECORDS] [FOLDER]. Needs the release build
# (swift build -c release --product fedshare) and scripts/setup-spark.sh.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
records="${1:-10000000}"
folder="${2:-/tmp/fedshare-bench-spark}"
fedshare="$root/.build/release/fedshare"
[ -x "$fedshare" ] || { echo "bench-spark: build first: swift build -c release --product fedshare" >&2; exit 2; }
venv="$("$root/scripts/setup-spark.sh")"
python="$venv/bin/python"
export PYSPARK_PYTHON="$python" PYSPARK_SUBMIT_ARGS="--driver-memory 6g pyspark-shell"
mkdir -p "$folder"
data="$folder/records-$records.csv"
if [ ! -f "$data" ]; then
    per=$(( records / 4 ))
    "$python" "$root/Examples/marketplace/generate.py" --records "$per" --worlds 4 --out "$folder/gen"
    { head -1 "$folder/gen/world-1.csv"; for w in 1 2 3 4; do tail -n +2 "$folder/gen/world-$w.csv"; done; } >"$data.tmp"
    mv "$data.tmp" "$data"
    cp "$root/Examples/marketplace/manifest.toml" "$folder/gen/anchors.csv" "$folder/gen/encoder.csv" "$folder/"
    rm -f "$folder"/gen/world-*.csv
fi
manifest="$folder/manifest.toml"
n=$(( $(wc -l <"$data") - 1 ))
echo "data: $data ($n records, $(du -h "$data" | cut -f1)); cores: $(nproc)"
seconds() { local start end; start=$(date +%s.%N); "$@" >/dev/null; end=$(date +%s.%N); echo "$end - $start" | bc; }
rate() { echo "scale=0; $n / $1" | bc; }

t=$(seconds "$fedshare" attention --manifest "$manifest" --data "$data" --out "$folder/local.csv" --counts "$folder/local-counts.csv")
echo "fedshare attention:              $t s, $(rate "$t") records/s"
for cores in 1 2; do
    t=$(seconds "$python" "$root/Integrations/spark/fedshare_spark.py" --master "local[$cores]" --manifest "$manifest" \
        --input "$data" --out "$folder/spark-$cores" --fedshare "$fedshare")
    echo "Spark local[$cores] (whole job):   $t s, $(rate "$t") records/s"
done

# One partition's fixed cost: a fedshare process that loads the manifest and reads a header.
header="$(head -1 "$data")"
start=$(date +%s.%N)
for _ in $(seq 20); do echo "$header" | "$fedshare" attention --manifest "$manifest" --data - --partial-out - >/dev/null; done
end=$(date +%s.%N)
echo "per partition (process start + manifest load): $(echo "scale=4; ($end - $start) / 20" | bc) s"
head -1001 "$data" >"$folder/small.csv"
t=$(seconds "$python" "$root/Integrations/spark/fedshare_spark.py" --master "local[2]" --manifest "$manifest" \
    --input "$folder/small.csv" --out "$folder/spark-small" --fedshare "$fedshare")
echo "Spark fixed cost (1,000 records, local[2]): $t s"
