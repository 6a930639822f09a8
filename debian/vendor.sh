#!/bin/bash
# Make the release source tarball: the files git tracks at a commit, plus every
# crate of Cargo.lock under vendor/ and a .cargo/config.toml that points cargo
# at vendor/, so the package builds with no network (debian/rules and
# rpm/dkms-hook.spec pass --offline when vendor/ exists).
#
# Usage: debian/vendor.sh [--dsc] [--rev REV] [OUT_DIR]
#
#   OUT_DIR   where the tarballs go (default: ..)
#   --rev     the git revision to pack (default: HEAD; uncommitted changes are
#             not packed, so commit first)
#   --dsc     also run dpkg-source -b, which writes the Debian source package
#             (.dsc and .debian.tar.xz) next to the tarball
#
# It writes
#   dkms-hook_<version>.orig.tar.xz  the Debian upstream tarball, top directory
#                                    dkms-hook-<version>/ (debian/ is left out:
#                                    it travels in the .debian.tar.xz)
#   dkms-hook-<version>.tar.xz       the same tree with debian/, Source0 of the RPM
# <version> is the upstream part of the newest debian/changelog entry, which
# must match Cargo.toml's version.
#
# This is the only step that needs the network (crates.io, or a warm cargo
# cache). The vendored crates are never committed: .gitignore lists vendor/
# and .cargo/config.toml.
set -euo pipefail

want_dsc=0 rev=HEAD out=..
while (($#)); do
    case $1 in
        --dsc) want_dsc=1; shift ;;
        --rev) rev=${2:?--rev needs a revision}; shift 2 ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "vendor.sh: unknown option $1" >&2; exit 2 ;;
        *) out=$1; shift ;;
    esac
done

top=$(git rev-parse --show-toplevel)
cd "$top"
mkdir -p "$out"
out=$(cd "$out" && pwd)

deb_version=$(sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' debian/changelog)
version=${deb_version%-*}
cargo_version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
if [ "$version" != "$cargo_version" ]; then
    echo "vendor.sh: debian/changelog says $version, Cargo.toml says $cargo_version" >&2
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tree=$work/dkms-hook-$version

echo "vendor.sh: exporting $rev"
mkdir -p "$tree"
git archive --format=tar "$rev" | tar -C "$tree" -xf -

echo "vendor.sh: cargo vendor"
mkdir -p "$tree/.cargo"
# The config cargo prints is rewritten to a relative directory: cargo
# resolves it against the directory that holds .cargo/.
(cd "$tree" && cargo vendor --quiet --locked --versioned-dirs vendor >/dev/null)
cat >"$tree/.cargo/config.toml" <<'EOF'
# Written by debian/vendor.sh: build from the crates in vendor/, never the network.
[source.crates-io]
replace-with = "vendored-sources"

[source.vendored-sources]
directory = "vendor"
EOF

# Reproducible archives: fixed order, owner and times (the commit's date).
stamp=$(git log -1 --format=%ct "$rev")
pack() { # pack TARBALL [tar options...]
    local tarball=$1
    shift
    tar -C "$work" --sort=name --owner=0 --group=0 --numeric-owner \
        --mtime="@$stamp" --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
        "$@" -cf - "dkms-hook-$version" | xz -T0 -6 >"$tarball"
    echo "vendor.sh: wrote $tarball ($(du -h "$tarball" | cut -f1))"
}
pack "$out/dkms-hook-$version.tar.xz"
pack "$out/dkms-hook_$version.orig.tar.xz" --exclude="dkms-hook-$version/debian"

if ((want_dsc)); then
    # dpkg-source wants the unpacked tree next to the orig tarball.
    cp "$out/dkms-hook_$version.orig.tar.xz" "$work/"
    (cd "$work" && dpkg-source -b "dkms-hook-$version" >/dev/null)
    cp "$work/dkms-hook_$deb_version.dsc" "$work/dkms-hook_$deb_version.debian.tar.xz" "$out/"
    echo "vendor.sh: wrote $out/dkms-hook_$deb_version.dsc"
fi
