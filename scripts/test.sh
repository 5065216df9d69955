#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit, property and end-to-end tests, then a short
# run of every fuzz target.
# Run as root for the kernel tests; SECPOL_REQUIRE_KERNEL=1 makes a missing kernel
# feature a failure instead of a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build --workspace --bins --lib  # --lib: libsecpol_preload.so, which the e2e tests load
cargo test --workspace --no-fail-fast
# The benchmark's smoke version (seconds), so it cannot rot; the real run: bash bench/compare.sh.
if [ "$(id -u)" -eq 0 ]; then
    bash bench/compare.sh --smoke
fi
# The Debian package from the debug binaries just built (about a minute: the preload's
# profile, packaging, lintian, dpkg -i, the checks, dpkg --purge); docs/packaging.md.
SECPOL_PACKAGE_PROFILE=debug bash scripts/package-check.sh
# Every fuzz target for a short bounded time (long runs: scripts/fuzz.sh 600; docs/fuzzing.md).
bash scripts/fuzz.sh "${SECPOL_FUZZ_SECONDS:-15}"
