#!/usr/bin/env bash
# Empirical privacy audit (Papers/privacy.md §7): releases of neighbouring datasets (one user
# removed) through fedshare's own noise path, a Clopper–Pearson lower bound on ε from a
# distinguishing test, compared with the ε fedshare claims. Exits non-zero if the bound exceeds
# the claim, or if anything needed cannot be set up or built (nothing is skipped).
#
#   scripts/privacy-audit.sh                 # CI size: 50 000 releases per dataset, Gaussian and Laplace
#   scripts/privacy-audit.sh --releases 200000 --mechanism gaussian   # a longer run
#
# Arguments are passed to Papers/scripts/privacy_audit.py (see its --help). The audit needs only
# Python's standard library; the debug fedshare binary is built (a no-op after `swift build`).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/setup-system.sh
command -v python3 >/dev/null || { echo "privacy-audit: python3 is missing after scripts/setup-system.sh" >&2; exit 1; }
swift build --product fedshare >&2
binary="$(swift build --show-bin-path)/fedshare"
[ -x "$binary" ] || { echo "privacy-audit: no fedshare binary at $binary" >&2; exit 1; }
if [ $# -eq 0 ]; then
    set -- --releases 50000 --mechanism gaussian --mechanism laplace
fi
start=$SECONDS
python3 Papers/scripts/privacy_audit.py --fedshare "$binary" "$@"
echo "privacy-audit: passed in $((SECONDS - start)) s"
