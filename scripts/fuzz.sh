#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser of untrusted input (fuzz/fuzz_targets/*.rs) with
# cargo-fuzz and libFuzzer; docs/fuzzing.md describes the targets and the figures.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]   build, then run each target SECONDS (default 60)
#   scripts/fuzz.sh --seeds                 rewrite fuzz/corpus/ from the project's data
#   scripts/fuzz.sh --list                  the targets
#
# Installs cargo-fuzz when missing. cargo-fuzz builds with nightly flags (-Zsanitizer=address
# and SanitizerCoverage); on a stable toolchain RUSTC_BOOTSTRAP=1 allows them. Each target runs
# as one libFuzzer process (one job, one thread: the default, so no -jobs/-fork), under nice,
# starting from the committed seeds (fuzz/corpus/TARGET) and the corpus of earlier runs
# (fuzz/target/corpus/TARGET, not committed). Prints per target the executions, the
# coverage and any crash; exits non-zero on any crash, leak, timeout or memory blow-up, with
# the input saved under fuzz/artifacts/TARGET/ (replay: the target binary with that file).
# CI runs it as `bash scripts/fuzz.sh 15`. Environment: FUZZ_NICE (niceness, default 10),
# FUZZ_NO_BUILD=1 (run the binaries built before, e.g. for long runs while the tree changes),
# FUZZ_BIN_DIR (where those binaries are; default fuzz/target/<host triple>/release).
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
export RUSTC_BOOTSTRAP=1
CARGO_FUZZ_VERSION=0.13.2
NICE="${FUZZ_NICE:-10}"

targets_all() {
    for f in fuzz/fuzz_targets/*.rs; do basename "$f" .rs; done
}

case "${1:-}" in
--list)
    targets_all
    exit 0
    ;;
-h | --help)
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
    exit 0
    ;;
esac

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION"
    nice -n "$NICE" cargo install --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi

triple=$(rustc -vV | sed -n 's/^host: //p')
bin_dir="${FUZZ_BIN_DIR:-fuzz/target/$triple/release}"
if [ -n "${FUZZ_NO_BUILD:-}" ]; then
    echo "fuzz: FUZZ_NO_BUILD set: running the targets built before ($bin_dir)"
else
    echo "fuzz: building the targets ($(cargo fuzz --version), $(rustc --version), address sanitizer)"
    (cd fuzz && nice -n "$NICE" cargo fuzz build --sanitizer address)
fi

if [ "${1:-}" = "--seeds" ]; then
    "$bin_dir/make_seeds" "$root"
    exit 0
fi

seconds="${1:-60}"
case "$seconds" in
'' | *[!0-9]*)
    echo "fuzz: SECONDS must be a whole number, not '$seconds'" >&2
    exit 2
    ;;
esac
shift || true
if [ $# -gt 0 ]; then targets=("$@"); else mapfile -t targets < <(targets_all); fi

failed=()
printf '%-18s %8s %12s %8s %8s %7s  %s\n' target seconds executions crashes corpus cov result
for t in "${targets[@]}"; do
    bin="$bin_dir/$t"
    [ -x "$bin" ] || { echo "fuzz: no target $t (see --list)" >&2; exit 2; }
    work="fuzz/target/corpus/$t"
    artifacts="fuzz/artifacts/$t"
    log="fuzz/target/$t.log"
    mkdir -p "$work" "$artifacts" "fuzz/corpus/$t"
    stamp="fuzz/target/$t.start"
    touch "$stamp"
    status=0
    # -timeout: one input running 10 s is a hang; -rss_limit_mb / -malloc_limit_mb: an
    # input that makes the parser take 2 GiB is an unbounded allocation. Both are failures.
    nice -n "$NICE" "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -malloc_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" \
        "$work" "fuzz/corpus/$t" >"$log" 2>&1 || status=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    if [ -z "$execs" ]; then
        execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
    fi
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | sed 's/cov: //')
    corpus=$(find "$work" "fuzz/corpus/$t" -type f | wc -l)
    # libFuzzer stops at the first failing input and saves it (crash-, leak-, timeout-, oom-).
    crashes=$(find "$artifacts" -type f -newer "$stamp" | wc -l)
    # Coverage guidance is real only if the binary was instrumented: libFuzzer says how many
    # counters it found.
    if ! grep -qE 'INFO: Loaded [0-9]+ modules +\([1-9][0-9]* inline 8-bit counters' "$log"; then
        echo "fuzz: $t ran without coverage counters; see $log" >&2
        [ "$status" -ne 0 ] || status=1
    fi
    if [ "$status" -eq 0 ]; then
        result=ok
    else
        result="FAILED (exit $status)"
        [ "$crashes" -gt 0 ] || crashes=1
        failed+=("$t")
    fi
    printf '%-18s %8s %12s %8s %8s %7s  %s\n' "$t" "$seconds" "${execs:-?}" "$crashes" "$corpus" "${cov:-?}" "$result"
    if [ "$status" -ne 0 ]; then
        { grep -m1 -A3 'panicked at' "$log" || true; } | sed 's/^/    /'
        { grep -E 'ERROR: libFuzzer|ERROR: AddressSanitizer|SUMMARY|Test unit written to' "$log" || true; } |
            head -4 | sed 's/^/    /'
        echo "    log: $log"
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds} s each, no crash"
