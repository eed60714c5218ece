#!/usr/bin/env bash
# Interoperability both ways between `fedshare paillier` and python-paillier's `pheutil`
# (pip package `phe`): keys and ciphertexts made by each tool are used by the other, and both
# must print the same decrypted values. Usage: Tests/TestVectors/pheutil_interop.sh [FEDSHARE]
set -euo pipefail
fedshare="${1:-.build/debug/fedshare}"
command -v pheutil >/dev/null || { echo "pheutil not found (pip install phe click)"; exit 2; }
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
failures=0; checks=0
check() { # description expected actual
    checks=$((checks + 1))
    if [ "$2" != "$3" ]; then echo "FAIL $1: expected '$2', got '$3'"; failures=$((failures + 1)); fi
}
for maker in fedshare pheutil; do
    other=$([ "$maker" = fedshare ] && echo pheutil || echo fedshare)
    tool() { if [ "$1" = fedshare ]; then shift; "$fedshare" paillier "$@"; else shift; pheutil "$@" 2>/dev/null; fi; }
    d="$work/$maker"; mkdir -p "$d"
    tool "$maker" genpkey --keysize 2048 "$d/priv.json"
    tool "$other" extract "$d/priv.json" "$d/pub.json"
    tool "$maker" encrypt --output "$d/a.json" "$d/pub.json" 3.5
    tool "$other" encrypt --output "$d/b.json" "$d/pub.json" -- -1.25
    tool "$maker" addenc --output "$d/s.json" "$d/pub.json" "$d/a.json" "$d/b.json"
    tool "$other" add --output "$d/t.json" "$d/pub.json" "$d/s.json" 0.1
    tool "$maker" multiply --output "$d/m.json" "$d/pub.json" "$d/t.json" -- -3
    for f in a b s t m; do
        ours=$(tool fedshare decrypt "$d/priv.json" "$d/$f.json")
        theirs=$(tool pheutil decrypt "$d/priv.json" "$d/$f.json")
        check "key by $maker, $f.json decrypted by both" "$theirs" "$ours"
    done
    check "key by $maker, final value" "-7.05" "$(tool "$other" decrypt "$d/priv.json" "$d/m.json")"
done
echo "pheutil interop: $((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
