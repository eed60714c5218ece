#!/usr/bin/env bash
# The Spark integration's tests (Integrations/spark/tests, pytest) in Spark local[2]: the job's
# output against `fedshare attention` (same bytes) on the marketplace example's data and on a
# generated file of 1,000,000 rows, the per-user bound, and bad input. Usage:
# scripts/spark-tests.sh [FEDSHARE]. Java 17 and the PySpark environment come from
# scripts/setup-spark.sh; when they cannot be had, this exits 77 (skipped, loudly) outside CI
# and fails under CI=true.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
fedshare="${1:-$root/.build/debug/fedshare}"
[ -x "$fedshare" ] || { echo "spark tests: no fedshare binary at $fedshare (build first: swift build)" >&2; exit 2; }
status=0
venv="$("$root/scripts/setup-spark.sh")" || status=$?
[ "$status" -eq 0 ] || exit "$status"
cd "$root"
FEDSHARE="$fedshare" PYSPARK_PYTHON="$venv/bin/python" exec "$venv/bin/python" -m pytest -q -p no:cacheprovider Integrations/spark/tests
