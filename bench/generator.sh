#!/usr/bin/env bash
# Ingest benchmark of secpolgenerate (not a test): decode, encode and learning rates (unrestricted
# and restricted types) in process; events per second from the bus (paced without loss, and a
# flood), the generator's CPU time, and memory with many types. Prints its figures;
# docs/generator.md records them.
#   bench/generator.sh [EVENTS] [TYPES]     (defaults: 2000000 10000)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p secpolgenerate --bin secpolgenerate --example ingest
exec target/release/examples/ingest "${1:-2000000}" "${2:-10000}"
