#!/usr/bin/env bash
# Benchmark of libsecpol-preload.so (not a test): what it adds per exec and per call.
#   bash bench/preload.sh [ROUNDS]
# Builds the installed preload (`--profile preload`, no_std) and the release tracer (or set
# SECPOL_PRELOAD to a library and SECPOL_BIN to the tracer's directory), then:
#   instructions  callgrind's count for /bin/true: plain, with an empty C preload (what
#                 any LD_PRELOAD costs), with this preload; exact and repeatable
#   exec          posix_spawn of /bin/true, wall clock: plain, with LD_PRELOAD
#   calls         an intercepted call (prctl(PR_SET_KEEPCAPS, 0); capset of the current
#                 sets) and a passed-through one (prctl(PR_GET_DUMPABLE)): plain, with the
#                 preload and no tracer, with the preload and a running tracer
#                 (secpoltrace --no-kernel)
# Wall-clock figures are the median of ROUNDS rounds, modes alternating. Results go in
# docs/preload.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${1:-5}"
BIN="${SECPOL_BIN:-target/release}"
[ -n "${SECPOL_PRELOAD:-}" ] || cargo build --profile preload -q -p secpol-preload
[ -n "${SECPOL_BIN:-}" ] || cargo build --release -q -p secpoltrace
SO="$(realpath "${SECPOL_PRELOAD:-target/preload/libsecpol_preload.so}")"
WORK="$(mktemp -d /tmp/secpol-bench-preload-XXXXXX)"
TRACER=""
cleanup() { [ -n "$TRACER" ] && kill "$TRACER" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
gcc -O2 -Wall -Wextra -o "$WORK/calls" bench/preload_calls.c
echo 'void secpol_bench_empty(void) {}' >"$WORK/empty.c"
gcc -shared -fPIC -O2 -o "$WORK/empty.so" "$WORK/empty.c"

instructions() {
    if command -v valgrind >/dev/null; then
        env ${1:+LD_PRELOAD=$1} valgrind --tool=callgrind --callgrind-out-file=/dev/null /bin/true 2>&1 |
            awk '/Collected/ {print $NF}'
    else
        echo "-"
    fi
}
I_PLAIN=$(instructions "")
I_EMPTY=$(instructions "$WORK/empty.so")
I_PRELOAD=$(instructions "$SO")

EXECS=2000
CALLS=200000
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A R
add() { R[$1]+="$2 "; }

for ((r = 1; r <= ROUNDS; r++)); do
    add exec_plain "$("$WORK/calls" exec $EXECS /bin/true)"
    add exec_preload "$("$WORK/calls" exec $EXECS /bin/true "$SO")"
    for call in keepcaps capset other; do
        add "${call}_plain" "$("$WORK/calls" $call $CALLS)"
        add "${call}_absent" "$(SECPOL_RUNTIME_DIR="$WORK/absent" LD_PRELOAD="$SO" "$WORK/calls" $call $CALLS)"
    done
done

"$BIN/secpoltrace" --no-kernel --runtime-dir "$WORK/run" 2>"$WORK/tracer.err" &
TRACER=$!
for _ in $(seq 100); do [ -S "$WORK/run/ingest" ] && break; sleep 0.05; done
[ -S "$WORK/run/ingest" ] || { echo "tracer did not start: $(cat "$WORK/tracer.err")" >&2; exit 1; }
for ((r = 1; r <= ROUNDS; r++)); do
    for call in keepcaps capset other; do
        add "${call}_tracer" "$(SECPOL_RUNTIME_DIR="$WORK/run" LD_PRELOAD="$SO" "$WORK/calls" $call $CALLS)"
    done
done

m() { echo "${R[$1]}" | tr ' ' '\n' | grep . | median; }
echo "preload: $SO ($(stat -c %s "$SO") bytes)"
echo "instructions to run /bin/true: plain $I_PLAIN, empty C preload $I_EMPTY, this preload $I_PRELOAD"
echo "wall clock, $ROUNDS rounds, medians:"
printf '%-34s %10s %10s %10s\n' "" plain "no tracer" tracer
printf '%-34s %9sus %9sus %10s\n' "spawn + exit of /bin/true" "$(m exec_plain)" "$(m exec_preload)" "-"
for call in keepcaps capset other; do
    case $call in
        keepcaps) label="prctl(PR_SET_KEEPCAPS) (reported)" ;;
        capset) label="capset, same sets (reported)" ;;
        other) label="prctl(PR_GET_DUMPABLE) (passed)" ;;
    esac
    printf '%-34s %9sns %9sns %8sns\n' "$label" "$(m ${call}_plain)" "$(m ${call}_absent)" "$(m ${call}_tracer)"
done
