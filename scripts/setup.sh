#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian/Ubuntu machine (as root), and
# prepares the kernel filesystems the tracer uses. Safe to run again.
set -euo pipefail

# Debian packages: one list, so a fresh machine gets everything CI has.
PACKAGES=(
    pkg-config      # zmq-sys, libbpf build helpers
    clang           # compiles the tracer's BPF programs
    llvm            # llvm-strip for BPF objects
    libbpf-dev      # bpf_helpers.h, bpf_tracing.h, bpf_core_read.h
    bpftool         # vmlinux.h from the running kernel's BTF
    gcc             # C test programs (preload tests)
    libcap-dev      # libcap for the C test programs
    libseccomp-dev  # libseccomp for the C test programs (seccomp_setid)
    libcap2-bin     # capsh, setcap, getpcaps for tests and the demo
    python3         # demo workload servers
    nginx-light     # real daemons for the end-to-end tests (tests/e2e/daemons.rs)
    dnsmasq-base
    chrony          # an NTP server (tests/e2e/daemons.rs)
    openssh-server  # sshd and its client (tests/e2e/daemons.rs)
    systemd         # systemd-analyze verify / security --offline for `secpolctl export --systemd`
                    # (tests/e2e/units.rs); it works without systemd as PID 1
    libsodium-dev   # static libsodium for libzmq's CURVE (shared/zmq-vendored, .cargo/config.toml)
    iproute2        # ip netns and veth for the fleet test (tests/e2e/fleet.rs)
    bpftrace        # the one-liner bench/compare.sh measures against (CI runs its smoke version)
    dpkg-dev        # the Debian package (scripts/package.sh): dpkg-shlibdeps, dpkg-architecture
    binutils        # strip, for the package
    lintian         # the package's check (scripts/package-check.sh)
    man-db          # man -w in the package's check
    chromium        # the HTML report's test in headless Chromium (tests/e2e/report.rs)
    util-linux      # script(1): a terminal for the progress bar's test
)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: need root to install: ${missing[*]}" >&2
        exit 1
    fi
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Daemons' packages must not start them: the tests run them under types themselves.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "setup: cargo not found; install Rust (rustup) first" >&2
    exit 1
fi

# cargo machete: the test suite's check that no crate declares a dependency it does not use.
if ! command -v cargo-machete >/dev/null 2>&1; then
    echo "setup: installing cargo-machete"
    cargo install --locked --quiet cargo-machete --version 0.9.2
fi

# Kernel filesystems the tracer needs (it mounts them itself too, when privileged).
if [ "$(id -u)" -eq 0 ]; then
    mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
    mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true
fi
