#!/usr/bin/env bash
# format.sh [--check]: formats our Swift with `swift format` and the repository's .swift-format
# (the generated protobuf code and round messages under */Generated/ are left as generated).
# --check changes nothing and fails on the first file that is not formatted (CI's format stage).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files -co --exclude-standard -- Package.swift 'Sources/*.swift' 'Tests/*.swift' | grep -v '/Generated/')
if [ "${1:-}" = --check ]; then
    swift format lint --strict --parallel "${files[@]}"
    echo "format.sh: ${#files[@]} files formatted as .swift-format says"
else
    swift format --in-place --parallel "${files[@]}"
fi
