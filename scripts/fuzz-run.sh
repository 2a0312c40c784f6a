#!/usr/bin/env bash
# Runs one libFuzzer binary for a fixed time and prints one summary line:
# executions, executions per second, coverage (libFuzzer's cov: edges and
# ft: features) and the corpus size.  Exit status non-zero if the fuzzer
# found a crash, a leak or a timeout, or did not run.
#
#   scripts/fuzz-run.sh NAME SECONDS BINARY [ARGS...] -- SEED-DIR...
#
# New inputs go to build/fuzz/NAME/corpus (kept between runs, so a second
# run starts where the first stopped); the seed directories are read only.
# A crashing input is saved as build/fuzz/NAME/crash-*, leak-* or
# timeout-*; the full log is build/fuzz/NAME/log.
set -uo pipefail

[ $# -ge 4 ] || { echo "usage: $0 NAME SECONDS BINARY [ARGS...] -- SEED-DIR..." >&2; exit 2; }
name=$1 seconds=$2 bin=$3
shift 3
args=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
    args+=("$1")
    shift
done
[ "${1:-}" = -- ] && shift
seeds=("$@")

top=$(cd "$(dirname "$0")/.." && pwd)
out="$top/build/fuzz/$name"
mkdir -p "$out/corpus"
log="$out/log"
[ -x "$bin" ] || { echo "fuzz-run: $bin is not built" >&2; exit 1; }

# Any sanitizer report is a finding: stop at the first one, and leak
# checking stays on (libFuzzer checks for leaks after each new input).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}"

echo "fuzz-run: $name for ${seconds}s; log in ${log#"$top"/}"
"$bin" "${args[@]}" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$out/" "$out/corpus" "${seeds[@]}" > "$log" 2>&1
rc=$?

# libFuzzer's status lines: "#1234  NEW    cov: 567 ft: 890 corp: 12/3Kb ..."
last=$(grep -E '^#[0-9]+' "$log" | tail -1)
cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<< "$last")
ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<< "$last")
corp=$(sed -nE 's/.* corp: ([0-9]+)\/.*/\1/p' <<< "$last")
execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log")
rate=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "$log")
echo "fuzz-run: $name: ${execs:-?} executions, ${rate:-?} exec/s," \
     "cov ${cov:-?} ft ${ft:-?}, corpus ${corp:-?} inputs"
if [ $rc -ne 0 ]; then
    echo "fuzz-run: $name FAILED (exit $rc); the end of the log:" >&2
    tail -40 "$log" >&2
    ls "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-* 2>/dev/null >&2
    exit 1
fi
[ -n "$execs" ] || { echo "fuzz-run: $name did not report its statistics" >&2; exit 1; }
