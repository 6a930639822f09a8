#!/bin/bash
# Try dkms and dkms-hook without changing this machine: build the two
# programs, make a throwaway root with this machine's kernel headers linked
# in, register the example module (examples/hello-dkms) with `dkms`, let
# `dkms-hook autoinstall` build and install it for that kernel, and show the
# result. Nothing is written outside the throwaway root and cargo's target
# directory; /var/lib/dkms, /usr/src and /lib/modules are only read.
#
# Usage: examples/try.sh [KERNEL-VERSION]
#   KERNEL-VERSION       whose installed headers to build against (default:
#                        the running kernel's when installed, else the newest)
# Environment:
#   DKMS_HOOK_BIN_DIR    a directory holding dkms and dkms-hook already built
#                        (then nothing is compiled; the tests use this)
#   DKMS_HOOK_KEEP_ROOT  1: keep the throwaway root afterwards to look around
set -euo pipefail

# Without cargo there is nothing to build the programs with: say how to get
# a toolchain before anything else happens.
if [ -z "${DKMS_HOOK_BIN_DIR:-}" ] && ! command -v cargo >/dev/null 2>&1; then
    echo "try.sh: cargo not found; get a Rust toolchain with: curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh, then . \"\$HOME/.cargo/env\" and run this again." >&2
    exit 1
fi

examples=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$examples")

# Print a heading.
step() {
    printf '\n==> %s\n' "$*"
}

# Print a dkms or dkms-hook command line as a user would type it, then run
# the binary from $bin.
run() {
    printf '$ %s\n' "$*"
    "$bin/$1" "${@:2}"
}

# The headers directory of kernel $1, when its headers are installed (a
# kbuild Makefile and the kernel's .config).
headers_of() {
    local d
    for d in "/lib/modules/$1/build" "/usr/src/linux-headers-$1" "/usr/src/kernels/$1"; do
        if [ -f "$d/Makefile" ] && [ -f "$d/.config" ]; then
            readlink -f "$d"
            return 0
        fi
    done
    return 1
}

# Every kernel version whose headers are installed, oldest first.
kernels_with_headers() {
    local d k
    for d in /lib/modules/*/build /usr/src/linux-headers-* /usr/src/kernels/*; do
        if [ ! -f "$d/Makefile" ] || [ ! -f "$d/.config" ]; then
            continue
        fi
        case $d in
        /lib/modules/*) k=${d#/lib/modules/} k=${k%/build} ;;
        /usr/src/linux-headers-*) k=${d#/usr/src/linux-headers-} ;;
        *) k=${d#/usr/src/kernels/} ;;
        esac
        printf '%s\n' "$k"
    done | sort -V -u
}

kver=${1:-}
if [ -z "$kver" ]; then
    if headers_of "$(uname -r)" >/dev/null; then
        kver=$(uname -r)
    else
        kver=$(kernels_with_headers | tail -n 1)
    fi
fi
if [ -z "$kver" ] || ! headers=$(headers_of "$kver"); then
    echo "try.sh: no kernel headers found${kver:+ for $kver}." >&2
    echo "Install them first, e.g. on Debian: apt-get install linux-headers-$(dpkg --print-architecture 2>/dev/null || echo amd64)" >&2
    exit 1
fi
arch=$(uname -m)

if [ -n "${DKMS_HOOK_BIN_DIR:-}" ]; then
    bin=$DKMS_HOOK_BIN_DIR
else
    step "Build dkms and dkms-hook (cargo build --release)"
    (cd "$repo" && cargo build --release --locked --bin dkms --bin dkms-hook)
    bin=${CARGO_TARGET_DIR:-$repo/target}/release
fi
for b in dkms dkms-hook; do
    if [ ! -x "$bin/$b" ]; then
        echo "try.sh: $bin/$b is missing" >&2
        exit 1
    fi
done

step "Make a throwaway root with the headers of $kver linked in"
root=$(mktemp -d "${TMPDIR:-/tmp}/dkms-hook-try.XXXXXX")
root=$(cd "$root" && pwd -P)
cleanup() {
    if [ "${DKMS_HOOK_KEEP_ROOT:-}" = 1 ]; then
        printf '\nThe throwaway root is kept: %s (rm -rf it when done).\n' "$root"
    else
        rm -rf "$root"
    fi
}
trap cleanup EXIT
mkdir -p "$root"/{etc/dkms,var/lib/dkms,usr/src,boot} "$root/lib/modules/$kver/kernel"
# The distribution decides where modules go (/updates/dkms on Debian).
cp /etc/os-release "$root/etc/os-release" 2>/dev/null || printf 'ID=debian\n' >"$root/etc/os-release"
# What depmod reads, and what makes the kernel count as installed.
for f in modules.dep modules.order modules.builtin modules.builtin.modinfo; do
    : >"$root/lib/modules/$kver/$f"
done
: >"$root/boot/vmlinuz-$kver"
cp "$headers/.config" "$root/boot/config-$kver"
# lib/modules/K/build -> /usr/src/linux-headers-K, as on Debian; dkms reads
# that link inside the root, where usr/src/linux-headers-K leads back to this
# machine's headers (read only).
ln -s "$(realpath --relative-to="$root/usr/src" "$headers")" "$root/usr/src/linux-headers-$kver"
ln -s "/usr/src/linux-headers-$kver" "$root/lib/modules/$kver/build"
echo "root:    $root"
echo "headers: $headers"

step "Install the module's sources, as a *-dkms package does, and register them"
cp -r "$examples/hello-dkms" "$root/usr/src/hello-1.0"
run dkms --root "$root" add hello/1.0

step "Build and install every AUTOINSTALL module for $kver, as the kernel hooks do"
run dkms-hook --root "$root" autoinstall -k "$kver"

step "The result"
run dkms --root "$root" status
ko=$(find "$root/lib/modules/$kver" -name 'hello.ko*' -print -quit)
if [ -z "$ko" ]; then
    echo "try.sh: hello.ko was not installed under $root/lib/modules/$kver" >&2
    exit 1
fi
echo "module:   ${ko#"$root"}"
if command -v modinfo >/dev/null 2>&1 || [ -x /sbin/modinfo ]; then
    echo "vermagic: $(PATH=$PATH:/sbin modinfo -F vermagic "$ko")"
fi
echo "make.log: /var/lib/dkms/hello/1.0/$kver/$arch/log/make.log"
echo "(each path inside the throwaway root; this machine was not changed)"
