#!/usr/bin/env bash
# What watching costs, side by side in one run (a benchmark, not a test; root):
#   bash bench/compare.sh [--smoke] [--rounds N] [--out FILE]
# Four workloads (bench/workloads.c; each times itself) run with nothing attached, with
# secpoltrace + secpolgenerate (default options, as etc/secpol-boot starts them), with
# secpoltrace --repeat + secpolgenerate, and with the bpftrace one-liner a user would try
# first; the modes alternate round by round so they share the machine's noise, and the
# table shows medians and their ratios to nothing attached. Then: the delay from a check
# in the kernel to its monitor line (median, p99), and each service's resident memory
# idle and under load.
# Installs bpftrace when it is missing and builds the release binaries. Writes the table
# with date, kernel and CPU to FILE (default docs/benchmarks.md, between its markers). --smoke: a few
# iterations and one round, for CI (writes to a temporary file unless --out is given).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SMOKE=0
ROUNDS=7
OUT=docs/benchmarks.md
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) SMOKE=1; ROUNDS=1; OUT="" ;;
        --rounds) ROUNDS="$2"; shift ;;
        --out) OUT="$2"; shift ;;
        *) echo "bench/compare.sh: unknown argument $1 (--smoke, --rounds N, --out FILE)" >&2; exit 2 ;;
    esac
    shift
done
[ "$(id -u)" -eq 0 ] || { echo "bench/compare.sh: run as root" >&2; exit 1; }
if ! command -v bpftrace >/dev/null; then
    apt-get install -y -qq bpftrace >/dev/null || { apt-get update -qq && apt-get install -y -qq bpftrace >/dev/null; }
fi
if [ "$SMOKE" = 1 ]; then
    # CI: the debug binaries the test suite built; only that the script runs end to end.
    BIN="${SECPOL_BIN:-target/debug}"
    declare -A N=([setgroups]=20000 [probe]=5000 [forkexec]=50 [shell]=10) # iterations
    N_LATENCY=20
else
    cargo build --release -q -p secpoltrace -p secpolgenerate -p secpolmonitor -p secpolctl
    BIN="${SECPOL_BIN:-target/release}"
    declare -A N=([setgroups]=1000000 [probe]=200000 [forkexec]=1000 [shell]=200)
    N_LATENCY=200
fi
for b in secpoltrace secpolgenerate secpolmonitor secpolctl; do
    [ -x "$BIN/$b" ] || { echo "bench/compare.sh: $BIN/$b missing" >&2; exit 1; }
done
WORK="$(mktemp -d /tmp/secpol-compare-XXXXXX)"
# kernel.bpf_stats_enabled, read and written in /proc (no sysctl(8) needed); put back at exit.
BPF_STATS=/proc/sys/kernel/bpf_stats_enabled
STATS_WAS=$(cat "$BPF_STATS" 2>/dev/null || echo 0)
cleanup() {
    echo "$STATS_WAS" >"$BPF_STATS" 2>/dev/null || true
    kill $(jobs -p) 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
gcc -O2 -Wall -o "$WORK/workloads" bench/workloads.c
chmod 755 "$WORK" "$WORK/workloads"
printf 'type benchready_t;\ntype benchlat_t;\nallow benchlat_t self:ability chown;\n' >"$WORK/bench.policy"
BPFTRACE_PROG='tracepoint:capability:cap_capable { @[args->cap, args->ret] = count(); }'

workload() {
    case "$1" in
        probe) setpriv --reuid=65534 --regid=65534 --clear-groups "$WORK/workloads" probe "${N[probe]}" ;;
        *) "$WORK/workloads" "$1" "${N[$1]}" ;;
    esac
}
WORKLOADS="setgroups probe forkexec shell"
MODES="off secpol repeat bpftrace"

# Resident memory (kB) of a pid.
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# Starts tracer and generator on $WORK/run; ready once a typed process shows in a monitor.
start_secpol() {
    rm -rf "$WORK/run" "$WORK/out" "$WORK/state"
    mkdir -p "$WORK/out"
    "$BIN/secpoltrace" --runtime-dir "$WORK/run" "$@" >/dev/null 2>"$WORK/tracer.err" &
    TRACER=$!
    "$BIN/secpolgenerate" --runtime-dir "$WORK/run" --output-dir "$WORK/out" -s "$WORK/state" \
        >/dev/null 2>"$WORK/generator.err" &
    GENERATOR=$!
    "$BIN/secpolmonitor" --runtime-dir "$WORK/run" -a -s -v >"$WORK/ready.out" 2>/dev/null &
    local mon=$!
    for _ in $(seq 150); do
        "$BIN/secpolctl" on --policy "$WORK/bench.policy" -T benchready_t -- /bin/true
        grep -q benchready_t "$WORK/ready.out" && break
        sleep 0.2
    done
    kill "$mon"; wait "$mon" 2>/dev/null || true
    grep -q benchready_t "$WORK/ready.out" || { cat "$WORK/tracer.err" "$WORK/generator.err" >&2; exit 1; }
    # The generator answers too.
    "$BIN/secpolctl" --runtime-dir "$WORK/run" status --timeout 10 >/dev/null
}
stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# Starts bpftrace's one-liner; returns once its program is attached.
start_bpftrace() {
    bpftrace -e "$BPFTRACE_PROG" >/dev/null 2>"$WORK/bpftrace.err" &
    BPFTRACE=$!
    for _ in $(seq 100); do
        bpftool prog show 2>/dev/null | grep -q cap_capable && [ -d "/proc/$BPFTRACE" ] && break
        sleep 0.1
    done
    sleep 1
}

# Starts mode $1 (nothing for `off`); PIDS: its processes.
start_mode() {
    case "$1" in
        off) PIDS="" ;;
        secpol) start_secpol; PIDS="$TRACER $GENERATOR" ;;
        repeat) start_secpol --repeat; PIDS="$TRACER $GENERATOR" ;;
        bpftrace) start_bpftrace; PIDS="$BPFTRACE" ;;
    esac
}
stop_mode() {
    case "$1" in
        secpol | repeat) stop_pid "$TRACER"; stop_pid "$GENERATOR" ;;
        bpftrace) stop_pid "$BPFTRACE" ;;
    esac
}

# Samples the services' resident memory every 0.2 s into $WORK/rss.<name> until stopped.
sample_rss() {
    while :; do
        echo "$(rss "$TRACER") $(rss "$GENERATOR")" >>"$WORK/rss.load"
        sleep 0.2
    done
}

declare -A T
for r in $(seq "$ROUNDS"); do
    for m in $MODES; do
        start_mode "$m"
        for w in $WORKLOADS; do
            T[$m.$w]="${T[$m.$w]:-} $(workload "$w")"
        done
        stop_mode "$m"
    done
    echo "round $r of $ROUNDS done" >&2
done

median() { printf '%s\n' $@ | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
declare -A M
for w in $WORKLOADS; do
    for m in $MODES; do
        M[$m.$w]=$(median ${T[$m.$w]})
    done
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2fx", a / b}'; }
describe() {
    case "$1" in
        setgroups) echo "audited \`setgroups(0, NULL)\` as root, ${N[setgroups]} times (a real use, repeated)" ;;
        probe) echo "as nobody: denied \`kill(1, 0)\` + private writable \`mmap\` (a NOAUDIT probe), ${N[probe]} times" ;;
        forkexec) echo "fork + exec \`/bin/true\`, ${N[forkexec]} times" ;;
        shell) echo "\`sh -c\` loop of \`ls /\`, \`cat\`, \`/bin/true\`, ${N[shell]} times" ;;
    esac
}
TABLE="$WORK/table.md"
{
    echo "| workload | nothing attached (ns/iteration) | secpoltrace + secpolgenerate | secpoltrace --repeat + secpolgenerate | bpftrace \`count()\` one-liner |"
    echo "|---|---|---|---|---|"
    for w in $WORKLOADS; do
        off=${M[off.$w]}
        echo "| $(describe "$w") | $off | $(ratio "${M[secpol.$w]}" "$off") | $(ratio "${M[repeat.$w]}" "$off") | $(ratio "${M[bpftrace.$w]}" "$off") |"
    done
} >"$TABLE"
cat "$TABLE"
echo
echo "rounds (ns per iteration):"
for w in $WORKLOADS; do
    for m in $MODES; do
        echo "  $w $m:${T[$m.$w]}"
    done
done

# Latency, and memory idle and under load, with the default services.
start_secpol
sleep 2
IDLE_TRACER=$(rss "$TRACER")
IDLE_GENERATOR=$(rss "$GENERATOR")
"$BIN/secpolmonitor" --runtime-dir "$WORK/run" -a -s >/dev/null 2>&1 &
MONITOR=$!
sleep 2
IDLE_MONITOR=$(rss "$MONITOR")
LOAD_MONITOR=$IDLE_MONITOR
LATENCY=$(python3 - "$BIN" "$WORK" "$N_LATENCY" <<'PY'
import json, os, subprocess, sys, threading, time
bindir, work, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
mon = subprocess.Popen([f"{bindir}/secpolmonitor", "--runtime-dir", f"{work}/run", "-a", "-s", "--json"],
                       stdout=subprocess.PIPE, text=True, bufsize=1)
time.sleep(1.0)
target = os.path.join(work, "owned")
open(target, "w").close()
def spawn():
    for i in range(n):
        subprocess.run([f"{bindir}/secpolctl", "on", "--policy", f"{work}/bench.policy", "-T", "benchlat_t",
                        "--", "/usr/bin/chown", str(1 + i % 2), target], check=True)
        time.sleep(0.01)
t = threading.Thread(target=spawn)
t.start()
lat = []
deadline = time.time() + 120
while len(lat) < n and time.time() < deadline:
    line = mon.stdout.readline()
    now = time.time_ns()
    if not line:
        break
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("process", {}).get("type") == "benchlat_t" and e.get("what", {}).get("ability") == "chown":
        lat.append((now - e["time_ns"]) / 1e3)
t.join()
mon.terminate()
lat.sort()
if not lat:
    sys.exit("latency: no chown lines seen")
p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print(f"{len(lat)} checks: median {p(0.5):.0f} us, p99 {p(0.99):.0f} us, max {lat[-1]:.0f} us")
PY
)
# Under load: the services while the exec-heavy workloads run again.
: >"$WORK/rss.load"
sample_rss &
SAMPLER=$!
workload forkexec >/dev/null
workload shell >/dev/null
LOAD_MONITOR=$(( $(rss "$MONITOR") > LOAD_MONITOR ? $(rss "$MONITOR") : LOAD_MONITOR ))
stop_pid "$SAMPLER"
LOAD_TRACER=$(awk '$1 > m {m = $1} END {print m + 0}' "$WORK/rss.load")
LOAD_GENERATOR=$(awk '$2 > m {m = $2} END {print m + 0}' "$WORK/rss.load")
STATUS=$("$BIN/secpolctl" --runtime-dir "$WORK/run" status --timeout 10 | grep -E "^events (seen|lost)" | tr -s ' ' | paste -sd ';' -)
stop_pid "$MONITOR"; stop_pid "$TRACER"; stop_pid "$GENERATOR"
mb() { awk -v k="$1" 'BEGIN {printf "%.1f MB", k / 1024}'; }
{
    echo
    echo "Kernel check -> monitor line (\`secpolmonitor --json\`, new \`chown\` processes under a type): $LATENCY"
    echo
    echo "| resident memory | idle | under load (fork/exec and shell workloads) |"
    echo "|---|---|---|"
    echo "| secpoltrace | $(mb "$IDLE_TRACER") | $(mb "$LOAD_TRACER") |"
    echo "| secpolgenerate | $(mb "$IDLE_GENERATOR") | $(mb "$LOAD_GENERATOR") |"
    echo "| secpolmonitor | $(mb "$IDLE_MONITOR") | $(mb "$LOAD_MONITOR") |"
    echo
    echo "Generator after the load: $STATUS"
} | tee -a "$TABLE"

# Direct costs: one more pass per mode with the kernel's BPF statistics on. A mode's programs
# are the ones that appear when it starts; their run time is the kernel's own count (which
# adds two clock reads to every run, in every mode alike). Its user space: the CPU time of
# every thread of its processes (/proc/PID/task/*/schedstat, nanoseconds).
prog_ids() { bpftool prog show -j 2>/dev/null | python3 -c 'import json, sys; print("\n".join(str(p["id"]) for p in json.load(sys.stdin)))' | sort; }
prog_ns() {
    bpftool prog show -j 2>/dev/null | python3 -c '
import json, sys
ids = set(open(sys.argv[1]).read().split())
print(sum(p.get("run_time_ns", 0) for p in json.load(sys.stdin) if str(p["id"]) in ids))' "$WORK/ids"
}
cpu_ns() {
    local t=0 p f n
    for p in "$@"; do
        for f in /proc/"$p"/task/*/schedstat; do
            read -r n _ <"$f" 2>/dev/null && t=$((t + n))
        done
    done
    echo "$t"
}
declare -A K C
for m in secpol bpftrace; do
    prog_ids >"$WORK/ids.before"
    start_mode "$m"
    prog_ids | comm -13 "$WORK/ids.before" - >"$WORK/ids"
    [ -s "$WORK/ids" ] || { echo "bench/compare.sh: no programs of $m found" >&2; exit 1; }
    echo 1 >"$BPF_STATS"
    for w in $WORKLOADS; do
        k0=$(prog_ns); c0=$(cpu_ns $PIDS)
        workload "$w" >/dev/null
        k1=$(prog_ns); c1=$(cpu_ns $PIDS)
        K[$m.$w]=$((k1 - k0)); C[$m.$w]=$((c1 - c0))
    done
    echo 0 >"$BPF_STATS"
    stop_mode "$m"
done
# Nanoseconds per iteration, and their share of an iteration with nothing attached.
per() { awk -v t="$1" -v n="$2" -v off="$3" 'BEGIN {v = t / n; printf "%.0f ns (%.1f%%)", v, 100 * v / off}'; }
{
    echo
    echo "Direct costs per iteration, from one more pass per mode with the kernel's BPF statistics on (in brackets: the share of an iteration with nothing attached). Programs: the time the mode's BPF programs ran. CPU: its processes' CPU time (bpftrace's one-liner only counts in the kernel):"
    echo
    echo "| workload | secpoltrace's programs | secpoltrace + secpolgenerate CPU | bpftrace's program | bpftrace CPU |"
    echo "|---|---|---|---|---|"
    for w in $WORKLOADS; do
        n=${N[$w]} off=${M[off.$w]}
        echo "| $w | $(per "${K[secpol.$w]}" "$n" "$off") | $(per "${C[secpol.$w]}" "$n" "$off") | $(per "${K[bpftrace.$w]}" "$n" "$off") | $(per "${C[bpftrace.$w]}" "$n" "$off") |"
    done
} | tee -a "$TABLE"

if [ -n "$OUT" ]; then
    # Replaces the part of OUT between the two markers (the text around them is the docs').
    CPU=$(lscpu | awk -F: '/^Model name/ {gsub(/^ +/, "", $2); print $2; exit}')
    {
        echo "Run of $(date -u +%Y-%m-%d) on Linux $(uname -r), $(nproc) x $CPU, $ROUNDS rounds, release build:"
        echo
        cat "$TABLE"
    } >"$WORK/section.md"
    BEGIN='<!-- bench/compare.sh: begin -->'
    END='<!-- bench/compare.sh: end -->'
    if [ -f "$OUT" ] && grep -qF "$BEGIN" "$OUT" && grep -qF "$END" "$OUT"; then
        awk -v b="$BEGIN" -v e="$END" -v f="$WORK/section.md" '
            $0 == b {print; while ((getline l < f) > 0) print l; skip = 1; next}
            $0 == e {skip = 0}
            !skip {print}' "$OUT" >"$OUT.tmp"
    else
        { echo "# Benchmarks"; echo; echo "$BEGIN"; cat "$WORK/section.md"; echo "$END"; } >"$OUT.tmp"
    fi
    mv "$OUT.tmp" "$OUT"
    echo "written to $OUT"
fi
