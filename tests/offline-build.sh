#!/bin/bash
# Prove that the Debian source package builds with the distribution's own
# toolchain and no network: make the release source (debian/vendor.sh --dsc),
# unpack a clean Debian 12 root (tests/roots/debian-root.sh: debootstrap
# minbase, from a base tarball cached in tests/.cache/), install only what the
# .dsc's Build-Depends name (apt-get build-dep), then run dpkg-buildpackage,
# without -d, inside `unshare -n` (a network namespace with nothing but a
# loopback interface that is down).
#
# Usage: tests/offline-build.sh [--rust VERSION] [--all-targets] [--keep]
#                               [--root-only] [ROOT]
#
#   ROOT           the throwaway root (default /tmp/roots/dkms-hook-offline-build)
#   --rust VERSION install exactly this version of rustc-web/cargo-web before the
#                  build dependencies (e.g. 1.85.0+dfsg3-1~deb12u3, bookworm's
#                  main archive, to prove rust-version = "1.85"); default: the
#                  candidate apt picks (bookworm-security's, when configured)
#   --all-targets  afterwards also `cargo check --all-targets --offline` (the
#                  tests and their dev-dependencies) with the same toolchain
#   --keep         leave the root in place (default: removed at the end)
#   --root-only    stop once the clean root is ready and its apt lists are
#                  fetched (no source package, no build): checks the root step
#
# Needs root, git, cargo (for cargo vendor; crates from crates.io or the cargo
# cache), dpkg-dev, debootstrap and unshare; the first run also downloads
# Debian's base packages for the tarball. Each step prints its time. Takes
# 5-10 minutes on 2 CPUs, most of it the release build with link-time
# optimisation; too slow for CI, run it by hand before a release.
set -euo pipefail

rust='' all_targets=0 keep=0 root_only=0 root=/tmp/roots/dkms-hook-offline-build
while (($#)); do
    case $1 in
        --rust) rust=${2:?--rust needs a version}; shift 2 ;;
        --all-targets) all_targets=1; shift ;;
        --keep) keep=1; shift ;;
        --root-only) root_only=1; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "offline-build.sh: unknown option $1" >&2; exit 2 ;;
        *) root=$1; shift ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "offline-build.sh: must run as root" >&2; exit 2; }

cd "$(dirname "$(readlink -f "$0")")/.."
roots=tests/roots/debian-root.sh
start=$EPOCHREALTIME
step_name='' step_start=0
step() {
    step_end
    step_name=$1
    step_start=$EPOCHREALTIME
    echo "==> $step_name"
}
step_end() {
    if [ -n "$step_name" ]; then
        awk -v n="$step_name" -v s="$step_start" -v e="$EPOCHREALTIME" \
            'BEGIN { printf "<== %s: %.1f s\n", n, e - s }'
        step_name=''
    fi
}
cleanup() {
    step_end
    if ((keep == 0)); then
        "$roots" remove "$root" >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT
inroot() { # inroot [-w DIR] CMD...
    if [ "$1" = -w ]; then
        "$roots" run -w "$2" "$root" "${@:3}"
    else
        "$roots" run "$root" "$@"
    fi
}

if ((root_only)); then
    step "clean root: debian-root.sh make $root"
    "$roots" make "$root" >/dev/null
    step "apt lists inside the root"
    inroot apt-get -q update >/dev/null
    # shellcheck disable=SC2016  # expanded inside the root
    inroot sh -c '. /etc/os-release && echo "$PRETTY_NAME" && apt-cache policy apt | sed -n 1,3p'
    step_end
    echo "offline-build.sh: the root is ready (--root-only: no build)"
    exit 0
fi

deb_version=$(sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' debian/changelog)
version=${deb_version%-*}
out=$(mktemp -d)

step "release source: debian/vendor.sh --dsc (HEAD $(git rev-parse --short HEAD))"
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
    echo "warning: uncommitted changes are not part of the source package" >&2
fi
debian/vendor.sh --dsc "$out"
ls -l "$out"

step "clean root: debian-root.sh make $root"
"$roots" make "$root" >/dev/null
mkdir -p "$root/build"
cp "$out"/dkms-hook_"$version".orig.tar.xz "$out"/dkms-hook_"$deb_version".* "$root/build/"
rm -rf "$out"

step "build dependencies: apt-get build-dep (only what debian/control names)"
inroot apt-get -q update >/dev/null
if [ -n "$rust" ]; then
    inroot apt-get -q -y --no-install-recommends install \
        "rustc-web=$rust" "cargo-web=$rust" "libstd-rust-web-dev=$rust" >/dev/null
fi
inroot -w /build apt-get -q -y --no-install-recommends build-dep "./dkms-hook_$deb_version.dsc" \
    >"$root/build/build-dep.log" || { cat "$root/build/build-dep.log"; exit 1; }
sed -n '/^The following NEW packages/,/^[0-9]* upgraded/p' "$root/build/build-dep.log"
# shellcheck disable=SC2016  # dpkg-query's own format
inroot dpkg-query -W -f='${Package} ${Version}\n' rustc-web cargo-web rustc cargo debhelper 2>/dev/null |
    grep -v ' $' || true
inroot rustc --version
inroot cargo --version

step "unpack: dpkg-source -x"
inroot -w /build dpkg-source -x "dkms-hook_$deb_version.dsc" >/dev/null
chown -R nobody:nogroup "$root/build"

# Everything from here on runs without network.
offline() {
    unshare --net -- "$roots" run -w "/build/dkms-hook-$version" "$root" "$@"
}
step "network inside unshare -n"
offline sh -c 'cat /proc/net/dev | sed 1,2d; getent hosts deb.debian.org && exit 1; echo "no DNS, no route: offline"'

step "dpkg-buildpackage -us -uc (no -d), offline, as nobody"
offline setpriv --reuid=nobody --regid=nogroup --init-groups env HOME=/nonexistent \
    dpkg-buildpackage -us -uc >"$root/build/build.log" 2>&1 || {
    tail -n 60 "$root/build/build.log"
    echo "offline-build.sh: dpkg-buildpackage failed (log: $root/build/build.log)" >&2
    exit 1
}
grep -E '^ *(Compiling dkms-hook|Finished)|^dpkg-(buildpackage|deb|genchanges|source):' "$root/build/build.log"

step "result"
ls -l "$root"/build/*.deb
dpkg-deb -f "$root"/build/dkms-hook_"$deb_version"_*.deb Package Version Provides

if ((all_targets)); then
    step "cargo check --all-targets --locked --offline (tests and dev-dependencies)"
    offline setpriv --reuid=nobody --regid=nogroup --init-groups \
        env HOME=/nonexistent CARGO_HOME="/build/dkms-hook-$version/debian/cargo-home" \
        CARGO_TARGET_DIR=/build/check-target \
        cargo check --all-targets --all-features --locked --offline --quiet
fi
step_end
awk -v s="$start" -v e="$EPOCHREALTIME" 'BEGIN { printf "offline-build.sh: success in %.1f s\n", e - s }'
