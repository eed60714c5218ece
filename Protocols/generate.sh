#!/usr/bin/env bash
# Regenerates Sources/FederationProtocol/Generated/ from Protocols/fedshare/v1/*.proto.
# Needs protoc (Debian: protobuf-compiler). Builds the Swift plugins from Protocols/tools when
# they are not given through PROTOC_GEN_SWIFT / PROTOC_GEN_GRPC_SWIFT.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/Protocols/tools"
swift_plugin="${PROTOC_GEN_SWIFT:-$tools/.build/release/protoc-gen-swift}"
grpc_plugin="${PROTOC_GEN_GRPC_SWIFT:-$tools/.build/release/protoc-gen-grpc-swift-2}"
if [[ ! -x "$swift_plugin" || ! -x "$grpc_plugin" ]]; then
  echo "building protoc plugins in $tools (once)…" >&2
  (cd "$tools" && swift build -c release --product protoc-gen-swift && swift build -c release --product protoc-gen-grpc-swift-2)
fi
command -v protoc >/dev/null || { echo "protoc not found: apt-get install protobuf-compiler" >&2; exit 1; }
out="$root/Sources/FederationProtocol/Generated"
mkdir -p "$out"
rm -f "$out"/*.swift
protoc --proto_path="$root/Protocols" \
  --plugin=protoc-gen-swift="$swift_plugin" --swift_out="$out" --swift_opt=Visibility=Public \
  --plugin=protoc-gen-grpc-swift="$grpc_plugin" --grpc-swift_out="$out" \
  --grpc-swift_opt=Visibility=Public,Server=true,Client=true \
  "$root/Protocols/fedshare/v1/federation.proto"
# protoc keeps the package path; flatten it.
if [[ -d "$out/fedshare" ]]; then
  find "$out/fedshare" -name '*.swift' -exec mv {} "$out/" \;
  rm -rf "$out/fedshare"
fi
echo "generated: $(ls "$out")"
