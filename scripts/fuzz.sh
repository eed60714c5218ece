#!/usr/bin/env bash
# Fuzzes every decoder of untrusted bytes with libFuzzer (issue 8; Papers/reliability.md, "Fuzzing").
#
#   scripts/fuzz.sh [seconds-per-target] [target ...]     (default: 60 s, every target)
#   scripts/fuzz.sh --build-only                          (the build alone; .ci/run times it apart)
#
# Builds the `fedshare-fuzz` harness (Tests/Fuzz/Harness) with FEDSHARE_FUZZ=1 into .build-fuzz,
# so the normal .build is untouched; our modules get -sanitize=fuzzer,address, dependencies stay
# uninstrumented. Each target first replays its regressions (Tests/Fuzz/Regressions/<target>),
# then fuzzes a scratch copy of its seed corpus (Tests/Fuzz/Corpus/<target>, never modified).
# FUZZ_JOBS targets run at once (default 2). Exits non-zero on any crash, leak, timeout or
# out-of-memory, naming the input that caused it, and whenever nothing could be fuzzed: a failed
# build (never a stale binary from an earlier one), no targets, or a corpus folder without its
# target. FUZZ_SCRATCH (default .build-fuzz) is the build folder. Reproduce one with
#   FEDSHARE_FUZZ_TARGET=<target> .build-fuzz/debug/fedshare-fuzz <input>
set -euo pipefail
cd "$(dirname "$0")/.."

build_only=false
if [ "${1:-}" = --build-only ]; then build_only=true; shift; fi
seconds="${1:-60}"
shift || true
[[ "$seconds" =~ ^[0-9]+$ ]] && [ "$seconds" -gt 0 ] || { echo "fuzz.sh: seconds per target must be a positive integer, not '$seconds'" >&2; exit 2; }
jobs="${FUZZ_JOBS:-2}"
scratch="${FUZZ_SCRATCH:-.build-fuzz}"
export FEDSHARE_FUZZ=1

started=$(date +%s)
# Third-party C++ (toml++ inside TOMLKit) is built as in release (NDEBUG): its debug assertions
# abort on malformed TOML that release builds report as syntax errors. The build's own status
# decides: a binary left by an earlier build must not pass for this one.
set +e
swift build --scratch-path "$scratch" --product fedshare-fuzz -Xcxx -DNDEBUG 2>&1 | grep -v "Cannot export local symbol"
build_status=${PIPESTATUS[0]}
set -e
binary="$scratch/debug/fedshare-fuzz"
if [ "$build_status" -ne 0 ]; then echo "fuzz.sh: FAILED: the fuzz build failed (swift build exit $build_status)" >&2; exit 1; fi
[ -x "$binary" ] || { echo "fuzz.sh: FAILED: the fuzz build made no $binary" >&2; exit 1; }
echo "fuzz.sh: build took $(( $(date +%s) - started )) s"
$build_only && exit 0

# Every target the harness knows, each with its corpus; every corpus with its target.
list_status=0
known=$("$binary" --list) || list_status=$?
[ "$list_status" -eq 0 ] || { echo "fuzz.sh: FAILED: $binary --list exited $list_status" >&2; exit 1; }
mapfile -t known_targets < <(printf '%s\n' "$known" | sed '/^$/d')
[ ${#known_targets[@]} -gt 0 ] || { echo "fuzz.sh: FAILED: zero fuzz targets ($binary --list printed none)" >&2; exit 1; }
declare -A known_set=()
for target in "${known_targets[@]}"; do known_set["$target"]=1; done
for corpus in Tests/Fuzz/Corpus/*/; do
    name=$(basename "$corpus")
    [ -n "${known_set[$name]:-}" ] \
        || { echo "fuzz.sh: FAILED: corpus $corpus has no target in $binary --list (renamed or dropped?)" >&2; exit 1; }
done
if [ $# -gt 0 ]; then
    targets=("$@")
    for target in "${targets[@]}"; do
        [ -n "${known_set[$target]:-}" ] \
            || { echo "fuzz.sh: unknown target '$target' (known: ${known_targets[*]})" >&2; exit 2; }
    done
else
    targets=("${known_targets[@]}")
fi
for target in "${targets[@]}"; do
    [ -d "Tests/Fuzz/Corpus/$target" ] || { echo "fuzz.sh: FAILED: target '$target' has no corpus (Tests/Fuzz/Corpus/$target)" >&2; exit 1; }
done

# Swift's own crash backtracer would hold a crashing process for seconds; libFuzzer reports.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:handle_abort=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$(pwd)/Tests/Fuzz/lsan-suppressions.txt:print_suppressions=0}"

case "$scratch" in /*) ;; *) scratch="$(pwd)/$scratch" ;; esac
run="$scratch/runs/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$run"

fuzz_one() {
    local target="$1" dir="$run/$1"
    mkdir -p "$dir/corpus" "$dir/crashes"
    cp -R "Tests/Fuzz/Corpus/$target/." "$dir/corpus/" 2>/dev/null || true
    local status=0
    if compgen -G "Tests/Fuzz/Regressions/$target/*" >/dev/null; then
        FEDSHARE_FUZZ_TARGET="$target" "$binary" -timeout=10 -rss_limit_mb=2048 \
            Tests/Fuzz/Regressions/"$target"/* >"$dir/regressions.log" 2>&1 || status=$?
        if [ $status -ne 0 ]; then echo $status >"$dir/status"; return; fi
    fi
    FEDSHARE_FUZZ_TARGET="$target" "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$dir/crashes/" "$dir/corpus" >"$dir/fuzz.log" 2>&1 || status=$?
    echo $status >"$dir/status"
}

running=0
for target in "${targets[@]}"; do
    [ -d "Tests/Fuzz/Corpus/$target" ] || { echo "fuzz.sh: no corpus for target '$target'" >&2; exit 2; }
    fuzz_one "$target" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); fi
done
wait || true

failed=0
printf '%-28s %10s %12s %8s  %s\n' target "exec/s" executions corpus result
for target in "${targets[@]}"; do
    dir="$run/$target"
    status=$(cat "$dir/status" 2>/dev/null || echo 99)
    log="$dir/fuzz.log"; [ -f "$log" ] || log="$dir/regressions.log"
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    units=$(find "$dir/corpus" -type f | wc -l)
    if [ "$status" = 0 ]; then
        printf '%-28s %10s %12s %8s  %s\n' "$target" "${speed:-?}" "${execs:-?}" "$units" ok
    else
        failed=1
        artifact=$(ls "$dir"/crashes/* 2>/dev/null | head -1 || true)
        printf '%-28s %10s %12s %8s  %s\n' "$target" "${speed:-?}" "${execs:-?}" "$units" "FAILED (exit $status)"
        echo "---- $target: $(grep -m1 -E 'ERROR: |SUMMARY: |invariant broken|Fatal error|deadly signal' "$log" || tail -1 "$log")"
        grep -m3 -E 'Fatal error|invariant broken|ERROR: libFuzzer|ERROR: AddressSanitizer|ERROR: LeakSanitizer' "$log" | sed 's/^/     /' || true
        [ -n "$artifact" ] && echo "     input: $artifact" || echo "     log: $log"
        [ -n "$artifact" ] && echo "     reproduce: FEDSHARE_FUZZ_TARGET=$target $binary $artifact"
    fi
done
echo "fuzz.sh: ${#targets[@]} targets, ${seconds} s each, $(( $(date +%s) - started )) s in all; logs in $run"
exit $failed
