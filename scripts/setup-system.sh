#!/usr/bin/env bash
# Installs the Debian packages fedshare builds against (GMP, OpenSSL, SQLite, OpenBLAS), and those its checks need (iproute2 for
# the network-namespace harness; python3 and python3-venv for the harness's ledger checks and
# the pheutil interop's virtual environment; python3-numpy for the marketplace example's
# generator), when they are missing. Never prompts. Arguments replace the default package list.
set -euo pipefail
packages=("$@")
[ ${#packages[@]} -gt 0 ] || packages=(libgmp-dev libssl-dev libsqlite3-dev libopenblas-dev iproute2 python3 python3-venv)
need=()
for package in "${packages[@]}"; do
    # Installed, not merely known to dpkg (a removed package keeps "deinstall ... config-files").
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || need+=("$package")
done
# numpy for Examples/marketplace/generate.py (`simulate --example marketplace` and its test),
# unless the python3 on PATH already has it (a pyenv or venv python, for instance).
if ! python3 -c 'import numpy' 2>/dev/null; then need+=(python3-numpy); fi
if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]}" >&2
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}" >/dev/null
fi
