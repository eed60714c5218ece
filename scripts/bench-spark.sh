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
    # The marketplace's manifest, anchors and encoder; records of its shape (vectorised here:
    # generate.py's shopper loop is quadratic in the number of shoppers).
    cp "$root/Examples/marketplace/manifest.toml" "$root/Examples/marketplace/anchors.csv" \
       "$root/Examples/marketplace/encoder.csv" "$folder/"
    "$python" - "$records" "$data.tmp" <<'PY'
import sys
import numpy as np
records, path = int(sys.argv[1]), sys.argv[2]
rng = np.random.default_rng(15)
segments = [f"{a}-{r}" for a in ("teen", "young", "adult", "senior") for r in ("americas", "europe", "asia", "oceania")]
sizes = rng.geometric(0.2, size=records // 4)                      # records per shopper, mean 5
users = np.repeat(np.arange(sizes.size), sizes)[:records]
users = users[rng.permutation(users.size)]
segment = rng.integers(0, 16, size=sizes.size)[users]
with open(path, "w") as f:
    f.write("shopper,segment," + ",".join(f"x{j + 1}" for j in range(32)) + "\n")
    for start in range(0, users.size, 500_000):
        stop = min(users.size, start + 500_000)
        x = rng.normal(size=(stop - start, 32)) + segment[start:stop, None] % 4 - 1.5
        body = np.char.add(np.char.add(np.char.add("s", users[start:stop].astype(str)), ","), np.array(segments)[segment[start:stop]])
        numbers = np.char.mod("%.5f", x)
        lines = [b + "," + ",".join(n) for b, n in zip(body, numbers)]
        f.write("\n".join(lines) + "\n")
PY
    mv "$data.tmp" "$data"
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
