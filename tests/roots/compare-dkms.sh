#!/bin/bash
# compare-dkms.sh: every *-dkms package of a Debian release, installed with
# apt once with the release's own dkms and once with dkms-hook's .deb, side
# by side. Run by hand (it builds every module of the archive twice; hours on
# two CPUs): the Debian-root tests of tests/it cover a sample on every CI run.
#
# Usage: tests/roots/compare-dkms.sh --deb DEB [-s SUITE] [-o OUT] [PACKAGE...]
#
#   --deb DEB   dkms-hook's .deb (e.g. from dpkg-buildpackage -b -us -uc -d)
#   -s SUITE    the release: trixie (default) or bookworm
#   -o OUT      where the roots, logs and the table go (default
#               /var/tmp/compare-dkms-SUITE; roots of an earlier run are reused)
#   PACKAGE     packages to compare (default: every *-dkms package of the
#               release's main, dh-dkms aside, smallest download first)
#
# Two roots of SUITE (tests/roots/debian-root.sh), each with the headers of
# the release's newest generic amd64 kernel: "theirs" with the release's dkms,
# "ours" with DEB. In each, one package at a time: `apt-get install` it, then
# record apt's exit status, `dpkg --audit`, `dkms status`, and every module
# file under /lib/modules/K/updates with its vermagic and srcversion (a hash
# of the module's sources, the same when the same sources were built); then
# `apt-get purge` it and what it pulled in, so the next package starts from
# the same state. The roots work one after the other, at nice 10.
#
# OUT/table.md gets one row per package: ours, theirs, the verdict
# ("same": both apt runs clean and the same module files with the same
# vermagic and srcversion; "ours better", "worse", "both fail"), and the
# difference. OUT/<root>/<package>.log keeps apt's output, OUT/<root>/
# <package>.facts what was recorded.
set -euo pipefail

here=$(cd "$(dirname "$(readlink -f -- "$0")")" && pwd)
roots=$here/debian-root.sh
suite=trixie deb='' out=''
usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit "${1:-2}"; }
while (($#)); do
    case $1 in
        --deb) deb=$(readlink -f -- "${2:?--deb needs a file}"); shift 2 ;;
        -s) suite=${2:?-s needs a suite}; shift 2 ;;
        -o) out=${2:?-o needs a directory}; shift 2 ;;
        -h | --help) usage 0 ;;
        -*) echo "compare-dkms.sh: unknown option $1" >&2; usage ;;
        *) break ;;
    esac
done
[[ -f $deb ]] || { echo "compare-dkms.sh: --deb names no file" >&2; usage; }
[[ $(id -u) == 0 ]] || { echo "compare-dkms.sh: must run as root" >&2; exit 2; }
out=${out:-/var/tmp/compare-dkms-$suite}
# The builds are heavy: let everything else on the machine go first.
renice -n 10 $$ >/dev/null
mkdir -p "$out"
APT=(apt-get -y -q -o Dpkg::Use-Pty=0 -o Acquire::Retries=3 --no-install-recommends)

in_root() { "$roots" run "$out/root-$1" "${@:2}"; }

# The newest generic amd64 kernel of the release's own series whose headers
# it has (Debian 12's archive also carries 6.12.<N>+deb12 kernels).
newest_kernel() {
    local re
    case $suite in
        bookworm) re='6\.1\.0-[0-9]+' ;;
        *) re='[0-9.]+\+deb[0-9]+' ;;
    esac
    in_root "$1" sh -c "apt-cache search --names-only '^linux-headers-$re-amd64\$' |
        awk '{print \$1}' | sort -V | tail -n 1" | sed 's/^linux-headers-//'
}

# make_root NAME: a root of SUITE with the newest kernel's headers and, for
# "theirs", the release's dkms; for "ours", DEB. Reused when already made.
make_root() {
    local name=$1 k
    if [[ -f $out/root-$name/.compare-ready ]]; then
        return
    fi
    "$roots" make -s "$suite" "$out/root-$name" >/dev/null
    in_root "$name" apt-get -q update >/dev/null
    k=$(newest_kernel "$name")
    in_root "$name" "${APT[@]}" install "linux-headers-$k" >"$out/root-$name.setup.log" 2>&1
    if [[ $name == theirs ]]; then
        in_root "$name" "${APT[@]}" install dkms >>"$out/root-$name.setup.log" 2>&1
    else
        cp -- "$deb" "$out/root-$name/tmp/"
        in_root "$name" "${APT[@]}" install "/tmp/$(basename "$deb")" >>"$out/root-$name.setup.log" 2>&1
    fi
    in_root "$name" apt-mark showmanual >"$out/root-$name/.compare-manual"
    echo "$k" >"$out/root-$name/.compare-ready"
}

# facts NAME PKG: what the install left, one fact per line, sorted.
facts() {
    local k
    k=$(cat "$out/root-$1/.compare-ready")
    # shellcheck disable=SC2016  # expanded inside the root
    in_root "$1" sh -c '
        k=$1
        cd "/lib/modules/$k/updates" 2>/dev/null || exit 0
        find . -type f -name "*.ko*" | sort | while read -r f; do
            echo "module ${f#./} vermagic=$(modinfo -F vermagic "$f" | tr " " _) srcversion=$(modinfo -F srcversion "$f")"
        done' facts "$k"
    in_root "$1" sh -c 'dkms status 2>/dev/null | sed "s/^/status /"'
    in_root "$1" sh -c 'dpkg --audit | sed "s/^/audit /"'
}

# one NAME PKG: install, record, purge.
one() {
    local name=$1 pkg=$2 rc=0 dir=$out/$1
    mkdir -p "$dir"
    in_root "$name" "${APT[@]}" install "$pkg" >"$dir/$pkg.log" 2>&1 || rc=$?
    {
        echo "apt $rc"
        facts "$name" "$pkg"
    } >"$dir/$pkg.facts"
    # Back to the starting state: the package, and what came with it.
    in_root "$name" "${APT[@]}" purge "$pkg" >>"$dir/$pkg.log" 2>&1 || true
    in_root "$name" dpkg --configure -a >>"$dir/$pkg.log" 2>&1 || true
    in_root "$name" sh -c 'apt-mark showmanual | grep -vxF -f /.compare-manual | xargs -r apt-mark auto' \
        >>"$dir/$pkg.log" 2>&1 || true
    in_root "$name" "${APT[@]}" autoremove --purge >>"$dir/$pkg.log" 2>&1 || true
}

# The module lines of a facts file, without the signature-dependent parts.
modules_of() { grep '^module ' "$1" || true; }

# verdict PKG: one table row.
verdict() {
    local pkg=$1 o=$out/ours/$1.facts t=$out/theirs/$1.facts oa ta om tm oc tc v why
    oa=$(sed -n 's/^apt //p' "$o") ta=$(sed -n 's/^apt //p' "$t")
    om=$(modules_of "$o") tm=$(modules_of "$t")
    oc=$( [[ $oa == 0 ]] && ! grep -q '^audit ' "$o" && echo clean || echo "apt $oa")
    tc=$( [[ $ta == 0 ]] && ! grep -q '^audit ' "$t" && echo clean || echo "apt $ta")
    local on tn
    on=$(grep -c '^module ' "$o" || true) tn=$(grep -c '^module ' "$t" || true)
    if [[ $oc == clean && $tc == clean && $om == "$tm" ]]; then
        v=same why=""
    elif [[ $oc != clean && $tc != clean ]]; then
        v="both fail" why="$(grep -m1 -E 'Error!|error:' "$out/ours/$pkg.log" | cut -c1-100 || true)"
    elif [[ $oc == clean && $tc != clean ]]; then
        v="ours better" why="theirs: $tc"
    elif [[ $oc != clean ]]; then
        v=worse why="ours: $oc; $(grep -m1 -E 'Error!|error' "$out/ours/$pkg.log" | cut -c1-100 || true)"
    else
        v=different why="$(diff <(echo "$om") <(echo "$tm") | grep '^[<>]' | head -n 2 | tr '\n' ' ' | cut -c1-120)"
    fi
    printf '| %s | %s, %s module(s) | %s, %s module(s) | %s | %s |\n' "$pkg" "$oc" "$on" "$tc" "$tn" "$v" "$why"
}

make_root theirs
make_root ours
if (($# == 0)); then
    # shellcheck disable=SC2016
    mapfile -t pkgs < <(in_root theirs sh -c '
        apt-cache search --names-only -- "-dkms$" | awk "{print \$1}" | grep -vx dh-dkms |
        while read -r p; do echo "$(apt-cache show --no-all-versions "$p" | sed -n "s/^Size: //p") $p"; done |
        sort -n | awk "{print \$2}"')
else
    pkgs=("$@")
fi
echo "compare-dkms: ${#pkgs[@]} packages, kernel $(cat "$out/root-theirs/.compare-ready")" >&2
for pkg in "${pkgs[@]}"; do
    for name in theirs ours; do
        if [[ ! -f $out/$name/$pkg.facts ]]; then
            start=$EPOCHREALTIME
            one "$name" "$pkg"
            awk -v n="$name $pkg" -v s="$start" -v e="$EPOCHREALTIME" 'BEGIN { printf "compare-dkms: %s: %.0f s\n", n, e - s }' >&2
        fi
    done
done
{
    echo "| package | dkms-hook | $suite's dkms | verdict | reason |"
    echo "| --- | --- | --- | --- | --- |"
    for pkg in "${pkgs[@]}"; do verdict "$pkg"; done
} >"$out/table.md"
cat "$out/table.md"
