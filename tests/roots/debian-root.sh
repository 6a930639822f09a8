#!/bin/bash
# debian-root.sh: a throwaway Debian root, Debian 12 (bookworm) or Debian 13
# (trixie), for the checks run by hand (tests/offline-build.sh,
# tests/roots/compare-dkms.sh), made the way the Debian-root tests of
# tests/it make theirs (tests/it/harness/debian_chroot.rs), from the same
# cached base tarball of the release.
#
# Usage: tests/roots/debian-root.sh make [-s SUITE] DIR
#        tests/roots/debian-root.sh run [-w WORKDIR] DIR CMD [ARG...]
#        tests/roots/debian-root.sh remove DIR
#
#   make    a fresh root in DIR (one already there is removed first):
#           `debootstrap --variant=minbase SUITE` (bookworm unless -s says
#           trixie) unpacked from tests/.cache/debootstrap-SUITE-minbase-<arch>.tgz
#           (made once per release with `debootstrap --make-tarball`), apt
#           pointed at the host's Debian mirrors for SUITE, SUITE-updates and
#           SUITE-security (a suite the host does not name: the host's mirror
#           of its own release, which serves both; else deb.debian.org), the
#           host's resolv.conf, and a policy-rc.d that starts no service. In
#           a trixie root update-initramfs is diverted to true: trixie's
#           headers packages pull in their kernel images, and no such root is
#           booted. Its apt lists are not fetched yet. Prints DIR.
#   run     CMD inside DIR as root, in a clean environment (PATH, HOME,
#           LANG=C.UTF-8, DEBIAN_FRONTEND=noninteractive, the host's proxy
#           variables), in WORKDIR (a path inside the root; default /), with
#           /proc, /sys, /dev, /dev/pts and a /dev/shm mounted in a mount
#           namespace of its own, so the mounts end with CMD and the host
#           never sees them. Under `unshare --net` it runs without network.
#           The exit status is CMD's.
#   remove  delete DIR; refused while anything is mounted below it, or when
#           DIR is not empty and does not look like a Debian root.
#
# DIR must lie under /tmp or /var/tmp. Needs root, debootstrap, dpkg, and
# unshare and chroot (util-linux, coreutils).
set -euo pipefail

here=$(cd "$(dirname "$(readlink -f -- "$0")")" && pwd)
cache=$(dirname "$here")/.cache
suite=bookworm

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit "${1:-2}"; }
log() { printf 'debian-root.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# The root directory DIR names, refused outside /tmp and /var/tmp.
root_dir() {
    local dir
    mkdir -p -- "$(dirname -- "$1")"
    dir=$(readlink -f -- "$1")
    case $dir in
        /tmp/?* | /var/tmp/?*) echo "$dir" ;;
        *) die "refusing $dir: a root must lie under /tmp or /var/tmp" ;;
    esac
}

# "URI SUITE" for every enabled deb source of the host, one-line and deb822.
host_sources() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] || continue
        sed -e 's/#.*//' "$f" | awk '$1 == "deb" {
            i = 2
            if ($i ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }
            if (i < NF) print $i, $(i + 1)
        }'
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        awk 'function flush() {
                if (deb && enabled) for (u = 1; u <= nu; u++) for (s = 1; s <= ns; s++) print uri[u], suite[s]
                deb = 0; enabled = 1; nu = 0; ns = 0
            }
            BEGIN { enabled = 1 }
            /^[[:space:]]*$/ { flush(); next }
            /^#/ { next }
            tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
            tolower($1) == "enabled:" { enabled = tolower($2) != "no" }
            tolower($1) == "uris:" { for (i = 2; i <= NF; i++) uri[++nu] = $i }
            tolower($1) == "suites:" { for (i = 2; i <= NF; i++) suite[++ns] = $i }
            END { flush() }' "$f"
    done
}

# The host's mirror for suite $2 among the sources $1, else $3.
mirror_for() {
    local uri
    uri=$(awk -v s="$2" '$2 == s { print $1; exit }' <<<"$1")
    uri=${uri%/}
    echo "${uri:-$3}"
}

# The base tarball, made once: `debootstrap --make-tarball` from mirror $1.
base_tarball() {
    local arch tarball work
    arch=$(dpkg --print-architecture)
    tarball=$cache/debootstrap-$suite-minbase-$arch.tgz
    if [[ ! -f $tarball ]]; then
        mkdir -p "$cache"
        work=$(mktemp -d "$cache/debootstrap.XXXXXX")
        log "debootstrap --make-tarball: $tarball (once; the next roots unpack it)"
        if ! debootstrap --variant=minbase --arch="$arch" --make-tarball="$work/base.tgz" \
            "$suite" "$work/target" "$1" >"$work/log" 2>&1; then
            tail -n 20 "$work/log" >&2
            rm -rf -- "$work"
            die "debootstrap --make-tarball failed"
        fi
        mv -f -- "$work/base.tgz" "$tarball"
        rm -rf -- "$work"
    fi
    echo "$tarball"
}

# make [-s SUITE] DIR
make_root() {
    local dir sources host_suite host_mirror host_security mirror updates security tarball logfile
    if [[ ${1-} == -s ]]; then
        suite=${2:?-s needs a suite}
        shift 2
    fi
    (($# == 1)) || usage
    case $suite in
        bookworm | trixie) ;;
        *) die "unknown suite '$suite' (bookworm or trixie)" ;;
    esac
    dir=$(root_dir "$1")
    command -v debootstrap >/dev/null || die "needs debootstrap (apt-get install debootstrap)"
    remove_root "$dir"
    sources=$(host_sources)
    host_suite=$(awk '$2 !~ /-/ { print $2; exit }' <<<"$sources")
    host_mirror=$(mirror_for "$sources" "${host_suite:-bookworm}" http://deb.debian.org/debian)
    host_security=$(mirror_for "$sources" "${host_suite:-bookworm}-security" http://deb.debian.org/debian-security)
    mirror=$(mirror_for "$sources" "$suite" "$host_mirror")
    updates=$(mirror_for "$sources" "$suite-updates" "$mirror")
    security=$(mirror_for "$sources" "$suite-security" "$host_security")
    tarball=$(base_tarball "$mirror")
    logfile=$(mktemp)
    if ! debootstrap --variant=minbase --arch="$(dpkg --print-architecture)" \
        --unpack-tarball="$tarball" "$suite" "$dir" "$mirror" >"$logfile" 2>&1; then
        tail -n 20 "$logfile" >&2
        rm -f -- "$logfile"
        die "debootstrap --unpack-tarball $tarball failed"
    fi
    rm -f -- "$logfile"
    printf '#!/bin/sh\n# debian-root.sh: no service starts inside the root\nexit 101\n' \
        >"$dir/usr/sbin/policy-rc.d"
    chmod 0755 "$dir/usr/sbin/policy-rc.d"
    printf 'deb %s %s main\ndeb %s %s-updates main\ndeb %s %s-security main\n' \
        "$mirror" "$suite" "$updates" "$suite" "$security" "$suite" >"$dir/etc/apt/sources.list"
    rm -f -- "$dir/etc/resolv.conf"
    if [[ -e /etc/resolv.conf ]]; then
        cp -L -- /etc/resolv.conf "$dir/etc/resolv.conf"
    fi
    if [[ $suite == trixie ]]; then
        chroot "$dir" dpkg-divert --local --rename --add /usr/sbin/update-initramfs >/dev/null
        ln -s /bin/true "$dir/usr/sbin/update-initramfs"
    fi
    echo "$dir"
}

# run [-w WORKDIR] DIR CMD [ARG...]
run_in_root() {
    local workdir=/ dir
    if [[ ${1-} == -w ]]; then
        workdir=${2:?-w needs a directory}
        shift 2
    fi
    (($# >= 2)) || usage
    dir=$(root_dir "$1")
    shift
    [[ -x $dir/bin/sh && -d $dir/etc ]] || die "$dir is not a root (make it with: $0 make $dir)"
    local vars=(
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
        HOME=/root
        LANG=C.UTF-8
        DEBIAN_FRONTEND=noninteractive
        TERM="${TERM:-dumb}"
    )
    local v
    for v in http_proxy https_proxy ftp_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
        [[ -z ${!v-} ]] || vars+=("$v=${!v}")
    done
    # shellcheck disable=SC2016  # expanded by the inner shells
    exec unshare --mount --propagation private -- /bin/bash -c '
        set -e
        root=$1 workdir=$2 n=$3
        shift 3
        env=("${@:1:n}")
        shift "$n"
        mount -t proc proc "$root/proc"
        mount --bind /sys "$root/sys"
        mount --bind /dev "$root/dev"
        mount --bind /dev/pts "$root/dev/pts"
        mount -t tmpfs -o mode=1777,nosuid,nodev shm "$root/dev/shm"
        exec /usr/bin/env -i "${env[@]}" /usr/sbin/chroot "$root" \
            /bin/sh -c '\''cd "$1" || exit 127; shift; exec "$@"'\'' run "$workdir" "$@"
    ' run-in-root "$dir" "$workdir" "${#vars[@]}" "${vars[@]}" "$@"
}

# True when something is mounted at or below $1 (in this mount namespace).
mounted_below() {
    awk -v d="$1" '{ m = $5; gsub(/\\040/, " ", m); if (m == d || index(m, d "/") == 1) found = 1 }
        END { exit !found }' /proc/self/mountinfo
}

# remove DIR
remove_root() {
    local dir
    dir=$(root_dir "$1")
    [[ -e $dir ]] || return 0
    ! mounted_below "$dir" || die "something is still mounted below $dir; not deleting it"
    if [[ -n $(ls -A -- "$dir") && ! -f $dir/etc/debian_version && ! -d $dir/debootstrap ]]; then
        die "$dir is not empty and does not look like a Debian root; not deleting it"
    fi
    rm -rf --one-file-system -- "$dir"
}

(($#)) || usage
[[ $1 == -h || $1 == --help ]] && usage 0
[[ $(id -u) == 0 ]] || die "must run as root"
case $1 in
    make) shift; make_root "$@" ;;
    run) shift; run_in_root "$@" ;;
    remove) (($# == 2)) || usage; remove_root "$2" ;;
    *) usage ;;
esac
