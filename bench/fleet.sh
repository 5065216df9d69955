#!/usr/bin/env bash
# Fleet benchmark (docs/fleet.md): HOSTS simulated hosts (real secpoltrace processes replaying
# EVENTS events each, forwarding over CurveZMQ to one collector on 127.0.0.1) at once.
# Prints the events per second the collector took, what it lost, its CPU time and peak memory.
# Usage: bench/fleet.sh [HOSTS=50] [EVENTS=20000]; BENCH_SMOKE=1 for a few-second run.
set -euo pipefail
cd "$(dirname "$0")/.."
HOSTS="${1:-50}"
EVENTS="${2:-20000}"
if [ "${BENCH_SMOKE:-}" = 1 ]; then HOSTS=3; EVENTS=500; fi
cargo build --release --bins -q
B=target/release
W=$(mktemp -d /tmp/secpol-fleet-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$W"; }
trap cleanup EXIT
mkdir -p "$W/allow"
$B/secpolctl keygen "$W/collector" >/dev/null
python3 - "$W" "$HOSTS" "$EVENTS" <<'PY'
import sys
w, hosts, events = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for h in range(1, hosts + 1):
    with open(f"{w}/h{h}.jsonl", "w") as f:
        for i in range(events):
            t = 1764410400000000000 + i
            # A mix: a few distinct needs per host, most events repeats (as on a real host).
            if i % 50 == 0:
                what = f'{{"kind":"attach","path":"/run/bench-h{h}-{i % 500}","result":"Ok"}}'
            else:
                what = '{"kind":"ability","ability":"net_bind_service","range":{"lo":80,"hi":80},"root":true,"verdict":"Allowed"}'
            f.write(f'{{"time_ns":{t},"process":{{"pid":{1000 + h},"name":"usr/sbin/benchd","type":"bench_t","uid":0,"euid":0}},"what":{what}}}\n')
PY
for h in $(seq 1 "$HOSTS"); do
    $B/secpolctl keygen "$W/h$h" >/dev/null
    cp "$W/h$h.pub" "$W/allow/h$h.pub"
done
PORT=$((20000 + RANDOM % 20000))
$B/secpolgenerate -u -N -s "$W/state" --output-dir "$W/out" --runtime-dir "$W/crun" \
    --listen "tcp://127.0.0.1:$PORT" --curve-secret "$W/collector" --allow-keys "$W/allow" 2>"$W/collector.err" &
cpid=$!
pids+=("$cpid")
for _ in $(seq 100); do [ -S "$W/crun/control" ] && break; sleep 0.05; done
start=$(date +%s.%N)
hp=()
for h in $(seq 1 "$HOSTS"); do
    $B/secpoltrace --no-kernel --no-ingest --once --replay "$W/h$h.jsonl" --runtime-dir "$W/run$h" \
        --forward "tcp://127.0.0.1:$PORT" --host "h$h" --curve-secret "$W/h$h" \
        --collector-key "$W/collector.pub" --forward-linger 120 2>"$W/h$h.err" &
    hp+=($!)
done
failed=0
for p in "${hp[@]}"; do wait "$p" || failed=$((failed + 1)); done
end=$(date +%s.%N)
status=$($B/secpolctl --runtime-dir "$W/crun" status)
seen=$(awk '/^events seen:/ {print $3}' <<<"$status")
lost=$(awk '/^events lost:/ {print $3}' <<<"$status")
read -r utime stime < <(awk '{print $14, $15}' "/proc/$cpid/stat")
rss=$(awk '/VmHWM/ {print $2}' "/proc/$cpid/status")
tck=$(getconf CLK_TCK)
python3 - <<PY
wall = $end - $start
seen, lost, hosts = $seen, $lost, $HOSTS
cpu = ($utime + $stime) / $tck
print(f"hosts:            {hosts} ({$EVENTS} events each, {hosts * $EVENTS} in all)")
print(f"hosts failed:     {$failed} (not every event acknowledged)")
print(f"events applied:   {seen}, lost {lost}")
print(f"wall time:        {wall:.2f} s (all hosts sent, collector acknowledged)")
print(f"events/s:         {seen / wall:,.0f}")
print(f"collector CPU:    {cpu:.2f} s ({100 * cpu / wall:.0f}% of one core)")
print(f"collector memory: {$rss / 1024:.1f} MiB peak RSS")
PY
grep -c . "$W/collector.err" >/dev/null && head -5 "$W/collector.err" || true
