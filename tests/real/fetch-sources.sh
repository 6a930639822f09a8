#!/bin/bash
# Fetch the Debian *-dkms packages the real-kernel test tier builds, and
# unpack them next to the download cache. Nothing here is committed: the
# cache lives under tests/.cache (gitignored) unless DKMS_HOOK_CACHE says
# otherwise.
#
#   DKMS_HOOK_CACHE  cache root (default: <repo>/tests/.cache)
#                    debs go to $DKMS_HOOK_CACHE/debs, trees to $DKMS_HOOK_CACHE/src/<pkg>/
#
# Also unpacks Debian's systemd-boot into $DKMS_HOOK_CACHE/bootctl (for
# bootctl). Prints the usr/src/<name>-<version> directories it found, one
# per line.
set -euo pipefail

PACKAGES=(v4l2loopback-dkms tp-smapi-dkms iptables-netflow-dkms acpi-call-dkms vpoll-dkms xtables-addons-dkms)

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${DKMS_HOOK_CACHE:-$repo/tests/.cache}
debs=$cache/debs
srcs=$cache/src
mkdir -p "$debs" "$srcs"

# Tests running in parallel may all ask for the sources at once: one at a time.
exec 9>"$cache/.fetch.lock"
flock 9

# As root, apt downloads as the _apt user, which cannot write to a cache in
# a root-owned checkout; it then falls back with a warning. Ask for root
# directly instead.
apt_opts=(-q)
if [ "$(id -u)" = 0 ]; then
    apt_opts+=(-o APT::Sandbox::User=root)
fi

for pkg in "${PACKAGES[@]}"; do
    # One .deb per package; a cached one is reused as is.
    deb=$(find "$debs" -maxdepth 1 -name "${pkg}_*.deb" -print | sort -V | tail -n 1)
    if [ -z "$deb" ]; then
        echo "fetch-sources: downloading $pkg" >&2
        # apt-get download writes into the current directory.
        (cd "$debs" && apt-get download "${apt_opts[@]}" "$pkg" >&2)
        deb=$(find "$debs" -maxdepth 1 -name "${pkg}_*.deb" -print | sort -V | tail -n 1)
        if [ -z "$deb" ]; then
            echo "fetch-sources: apt-get download $pkg produced no .deb in $debs" >&2
            exit 1
        fi
    fi
    dest=$srcs/$pkg
    stamp=$dest/.unpacked-from
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(basename "$deb")" ]; then
        continue
    fi
    # Unpack into a fresh directory, then swap it in, so an interrupted run
    # never leaves a half-unpacked tree that looks complete.
    tmp=$(mktemp -d "$srcs/.${pkg}.XXXXXX")
    dpkg-deb -x "$deb" "$tmp"
    basename "$deb" >"$tmp/.unpacked-from"
    rm -rf "$dest"
    mv "$tmp" "$dest"
done

# bootctl, for the boot guard's BLS test (tests/it/fake/boot_guard.rs):
# Debian's systemd-boot unpacked, not installed (installed, it would make
# this machine's kernel hooks its own). Unpacked into $cache/bootctl.
if [ ! -x "$cache/bootctl/usr/bin/bootctl" ]; then
    deb=$(find "$debs" -maxdepth 1 -name "systemd-boot_*.deb" -print | sort -V | tail -n 1)
    if [ -z "$deb" ]; then
        echo "fetch-sources: downloading systemd-boot (for bootctl)" >&2
        (cd "$debs" && apt-get download "${apt_opts[@]}" systemd-boot >&2)
        deb=$(find "$debs" -maxdepth 1 -name "systemd-boot_*.deb" -print | sort -V | tail -n 1)
    fi
    tmp=$(mktemp -d "$cache/.bootctl.XXXXXX")
    dpkg-deb -x "$deb" "$tmp"
    rm -rf "$cache/bootctl"
    mv "$tmp" "$cache/bootctl"
fi

for pkg in "${PACKAGES[@]}"; do
    found=0
    for d in "$srcs/$pkg"/usr/src/*-*/; do
        [ -f "$d/dkms.conf" ] || continue
        echo "${d%/}"
        found=1
    done
    if [ "$found" = 0 ]; then
        echo "fetch-sources: $pkg has no usr/src/<name>-<version>/dkms.conf" >&2
        exit 1
    fi
done
