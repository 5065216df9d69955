#!/usr/bin/env bash
# The demo: installs what is missing, builds, starts the services on a private runtime
# directory and shows them at work on the QNX devf-ram walk-through (seed 002), replayed
# through the tracer into two monitors.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --workspace --bins
BIN=target/release
RUN=$(mktemp -d /tmp/secpol-demo.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$RUN"' EXIT

echo "== secpolmonitor -aps (everything) and -ap (failures only), on $RUN"
"$BIN/secpolmonitor" -aps --runtime-dir "$RUN/run" > "$RUN/all.log" &
"$BIN/secpolmonitor" -ap --runtime-dir "$RUN/run" > "$RUN/errors.log" &
echo "== secpoltrace replays the devf-ram log captured on a QNX target"
"$BIN/secpoltrace" --no-kernel --no-ingest --once --runtime-dir "$RUN/run" \
    --replay tests/data/devf-ram.log --wait-subscribers 2
sleep 0.5
echo; echo "-- secpolmonitor -aps:"; cat "$RUN/all.log"
echo; echo "-- secpolmonitor -ap:"; cat "$RUN/errors.log"
