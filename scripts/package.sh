#!/usr/bin/env bash
# Builds the Debian package target/debian/secpol_VERSION_ARCH.deb (dpkg-deb, no debhelper):
#   /usr/bin/{secpoltrace,secpolgenerate,secpolmonitor,secpolctl}
#   /usr/lib/MULTIARCH/libsecpol-preload.so (its SONAME)
#   /usr/sbin/secpol-boot
#   /etc/secpol/{policy,secpolgenerate.conf}          conffiles
#   /lib/systemd/system/secpol{trace,generate,monitor}.service   Type=notify
#   man pages (generated from the clap definitions, and section 5/8 pages from etc/man),
#   bash, zsh and fish completions, docs, copyright, changelog.
# The maintainer scripts (etc/debian/) create the secpol user and group.
#
# SECPOL_PACKAGE_PROFILE=release (default) builds `cargo build --release`; =debug packages
# the debug binaries `cargo build --workspace --bins` made (what CI has already built, for
# the install check; never for distribution). docs/packaging.md says more.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
profile=${SECPOL_PACKAGE_PROFILE:-release}
case "$profile" in
    release) cargo build --release --workspace --bins; bindir=target/release ;;
    debug) cargo build --workspace --bins; bindir=target/debug ;;
    *) echo "package.sh: SECPOL_PACKAGE_PROFILE must be release or debug, not $profile" >&2; exit 2 ;;
esac
# The preload library always comes from its own no_std profile (docs/preload.md).
cargo build --profile preload -p secpol-preload

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
debrev=$(sed -n '1s/^secpol (\(.*\)) .*/\1/p' etc/debian/changelog)
case "$debrev" in
    "$version"-*) ;;
    *) echo "package.sh: etc/debian/changelog is at $debrev, Cargo.toml at $version" >&2; exit 1 ;;
esac
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
out=target/debian
root=$out/secpol
rm -rf "$root"
mkdir -p "$root/DEBIAN"
# Everything in the package is root's, whoever builds it; modes are set explicitly.
umask 022

install -d "$root/usr/bin" "$root/usr/sbin" "$root/usr/lib/$multiarch" "$root/etc/secpol" \
    "$root/lib/systemd/system" "$root/usr/share/doc/secpol" "$root/usr/share/man/man1" \
    "$root/usr/share/man/man5" "$root/usr/share/man/man8" \
    "$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions" \
    "$root/usr/share/fish/vendor_completions.d"
for b in secpoltrace secpolgenerate secpolmonitor secpolctl; do
    install -m 0755 "$bindir/$b" "$root/usr/bin/$b"
    strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/$b"
done
# Under its SONAME (QNX's name) only: a second name would be a symbolic link lintian
# takes for a -dev package's.
install -m 0644 target/preload/libsecpol_preload.so "$root/usr/lib/$multiarch/libsecpol-preload.so"
strip --strip-unneeded --remove-section=.comment --remove-section=.note \
    "$root/usr/lib/$multiarch/libsecpol-preload.so"
sed "s|^BIN=\${SECPOL_BIN:-/usr/local/bin}|BIN=\${SECPOL_BIN:-/usr/bin}|" etc/secpol-boot >"$root/usr/sbin/secpol-boot"
chmod 0755 "$root/usr/sbin/secpol-boot"
install -m 0644 etc/secpol/policy etc/secpol/secpolgenerate.conf "$root/etc/secpol/"
for u in etc/systemd/*.service; do
    sed 's|/usr/local/share/doc/|/usr/share/doc/|g; s|/usr/local/bin/|/usr/bin/|g' "$u" \
        >"$root/lib/systemd/system/$(basename "$u")"
    chmod 0644 "$root/lib/systemd/system/$(basename "$u")"
done

# Man pages and completions from the binaries' own clap definitions.
gen=$(mktemp -d)
trap 'rm -rf "$gen"' EXIT
for b in secpoltrace secpolgenerate secpolmonitor secpolctl; do
    "$bindir/$b" --generate-docs "$gen" >/dev/null
done
install -m 0644 "$gen"/man1/*.1 "$root/usr/share/man/man1/"
install -m 0644 etc/man/*.5 "$root/usr/share/man/man5/"
install -m 0644 etc/man/*.8 "$root/usr/share/man/man8/"
gzip -9n "$root"/usr/share/man/man*/*
install -m 0644 "$gen"/completions/bash/* "$root/usr/share/bash-completion/completions/"
install -m 0644 "$gen"/completions/zsh/* "$root/usr/share/zsh/vendor-completions/"
install -m 0644 "$gen"/completions/fish/* "$root/usr/share/fish/vendor_completions.d/"

install -m 0644 README.md docs/*.md "$root/usr/share/doc/secpol/"
install -m 0644 etc/debian/copyright "$root/usr/share/doc/secpol/copyright"
gzip -9nc etc/debian/changelog >"$root/usr/share/doc/secpol/changelog.Debian.gz"
chmod 0644 "$root/usr/share/doc/secpol/changelog.Debian.gz"

for s in postinst prerm postrm; do
    install -m 0755 "etc/debian/$s" "$root/DEBIAN/$s"
done
printf '/etc/secpol/policy\n/etc/secpol/secpolgenerate.conf\n' >"$root/DEBIAN/conffiles"
# A shared object in a library directory: ldconfig runs after it is installed or removed.
printf 'activate-noawait ldconfig\n' >"$root/DEBIAN/triggers"

# Library dependencies as dpkg-shlibdeps finds them (it wants a debian/control to read).
shl=$(mktemp -d)
mkdir -p "$shl/debian"
printf 'Source: secpol\n\nPackage: secpol\nArchitecture: any\n' >"$shl/debian/control"
bins=$(readlink -f "$root"/usr/bin/* "$root/usr/lib/$multiarch/libsecpol-preload.so")
shlibs=$(cd "$shl" && dpkg-shlibdeps -O $bins 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
rm -rf "$shl"
[ -n "$shlibs" ] || { echo "package.sh: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<EOF
Package: secpol
Version: $debrev
Architecture: $arch
Maintainer: secpol maintainers <secpol-maintainers@example.org>
Installed-Size: $size
Depends: $shlibs, adduser
Recommends: bash-completion
Section: admin
Priority: optional
Description: policy-learning security toolchain (QNX secpol for Linux)
 secpol watches which privileges each type of process really uses (an eBPF
 tracer on the kernel's capability checks, and a preload library for
 processes that manage their own capabilities), learns a least-privilege
 policy in the QNX secpol language that says which process first needed each
 rule, shows checks and failures live, and starts processes under a type with
 that policy enforced (capabilities, no_new_privs, Landlock).
 .
 This package has secpoltrace, secpolgenerate, secpolmonitor, secpolctl, the
 preload library, systemd units and a boot script.
EOF
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | LC_ALL=C sort \
    | xargs md5sum >DEBIAN/md5sums)
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/triggers" "$root/DEBIAN/md5sums"
deb="$out/secpol_${debrev}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
