#!/usr/bin/env bash
# Installs what the Spark integration (Integrations/spark) needs: Java 17 (Debian's
# openjdk-17-jre-headless, through scripts/setup-system.sh, when no Java 17 or later is on PATH)
# and a virtual environment, $SPARK_VENV (default .build-venv/spark), with PySpark, pytest and numpy
# (for the tests' generated data) from PyPI. The environment is reused while its stamp matches the pinned requirements.
# Exit status: 0 ready; 77 when it cannot be made outside CI (nothing installed, loudly);
# 1 under CI=true (a check that cannot run is a failure there).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cannot_run() {
    case "${CI:-}" in
        true|1|yes) echo "setup-spark: FAILED: cannot run under CI=true: $*" >&2; exit 1 ;;
    esac
    echo "setup-spark: SKIPPED (the Spark checks cannot run; under CI=true this fails): $*" >&2
    exit 77
}

java_major() { java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1; }
if ! command -v java >/dev/null || [ "$(java_major)" -lt 17 ] 2>/dev/null; then
    "$root/scripts/setup-system.sh" openjdk-17-jre-headless python3 python3-venv >&2 \
        || cannot_run "could not install openjdk-17-jre-headless"
fi
command -v java >/dev/null || cannot_run "java is not on PATH after installing openjdk-17-jre-headless"

requirements=("pyspark==3.5.3" "pytest==8.3.4" "numpy==1.26.4")
venv="${SPARK_VENV:-$root/.build-venv/spark}"
stamp="$venv/.fedshare-ready"
if [ "$(cat "$stamp" 2>/dev/null)" != "${requirements[*]}" ]; then
    log="$(mktemp)"; trap 'rm -f "$log"' EXIT
    rm -rf "$venv"
    python3 -m venv "$venv" >"$log" 2>&1 || {
        rm -rf "$venv"; cannot_run "python3 -m venv failed (install python3-venv): $(grep -v '^$' "$log" | tail -1)"
    }
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${requirements[@]}" >"$log" 2>&1 || {
        rm -rf "$venv"; cannot_run "pip could not install ${requirements[*]} from PyPI into $venv: $(grep -v '^$' "$log" | tail -1)"
    }
    echo "${requirements[*]}" >"$stamp"
fi
echo "$venv"
