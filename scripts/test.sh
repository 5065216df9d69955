#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit, property and end-to-end tests, then a short
# run of every fuzz target.
# Run as root for the kernel tests: as root, a missing kernel feature is a failure
# (SECPOL_REQUIRE_KERNEL=1, the default then; set it to 0 to let such tests skip). Every
# test that skipped is listed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
if [ "$(id -u)" -eq 0 ]; then
    export SECPOL_REQUIRE_KERNEL="${SECPOL_REQUIRE_KERNEL:-1}"
fi
export SECPOL_SKIP_LOG="$PWD/target/skipped-tests.txt"
mkdir -p target && rm -f "$SECPOL_SKIP_LOG"
show_skips() {
    if [ -s "$SECPOL_SKIP_LOG" ]; then
        echo "test.sh: $(wc -l <"$SECPOL_SKIP_LOG") tests skipped (not run, not passed):"
        sed 's/^/  /' "$SECPOL_SKIP_LOG"
    fi
}
trap show_skips EXIT
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo machete                          # no declared dependency that nothing uses
python3 scripts/modules.py --check     # no module cycle; every module in docs/architecture.md
cargo build --workspace --bins --lib  # --lib: libsecpol_preload.so, which the e2e tests load
cargo test --workspace --no-fail-fast
# The benchmark's smoke version (seconds), so it cannot rot; the real run: bash bench/compare.sh.
if [ "$(id -u)" -eq 0 ]; then
    bash bench/compare.sh --smoke
fi
# The generator benchmark's smoke version (bench/generator.sh in a debug build, 30,000 events):
# it fails if a paced run loses an event.
cargo build -q -p secpolgenerate --example ingest
target/debug/examples/ingest 30000 100 >/dev/null
# The Debian package from the debug binaries just built (about a minute: the preload's
# profile, packaging, lintian, dpkg -i, the checks, dpkg --purge); docs/packaging.md.
SECPOL_PACKAGE_PROFILE=debug bash scripts/package-check.sh
# Every fuzz target for a short bounded time (long runs: scripts/fuzz.sh 600; docs/fuzzing.md).
bash scripts/fuzz.sh "${SECPOL_FUZZ_SECONDS:-15}"
