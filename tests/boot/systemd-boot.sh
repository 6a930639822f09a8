#!/bin/bash
# systemd-boot.sh — prove dkms-hook on a booted Debian 12 or 13 with systemd.
#
# A Debian 12 (with --suite trixie, Debian 13) root is made with debootstrap
# (minbase + systemd + udev + kmod, no recommends) and changed with apt and
# dpkg in a chroot, at native speed; only the boots run in qemu (TCG, never
# KVM), each from a fresh ext4 disk image of the root made with `mke2fs -d`
# (no loop mounts), with the kernel and initrd from the root's /boot, a
# serial console, -no-reboot and a hard timeout. In every boot a oneshot
# unit (boot-proof.service, ordered after multi-user.target and
# dkms-hook.service) prints `BOOTPROOF ...` lines on the
# serial console and powers off. Three kernel ABIs of the archive are used:
# N (in the cached base root), M and P (the two newest): 6.1.0-<ABI>-amd64
# on Debian 12, 6.12.<N>+deb13-amd64 on Debian 13.
#
#  1. setup: our .deb through apt (it replaces dkms), then v4l2loopback-dkms
#     and acpi-call-dkms through apt (built for N); v4l2loopback is named in
#     /etc/modules-load.d/.
#  2. upgrade: `apt-get install linux-image-M linux-headers-M` builds both
#     modules for M. Boot M: uname -r, lsmod, modinfo -F vermagic and
#     `systemctl is-failed dkms-hook.service` are checked.
#  3. removal: `apt-get purge linux-image-N linux-headers-N` leaves no build
#     and no kernel-N-* link under /var/lib/dkms. A module that does not
#     compile is registered (`dkms add`, never built). Boot M: the module
#     still loads; dkms-hook.service tries the missing build, it fails, the
#     failure is in its journal, and boot goes on.
#  4. catch-up: `apt-get install linux-image-P` without headers (deferred:
#     `dkms-hook pending` lists P), then linux-headers-P with every dkms-hook
#     entry point replaced by a stub (a power cut before the hooks ran), so
#     P has headers and nothing built. Boot P: dkms-hook.service builds and
#     installs the modules, v4l2loopback is loaded by the end of boot, and
#     `dkms-hook pending` is empty.
#
# Usage: tests/boot/systemd-boot.sh [options]
#
#   --suite S       the Debian release: bookworm (default) or trixie
#   --deb FILE      install this dkms-hook .deb (default: build one from the
#                   files git lists, with dpkg-buildpackage -b -us -uc -d, in
#                   a copy under the cache directory)
#   --cache DIR     cache (default tests/.cache/boot-systemd): the base root
#                   tarball, apt's downloaded packages, the .deb build
#   --work DIR      where the root and disk images go (default: a new
#                   directory under ${TMPDIR:-/var/tmp}, removed at the end)
#   --keep          keep the work directory
#   --smp N         guest CPUs (default 2); --mem MB guest memory (default 1024)
#   --timeout S     hard limit per boot in seconds (default 900)
#
# Environment: BOOT_MIRROR (default http://deb.debian.org/debian) and
# BOOT_SECURITY_MIRROR (default http://deb.debian.org/debian-security);
# BOOT_ACCEL (default tcg; kvm where /dev/kvm is there and CI is not).
#
# Needs root, debootstrap, unshare, chroot, mke2fs (e2fsprogs), zstd,
# qemu-system-x86_64, timeout; dpkg-buildpackage and cargo without --deb.
# Never touches the host's /var/lib/dkms, /usr/src or /lib/modules: all of it
# happens in the root, whose mounts (/proc, /sys, /dev, apt's archive cache)
# exist only in a private mount namespace per command.
#
# Output: each step as `==> [T] STEP` ... `<== STEP: S s` (T seconds since the
# start), the console of each boot with `  | ` in front, the BOOTPROOF lines
# again as `proof[BOOT]: ...`, a `TIME boot BOOT: S s` line per boot, one
# `PASS point ...` or `FAIL point ...` line per checked fact, and at the end
# `RESULT: PASS` (exit 0) or `RESULT: FAIL` (exit 1).
set -euo pipefail

script_name=systemd-boot.sh
here=$(cd "$(dirname "$(readlink -f -- "$0")")" && pwd)
# shellcheck source=tests/boot/common.sh
. "$here/common.sh"
MODULE=v4l2loopback # named in /etc/modules-load.d/
BROKEN=e2e-broken   # registered in step 3, does not compile

repo=$(cd "$here/../.." && pwd)
deb='' cache=$repo/tests/.cache/boot-systemd work='' keep=0 smp=2 mem=1024 boot_timeout=900
mirror=${BOOT_MIRROR:-http://deb.debian.org/debian}
security=${BOOT_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
    exit "${1:-2}"
}
while (($#)); do
    case $1 in
    --deb) deb=$(readlink -f -- "${2:?--deb needs a file}") && shift 2 ;;
    --suite) SUITE=${2:?--suite needs a release} && shift 2 ;;
    --cache) cache=${2:?--cache needs a directory} && shift 2 ;;
    --work) work=${2:?--work needs a directory} && shift 2 ;;
    --keep) keep=1 && shift ;;
    --smp) smp=${2:?--smp needs a number} && shift 2 ;;
    --mem) mem=${2:?--mem needs a size in MB} && shift 2 ;;
    --timeout) boot_timeout=${2:?--timeout needs seconds} && shift 2 ;;
    -h | --help) usage 0 ;;
    *) echo "systemd-boot.sh: unknown argument $1" >&2 && usage ;;
    esac
done


case $SUITE in
bookworm | trixie) ;;
*) die "--suite: bookworm or trixie, not $SUITE" ;;
esac
[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot, mount namespaces)"
need=(debootstrap unshare chroot mount mke2fs zstd tar qemu-system-x86_64 timeout awk)
[ -n "$deb" ] || need+=(dpkg-buildpackage git)
for t in "${need[@]}"; do
    command -v "$t" >/dev/null 2>&1 || die "$t not found (.ci/run installs what this script needs)"
done
[ -z "$deb" ] || [ -f "$deb" ] || die "no such file: $deb"

start_work

# ============================================================== the run

echo "release: $SUITE; work directory: $work; cache: $cache; guest: -smp $smp -m $mem; timeout ${boot_timeout}s per boot"

step "base root"
if [ -f "$base_tar" ]; then
    echo "reusing $base_tar"
else
    echo "making $base_tar (debootstrap, kernel N)"
    make_base
fi
mkdir -p "$root"
zstd -q -d -T2 -c "$base_tar" | tar --numeric-owner --xattrs -C "$root" -xf -
N=$(cat "$root/etc/bootproof-base-kernel")
write_sources "$root"

step "apt-get update; pick the kernels"
inroot "apt-get -q update" | tail -n 3
mapfile -t ks < <(archive_kernels | grep -vx "$N" | tail -n 2)
[ "${#ks[@]}" = 2 ] || die "need two kernel ABIs besides $N in the archive, found: ${ks[*]}"
M=${ks[0]} P=${ks[1]}
echo "kernels: N=$N (base), M=$M (upgrade), P=$P (catch-up)"

if [ -z "$deb" ]; then
    step "build the .deb (dpkg-buildpackage)"
    build_deb
fi
echo "deb: $deb"

step "setup: install the .deb, v4l2loopback-dkms, acpi-call-dkms"
cp "$deb" "$root/tmp/"
inroot "${APT[*]} install /tmp/$(basename "$deb")"
inroot "dpkg -S /usr/sbin/dkms; dkms --version"
inroot "${APT[*]} install v4l2loopback-dkms acpi-call-dkms"
echo "$MODULE" >"$root/etc/modules-load.d/bootproof.conf"
install_proof_unit
inroot "dkms status"
check 1 "v4l2loopback installed for N=$N" installed_in_root v4l2loopback "$N"
check 1 "acpi-call installed for N=$N" installed_in_root acpi-call "$N"

step "upgrade: apt-get install linux-image-$M linux-headers-$M"
inroot "${APT[*]} install linux-image-$M linux-headers-$M"
inroot "dkms status"
check 2 "v4l2loopback installed for M=$M by apt's hooks" installed_in_root v4l2loopback "$M"
check 2 "acpi-call installed for M=$M by apt's hooks" installed_in_root acpi-call "$M"

boot upgrade "$M"
check 2 "uname -r is $M" proof upgrade "^uname-r $(rx "$M")\$"
check 2 "lsmod lists $MODULE" proof upgrade "^lsmod $MODULE "
check 2 "modinfo -F vermagic $MODULE starts with $M" proof upgrade "^vermagic $MODULE $(rx "$M") "
check 2 "$MODULE was loaded from updates/dkms" proof upgrade "^modfile $MODULE /lib/modules/$(rx "$M")/updates/dkms/"
check 2 "dkms-hook.service is not failed" proof upgrade "^is-failed dkms-hook.service active\$"
check 2 "systemd-modules-load.service is not failed" proof upgrade "^is-failed systemd-modules-load.service active\$"

step "removal: apt-get purge linux-image-$N linux-headers-$N"
inroot "${APT[*]} purge linux-image-$N linux-headers-$N"
inroot "dkms status; dkms-hook pending; find /var/lib/dkms -mindepth 2 -maxdepth 3 ! -path '*/.dkms-hook*' | sort"
check 4 "no build and no kernel-$N-* link under /var/lib/dkms" nothing_for "$N"
check 4 "v4l2loopback still installed for M" installed_in_root v4l2loopback "$M"

step "register $BROKEN (does not compile), never built"
mkdir -p "$root/usr/src/$BROKEN-1.0"
cat >"$root/usr/src/$BROKEN-1.0/dkms.conf" <<EOF
PACKAGE_NAME="$BROKEN"
PACKAGE_VERSION="1.0"
BUILT_MODULE_NAME[0]="e2e_broken"
DEST_MODULE_LOCATION[0]="/updates/dkms"
AUTOINSTALL="yes"
EOF
echo "obj-m := e2e_broken.o" >"$root/usr/src/$BROKEN-1.0/Makefile"
printf '%s\n' '#include <linux/module.h>' 'static int __init e2e_init(void) { return 0 }' \
    'module_init(e2e_init);' 'MODULE_LICENSE("GPL");' >"$root/usr/src/$BROKEN-1.0/e2e_broken.c"
inroot "dkms add $BROKEN/1.0 && dkms status"

boot removal "$M"
check 4 "uname -r is $M" proof removal "^uname-r $(rx "$M")\$"
check 4 "lsmod lists $MODULE after N was purged" proof removal "^lsmod $MODULE "
check 3b "dkms-hook.service is not failed although a build failed" proof removal "^is-failed dkms-hook.service active\$"
check 3b "the failed build of $BROKEN is in dkms-hook.service's journal" proof removal "^journal .*$BROKEN.*"
check 3b "the journal names make.log" proof removal "^journal .*make\\.log"

step "unregister $BROKEN"
inroot "dkms remove $BROKEN/1.0 --all; rm -rf /usr/src/$BROKEN-1.0; dkms status"

step "catch-up: linux-image-$P without headers, then headers with the hooks stubbed out"
inroot "${APT[*]} install linux-image-$P"
inroot "dkms-hook pending"
check 3 "dkms-hook pending lists P=$P after the image alone" pending_lists "$P"
inroot "dpkg-divert --local --rename --divert /usr/sbin/dkms-hook.real --add /usr/sbin/dkms-hook
printf '#!/bin/sh\necho \"dkms-hook \$*: not run (stub)\"\n' >/usr/sbin/dkms-hook
chmod 0755 /usr/sbin/dkms-hook"
inroot "${APT[*]} install linux-headers-$P"
inroot "rm /usr/sbin/dkms-hook && dpkg-divert --local --rename --remove /usr/sbin/dkms-hook"
inroot "dkms status; dkms-hook pending"
check 3 "P=$P has headers" test -d "$root/usr/src/linux-headers-$P"
check 3 "nothing is built for P=$P" nothing_for "$P"
check 3 "dkms-hook pending still lists P=$P" pending_lists "$P"

boot catchup "$P"
check 3 "uname -r is $P" proof catchup "^uname-r $(rx "$P")\$"
check 3 "dkms status: v4l2loopback installed for P" proof catchup "^dkms-status v4l2loopback/.*, $(rx "$P"), x86_64: installed"
check 3 "dkms status: acpi-call installed for P" proof catchup "^dkms-status acpi-call/.*, $(rx "$P"), x86_64: installed"
check 3 "lsmod lists $MODULE at the end of boot" proof catchup "^lsmod $MODULE "
check 3 "modinfo -F vermagic $MODULE starts with $P" proof catchup "^vermagic $MODULE $(rx "$P") "
check 3 "dkms-hook.service loaded what it installed" proof catchup "^journal .*loading the modules installed for the running kernel $(rx "$P")"
check 3 "systemd-modules-load.service, started again, loaded $MODULE" proof catchup "^journal-modules-load .*Inserted module '$MODULE'"
check 3 "no warning from dkms-hook.service" no_proof catchup "^journal .*Warning"
check 3 "dkms-hook.service is not failed" proof catchup "^is-failed dkms-hook.service active\$"
check 3 "dkms-hook pending is empty after boot" proof catchup "^pending Nothing is pending\\.\$"
check 3 "no failed unit" no_proof catchup "^failed-unit "

step_end
echo "kernels: N=$N M=$M P=$P"
echo "release: $SUITE"
printf '%s\n' "${boot_times[@]}"
echo "TIME total: $(since "$t0") s"
if ((failures == 0)); then
    echo "RESULT: PASS"
else
    echo "RESULT: FAIL ($failures checks failed)"
    exit 1
fi
