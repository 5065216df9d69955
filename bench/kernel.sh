#!/usr/bin/env bash
# Benchmarks of the kernel tracer (not tests). Run as root after `cargo build --release`
# (or set SECPOL_BIN to the directory of the binaries):
#   bash bench/kernel.sh [ITERATIONS] [ROUNDS]
# 1. Cost: a capability-heavy workload (bench/kernel_workload.c: one denied CAP_KILL check
#    and one CAP_SYS_ADMIN memory-accounting probe per iteration) with the tracer off, on,
#    and with a bpftrace one-liner on the same tracepoint; the modes alternate for ROUNDS
#    rounds on the same machine and the medians are compared as ratios.
# 2. Latency: from a capability check in the kernel to its line in a secpolmonitor
#    (median and 99th percentile), over 200 new processes each making one check.
set -euo pipefail
cd "$(dirname "$0")/.."
ITER="${1:-300000}"
ROUNDS="${2:-5}"
BIN="${SECPOL_BIN:-target/release}"
[ "$(id -u)" -eq 0 ] || { echo "bench/kernel.sh: run as root" >&2; exit 1; }
for b in secpoltrace secpolmonitor secpolctl; do
    [ -x "$BIN/$b" ] || { echo "bench/kernel.sh: $BIN/$b missing (cargo build --release)" >&2; exit 1; }
done
command -v bpftrace >/dev/null || { apt-get install -y -qq bpftrace >/dev/null; }
WORK="$(mktemp -d /tmp/secpol-bench-XXXXXX)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
gcc -O2 -Wall -o "$WORK/workload" bench/kernel_workload.c
chmod 755 "$WORK"
# No generator runs here: the launcher takes the types from this policy.
printf 'type benchready_t;\ntype benchlat_t;\nallow benchlat_t self:ability chown;\n' >"$WORK/bench.policy"
run_workload() { setpriv --reuid=65534 --regid=65534 --clear-groups "$WORK/workload" "$ITER"; }

start_tracer() {
    "$BIN/secpoltrace" --runtime-dir "$WORK/run" --no-ingest >/dev/null 2>"$WORK/tracer.err" &
    TRACER=$!
    # Ready once a typed process shows on the bus.
    "$BIN/secpolmonitor" --runtime-dir "$WORK/run" -a -s -v >"$WORK/ready.out" 2>/dev/null &
    local mon=$!
    for _ in $(seq 100); do
        "$BIN/secpolctl" on --policy "$WORK/bench.policy" -T benchready_t -- /bin/true
        grep -q benchready_t "$WORK/ready.out" && break
        sleep 0.2
    done
    kill "$mon"; wait "$mon" 2>/dev/null || true
    grep -q benchready_t "$WORK/ready.out" || { cat "$WORK/tracer.err" >&2; exit 1; }
}
stop() { kill "$1"; wait "$1" 2>/dev/null || true; }

declare -a OFF ON BT
for r in $(seq "$ROUNDS"); do
    OFF+=("$(run_workload)")
    start_tracer
    ON+=("$(run_workload)")
    stop "$TRACER"
    bpftrace -e 'tracepoint:capability:cap_capable { @[args->cap, args->ret] = count(); }' >/dev/null 2>&1 &
    BPFTRACE=$!
    sleep 3
    BT+=("$(run_workload)")
    stop "$BPFTRACE"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
m_off=$(median "${OFF[@]}"); m_on=$(median "${ON[@]}"); m_bt=$(median "${BT[@]}")
echo "cost: $ITER iterations x $ROUNDS rounds, ns per iteration (2 checks each), median"
echo "  tracer off        $m_off   (${OFF[*]})"
echo "  secpoltrace on    $m_on   (${ON[*]})"
echo "  bpftrace count()  $m_bt   (${BT[*]})"
awk -v a="$m_off" -v b="$m_on" -v c="$m_bt" 'BEGIN {
    printf "  ratio on/off %.2f, bpftrace/off %.2f, on/bpftrace %.2f\n", b/a, c/a, b/c }'

# Latency: kernel check time (the event's time_ns) to the moment the monitor's line is read.
start_tracer
python3 - "$BIN" "$WORK" <<'PY'
import json, os, subprocess, sys, time
bindir, work = sys.argv[1], sys.argv[2]
mon = subprocess.Popen([f"{bindir}/secpolmonitor", "--runtime-dir", f"{work}/run", "-a", "-s", "--json"],
                       stdout=subprocess.PIPE, text=True, bufsize=1)
time.sleep(1.0)
target = os.path.join(work, "owned")
open(target, "w").close()
n = 200
def spawn():
    for i in range(n):
        subprocess.run([f"{bindir}/secpolctl", "on", "--policy", f"{work}/bench.policy", "-T", "benchlat_t", "--", "/usr/bin/chown", str(1 + i % 2), target], check=True)
        time.sleep(0.01)
import threading
t = threading.Thread(target=spawn); t.start()
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
    what = e.get("what", {})
    if e.get("process", {}).get("type") == "benchlat_t" and what.get("ability") == "chown":
        lat.append((now - e["time_ns"]) / 1e3)
t.join(); mon.terminate()
lat.sort()
if not lat:
    sys.exit("latency: no chown lines seen")
p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print(f"latency: check in the kernel -> monitor line, {len(lat)} checks: median {p(0.5):.0f} us, p99 {p(0.99):.0f} us, max {lat[-1]:.0f} us")
PY
stop "$TRACER"
