#!/usr/bin/env bash
# Builds the Debian package, installs it with dpkg -i, checks what an admin relies on, and
# purges it again, leaving the machine as it was (user, group, /etc/secpol, /var/lib/secpol,
# /var/log/secpol are put back as they were). Run as root; scripts/test.sh calls it.
#   checks: lintian (no errors), man -w for every page, bash completion, --version of each
#   binary, systemd-analyze verify of the installed units (Type=notify), the secpol user,
#   conffiles (a changed one survives a reinstall), the preload library loads, and a purge
#   that leaves none of the package's files.
# SECPOL_PACKAGE_PROFILE (release, or debug: the binaries CI already built) goes to package.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "package-check: $*"; }
fail() { echo "package-check: FAILED: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || { say "skipped: needs root (dpkg -i)"; [ -z "${CI:-}" ] || exit 1; exit 0; }
if dpkg-query -W -f='${Status}' secpol 2>/dev/null | grep -q "installed"; then
    fail "a secpol package is installed already; this check installs and purges its own"
fi

deb=$(bash scripts/package.sh | tail -n 1)
[ -f "$deb" ] || fail "scripts/package.sh made no package"
say "built $deb ($(du -k "$deb" | cut -f1) KiB)"

lintian_out=$(lintian --fail-on error "$deb" 2>&1 | grep -v '^running with root privileges') \
    || { echo "$lintian_out" >&2; fail "lintian reports errors"; }
say "lintian: no errors${lintian_out:+; remaining (docs/packaging.md explains them):}"
[ -z "$lintian_out" ] || echo "$lintian_out" | sed 's/^/    /'

# What the package may change, as it is now.
keep=$(mktemp -d)
had_user=0; getent passwd secpol >/dev/null && had_user=1
had_group=0; getent group secpol >/dev/null && had_group=1
for d in /etc/secpol /var/lib/secpol /var/log/secpol; do
    if [ -e "$d" ]; then
        mkdir -p "$keep$(dirname "$d")"
        cp -a "$d" "$keep$d"
    fi
done
restore() {
    local status=$?
    if dpkg-query -W -f='${Status}' secpol 2>/dev/null | grep -q "installed\|config-files"; then
        dpkg --purge secpol >/dev/null 2>&1 || true
    fi
    for d in /etc/secpol /var/lib/secpol /var/log/secpol; do
        rm -rf "$d"
        [ ! -e "$keep$d" ] || cp -a "$keep$d" "$d"
    done
    [ $had_user = 1 ] || ! getent passwd secpol >/dev/null || userdel secpol
    [ $had_group = 1 ] || ! getent group secpol >/dev/null || groupdel secpol
    rm -rf "$keep"
    exit $status
}
trap restore EXIT

export DEBIAN_FRONTEND=noninteractive
dpkg -i --force-confold "$deb" >/dev/null </dev/null || fail "dpkg -i $deb"
say "installed"

for page in secpolctl secpoltrace secpolgenerate secpolmonitor secpolctl-on secpolctl-report \
    "5 secpol-policy" "5 secpolgenerate.conf" "8 secpol-boot"; do
    # shellcheck disable=SC2086
    where=$(man -w $page) || fail "man -w $page finds no page"
    case "$where" in /usr/share/man/*) ;; *) fail "man -w $page: $where is not the package's" ;; esac
done
say "man pages: man -w $(man -w secpolctl)"

complete_line=$(bash -c 'source /usr/share/bash-completion/completions/secpolctl && complete -p secpolctl') \
    || fail "bash completion for secpolctl"
say "bash completion: $complete_line"
[ -s /usr/share/zsh/vendor-completions/_secpolctl ] || fail "no zsh completion"
[ -s /usr/share/fish/vendor_completions.d/secpolctl.fish ] || fail "no fish completion"

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
for b in secpolctl secpoltrace secpolgenerate secpolmonitor; do
    got=$("/usr/bin/$b" --version) || fail "$b --version"
    [ "$got" = "$b $version" ] || fail "$b --version says '$got', not '$b $version'"
done
say "versions: $(/usr/bin/secpolctl --version)"

verify=$(systemd-analyze verify /lib/systemd/system/secpoltrace.service \
    /lib/systemd/system/secpolgenerate.service /lib/systemd/system/secpolmonitor.service 2>&1) \
    || { echo "$verify" >&2; fail "systemd-analyze verify"; }
[ -z "$verify" ] || { echo "$verify" >&2; fail "systemd-analyze verify has complaints"; }
for u in secpoltrace secpolgenerate secpolmonitor; do
    grep -qx 'Type=notify' "/lib/systemd/system/$u.service" || fail "$u.service is not Type=notify"
done
say "units: systemd-analyze verify clean, Type=notify"

getent passwd secpol >/dev/null && getent group secpol >/dev/null || fail "no secpol user and group"
[ "$(stat -c %U /var/lib/secpol)" = secpol ] || fail "/var/lib/secpol is not secpol's"
conffiles=$(dpkg-query -W -f='${Conffiles}\n' secpol)
for f in /etc/secpol/policy /etc/secpol/secpolgenerate.conf; do
    echo "$conffiles" | grep -q " $f " || fail "$f is not a conffile"
done
echo "# changed by the admin" >>/etc/secpol/secpolgenerate.conf
dpkg -i --force-confold "$deb" >/dev/null </dev/null || fail "dpkg -i (again)"
grep -q '^# changed by the admin$' /etc/secpol/secpolgenerate.conf || fail "a reinstall overwrote a changed conffile"
say "secpol user and group; conffiles kept when changed"

lib=$(dpkg -L secpol | grep '/libsecpol-preload.so$')
case "$lib" in /usr/lib/*-linux-*/libsecpol-preload.so) ;; *) fail "preload at $lib, not in the multiarch directory" ;; esac
LD_PRELOAD=$lib /bin/true || fail "a process with $lib preloaded fails"
say "preload: $lib"

files=$(dpkg -L secpol | while read -r f; do [ -d "$f" ] || echo "$f"; done)
dpkg --purge secpol >/dev/null </dev/null || fail "dpkg --purge secpol"
left=$(for f in $files; do [ ! -e "$f" ] || echo "$f"; done)
[ -z "$left" ] || fail "files left after the purge: $left"
say "purged: none of its $(echo "$files" | wc -l) files is left"
