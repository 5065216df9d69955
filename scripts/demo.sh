#!/usr/bin/env bash
# The demo (as root): installs what is missing, builds, starts the services from the boot
# script, runs a sample workload in four types while the generator learns, prints the
# learned policy, then reruns the workload restricted under that policy: it still works,
# and a forbidden action is denied and shown. Last, a QNX target's log is replayed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
[ "$(id -u)" -eq 0 ] || { echo "demo.sh: run as root (it starts the tracer and creates types)" >&2; exit 1; }
bash scripts/setup.sh
cargo build --release --workspace --bins
cargo build --profile preload -p secpol-preload

export BIN=$ROOT/target/release DEMO=/tmp/secpol-demo PRELOAD=$ROOT/target/preload/libsecpol_preload.so
rm -rf "$DEMO"
mkdir -p "$DEMO/svc"
chmod 755 "$DEMO"
gcc -O2 -Wall -o "$DEMO/pps_like" tests/c/pps_like.c -lcap

# The boot script, with this build and the sample configuration.
export SECPOL_BIN=$BIN SECPOL_RUNTIME_DIR=/run/secpol SECPOL_OUTPUT_DIR=$DEMO/out \
    SECPOL_STATE_DIR=$DEMO/state SECPOL_CONFIG=$ROOT/etc/secpol/secpolgenerate.conf \
    SECPOL_POLICY=$ROOT/etc/secpol/policy SECPOL_MONITOR_LOG=$DEMO/monitor.log \
    SECPOL_GENERATE_ARGS="-t 16"
boot() { sh "$ROOT/etc/secpol-boot" "$@"; }
trap 'boot stop >/dev/null 2>&1 || true' EXIT
boot stop >/dev/null 2>&1 || true
banner() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

banner "1. Start the services (etc/secpol-boot start)"
boot start
"$BIN/secpolctl" status | sed 's/^/   /'

banner "2. Run the workload while secpolgenerate learns"
bash scripts/demo/workload.sh
"$BIN/secpolctl" save >/dev/null

banner "3. The learned policy (secpolctl policy)"
"$BIN/secpolctl" policy | tee "$DEMO/learned.policy"

banner "4. Rerun the workload restricted: secpolctl on --policy learned.policy"
bash scripts/demo/workload.sh --policy "$DEMO/learned.policy"

banner "5. A forbidden action: web_t tries to chown a file (it never needed chown)"
touch "$DEMO/file"
if "$BIN/secpolctl" on --policy "$DEMO/learned.policy" -T web_t -- chown nobody "$DEMO/file"; then
    echo "demo.sh: the chown should have been denied" >&2
    exit 1
fi
sleep 1
"$BIN/secpolctl" save >/dev/null
echo "-- secpolmonitor says:"
grep -F 'type web_t lacks ability CHOWN' "$DEMO/monitor.log" | sed 's/^/   /'
echo "-- secpolctl errors says:"
"$BIN/secpolctl" errors | sed 's/^/   /'

banner "6. A log captured on a QNX target (seed 002's devf-ram walk-through), replayed"
mkdir -p "$DEMO/replay"
"$BIN/secpolmonitor" -aps --runtime-dir "$DEMO/replay/run" > "$DEMO/replay/monitor.log" &
mon=$!
"$BIN/secpoltrace" --no-kernel --no-ingest --once --runtime-dir "$DEMO/replay/run" \
    --replay tests/data/devf-ram.log --wait-subscribers 1
sleep 0.5
kill $mon
sed 's/^/   /' "$DEMO/replay/monitor.log"

banner "Done. Outputs in $DEMO/out; monitor log $DEMO/monitor.log; services stopped."
