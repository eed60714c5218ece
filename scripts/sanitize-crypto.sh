#!/usr/bin/env bash
# Builds the cryptographic core (Arithmetic, Primitives, Paillier) optimised (-O) with
# AddressSanitizer and runs Tests/Sanitizer/main.swift. A release-only memory bug (ciphertexts
# over-released by a partial decryption) was found this way; `swift test` runs debug builds.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${TMPDIR:-/tmp}/fedshare-sanitize-$$"
mkdir -p "$out"
trap 'rm -rf "$out"' EXIT
c=(-Xcc -fmodule-map-file=Sources/CGMP/module.modulemap -Xcc -fmodule-map-file=Sources/COpenSSL/module.modulemap
   -I Sources/CGMP -I Sources/COpenSSL -I "$out")
for module in Arithmetic Primitives Paillier; do
    swiftc -O -g -sanitize=address -wmo -parse-as-library -swift-version 6 -module-name "$module" \
        -emit-module -emit-module-path "$out/$module.swiftmodule" -c -o "$out/$module.o" "${c[@]}" Sources/"$module"/*.swift
done
swiftc -O -g -sanitize=address -parse-as-library -swift-version 6 "${c[@]}" Tests/Sanitizer/main.swift \
    "$out"/Arithmetic.o "$out"/Primitives.o "$out"/Paillier.o -lgmp -lcrypto -o "$out/sanitize-crypto"
"$out/sanitize-crypto"
