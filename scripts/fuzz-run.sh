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
#
# FUZZ_JOBS=N (default 1) runs N fuzzer processes side by side on the
# same corpus (libFuzzer's -jobs; each reloads what the others found),
# one per core: their logs are build/fuzz/NAME/fuzz-*.log, executions and
# exec/s are summed, and the coverage printed is that of the merged corpus.
# FUZZ_RUNS=N stops each job after N executions (libFuzzer's -runs), or
# at SECONDS, whichever comes first.
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
# checking stays on (libFuzzer checks inputs that allocate more than they
# free, until 1000 such checks found nothing; LSan checks again at exit).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}"

jobs=${FUZZ_JOBS:-1}
# absolute, because the jobs run in $out
bin=$(realpath "$bin")
[ ${#seeds[@]} -eq 0 ] || mapfile -t seeds < <(realpath "${seeds[@]}")
run=("$bin" "${args[@]}" -max_total_time="$seconds" ${FUZZ_RUNS:+-runs="$FUZZ_RUNS"}
     -print_final_stats=1
     -artifact_prefix="$out/" "$out/corpus" "${seeds[@]}")
echo "fuzz-run: $name for ${seconds}s, $jobs job(s); log in ${log#"$top"/}"
if [ "$jobs" -gt 1 ]; then
    rm -f "$out"/fuzz-*.log
    # libFuzzer writes job N's output to fuzz-N.log in the current directory
    (cd "$out" && "${run[@]}" -jobs="$jobs" -workers="$jobs") > "$log" 2>&1
    rc=$?
    logs=("$out"/fuzz-*.log)
else
    "${run[@]}" > "$log" 2>&1
    rc=$?
    logs=("$log")
fi

sum() { awk '{ n += $1 } END { if (NR) print n }'; }
execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "${logs[@]}" | sum)
rate=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "${logs[@]}" | sum)
if [ "$jobs" -gt 1 ] && [ $rc -eq 0 ]; then
    # One pass over the merged corpus: the coverage all jobs reached together
    "$bin" "${args[@]}" -runs=0 "$out/corpus" "${seeds[@]}" > "$out/merged.log" 2>&1
    last=$(grep -E '^#[0-9]+[[:space:]]+INITED' "$out/merged.log" | tail -1)
else
    # libFuzzer's status lines: "#1234  NEW    cov: 567 ft: 890 corp: 12/3Kb ..."
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
fi
cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<< "$last")
ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<< "$last")
corp=$(sed -nE 's/.* corp: ([0-9]+)\/.*/\1/p' <<< "$last")
echo "fuzz-run: $name: ${execs:-?} executions, ${rate:-?} exec/s," \
     "cov ${cov:-?} ft ${ft:-?}, corpus ${corp:-?} inputs"
if [ $rc -ne 0 ]; then
    echo "fuzz-run: $name FAILED (exit $rc); the end of the log:" >&2
    tail -n 40 "${logs[@]}" >&2
    ls "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-* 2>/dev/null >&2
    exit 1
fi
[ -n "$execs" ] || { echo "fuzz-run: $name did not report its statistics" >&2; exit 1; }
