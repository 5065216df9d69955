#!/usr/bin/env bash
# Builds (release) and installs secpol:
#   PREFIX/bin/{secpoltrace,secpolgenerate,secpolmonitor,secpolctl}
#   PREFIX/lib/libsecpol-preload.so (and libsecpol_preload.so, the name cargo gives it)
#   PREFIX/sbin/secpol-boot
#   /etc/secpol/{policy,secpolgenerate.conf}   (existing files are kept)
#   with --systemd: /etc/systemd/system/secpol{trace,generate,monitor}.service
# PREFIX defaults to /usr/local. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=${PREFIX:-/usr/local}
systemd=0
for a in "$@"; do
    case "$a" in
        --systemd) systemd=1 ;;
        *) echo "install.sh: unknown option $a (known: --systemd)" >&2; exit 2 ;;
    esac
done
cargo build --release --workspace --bins
# The preload library goes into every process: its own profile builds it no_std (no Rust
# runtime, no libgcc_s), about a third of the std build's cost per exec (docs/preload.md).
cargo build --profile preload -p secpol-preload
install -d "$PREFIX/bin" "$PREFIX/lib" "$PREFIX/sbin" /etc/secpol
for b in secpoltrace secpolgenerate secpolmonitor secpolctl; do
    install -m 0755 "target/release/$b" "$PREFIX/bin/$b"
done
install -m 0755 target/preload/libsecpol_preload.so "$PREFIX/lib/libsecpol_preload.so"
ln -sf libsecpol_preload.so "$PREFIX/lib/libsecpol-preload.so"
install -m 0755 etc/secpol-boot "$PREFIX/sbin/secpol-boot"
for f in policy secpolgenerate.conf; do
    [ -e "/etc/secpol/$f" ] || install -m 0644 "etc/secpol/$f" "/etc/secpol/$f"
done
getent group secpol >/dev/null || groupadd --system secpol
getent passwd secpol >/dev/null || useradd --system --gid secpol --no-create-home \
    --home-dir /var/lib/secpol --shell /usr/sbin/nologin secpol
if [ $systemd = 1 ]; then
    install -m 0644 etc/systemd/*.service /etc/systemd/system/
    systemctl daemon-reload 2>/dev/null || true
fi
echo "installed secpol in $PREFIX (boot script: $PREFIX/sbin/secpol-boot start)"
