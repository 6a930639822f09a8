#!/bin/bash
# systemd-boot.sh — prove dkms-hook on a booted Debian 12 with systemd.
#
# A Debian 12 root is made with debootstrap (minbase + systemd + udev + kmod,
# no recommends) and changed with apt and dpkg in a chroot, at native speed;
# only the boots run in qemu (TCG, never KVM), each from a fresh ext4 disk
# image of the root made with `mke2fs -d` (no loop mounts), with the kernel
# and initrd from the root's /boot, a serial console, -no-reboot and a hard
# timeout. In every boot a oneshot unit (boot-proof.service, ordered after
# multi-user.target and dkms-hook.service) prints `BOOTPROOF ...` lines on the
# serial console and powers off. Three kernel ABIs of the archive are used:
# N (in the cached base root), M and P (the two newest).
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
# BOOT_SECURITY_MIRROR (default http://deb.debian.org/debian-security).
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

SUITE=bookworm
# Bump when the base root's recipe changes (invalidates the cached tarball).
BASE_FORMAT=2
# Installed in the base root besides what debootstrap's minbase brings.
# gcc, make, patch, openssl and kmod are what the dkms-hook .deb depends on.
BASE_PACKAGES=(systemd systemd-sysv udev kmod initramfs-tools zstd gcc make patch openssl)
APT=(apt-get -y -q -o Dpkg::Use-Pty=0 -o Acquire::Retries=3 --no-install-recommends)
MODULE=v4l2loopback # named in /etc/modules-load.d/
BROKEN=e2e-broken   # registered in step 3, does not compile

here=$(cd "$(dirname "$(readlink -f -- "$0")")" && pwd)
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

die() {
    echo "systemd-boot.sh: error: $*" >&2
    exit 2
}

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot, mount namespaces)"
need=(debootstrap unshare chroot mount mke2fs zstd tar qemu-system-x86_64 timeout awk)
[ -n "$deb" ] || need+=(dpkg-buildpackage git)
for t in "${need[@]}"; do
    command -v "$t" >/dev/null 2>&1 || die "$t not found (.ci/run installs what this script needs)"
done
[ -z "$deb" ] || [ -f "$deb" ] || die "no such file: $deb"

# ---------------------------------------------------------------- reporting

t0=$EPOCHREALTIME
step_name='' step_start=0
since() { awk -v s="$1" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.1f", e - s }'; }
step() {
    step_end
    step_name=$1
    step_start=$EPOCHREALTIME
    echo "==> [$(since "$t0") s] $step_name"
}
step_end() {
    if [ -n "$step_name" ]; then
        echo "<== $step_name: $(since "$step_start") s"
        step_name=''
    fi
}

failures=0 boot_times=()
# check POINT DESCRIPTION COMMAND...: run COMMAND, print PASS or FAIL.
check() {
    local point=$1 what=$2
    shift 2
    if "$@"; then
        echo "PASS point $point: $what"
    else
        echo "FAIL point $point: $what"
        failures=$((failures + 1))
    fi
}

# --------------------------------------------------------------- clean-up

root='' mounts_base=''
cleanup() {
    local rc=$?
    step_end
    # Mounts are made in private namespaces and vanish with them; undo any
    # that a namespace-less fallback left behind, deepest first.
    if [ -n "$mounts_base" ]; then
        awk -v d="$mounts_base" '{ if (index($5, d "/") == 1) print $5 }' /proc/self/mountinfo |
            sort -r | while read -r m; do umount -l "$m" || true; done
    fi
    if [ -n "$work" ] && ((keep == 0)) && [ -d "$work" ]; then
        local start=$EPOCHREALTIME
        rm -rf --one-file-system -- "$work"
        echo "removed the work directory: $(since "$start") s"
    elif [ -n "$work" ]; then
        echo "work directory kept: $work"
    fi
    echo "total: $(since "$t0") s"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$cache/apt-archives/partial"
cache=$(readlink -f -- "$cache")
if [ -z "$work" ]; then
    work=$(mktemp -d "${TMPDIR:-/var/tmp}/dkms-boot-systemd.XXXXXX")
else
    mkdir -p "$work"
    work=$(readlink -f -- "$work")
fi
mounts_base=$work
root=$work/root

# ------------------------------------------------------------ the chroot

# inroot SCRIPT: run SCRIPT with /bin/sh in the root, in a private mount
# namespace with /proc, /sys, /dev, /dev/pts and apt's archive cache mounted.
inroot() {
    # shellcheck disable=SC2016 # expanded by the inner bash
    unshare --mount --propagation private -- /bin/bash -euc '
        r=$1 archives=$2 script=$3
        mount -t proc proc "$r/proc"
        mount --rbind /sys "$r/sys"
        mount --rbind /dev "$r/dev"
        mkdir -p "$r/var/cache/apt/archives"
        mount --bind "$archives" "$r/var/cache/apt/archives"
        exec chroot "$r" /usr/bin/env -i \
            PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
            HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
            /bin/sh -c "$script"
    ' inroot "$root" "$cache/apt-archives" "exec 2>&1
$1"
}

# The apt sources of the root.
write_sources() {
    cat >"$1/etc/apt/sources.list" <<EOF
deb $mirror $SUITE main
deb $mirror $SUITE-updates main
deb $security $SUITE-security main
EOF
    cp /etc/resolv.conf "$1/etc/resolv.conf" 2>/dev/null || true
}

# The kernel ABIs (6.1.0-<N>-amd64) the root's apt knows, oldest first.
archive_kernels() {
    inroot "apt-cache search --names-only '^linux-image-6\\.1\\.0-[0-9]+-amd64\$'" |
        awk '{ sub(/^linux-image-/, "", $1); print $1 }' | sort -V
}

# ------------------------------------------------------------- base root

# The cached base: minbase + BASE_PACKAGES + kernel N (image and headers),
# configured to boot from a virtio disk with a serial console.
base_key=$(printf '%s\n' "$BASE_FORMAT" "$SUITE" "$mirror" "$security" "${BASE_PACKAGES[@]}" |
    sha256sum | cut -c1-16)
base_tar=$cache/base-$SUITE-$base_key.tar.zst

configure_base() {
    local r=$1
    # Boot from /dev/vda, no fsck, no resume device, a small initrd.
    echo "LABEL=bootproof / ext4 rw,relatime 0 0" >"$r/etc/fstab"
    echo bootproof >"$r/etc/hostname"
    mkdir -p "$r/etc/initramfs-tools/conf.d"
    echo "MODULES=list" >"$r/etc/initramfs-tools/conf.d/bootproof.conf"
    echo "RESUME=none" >"$r/etc/initramfs-tools/conf.d/resume"
    printf '%s\n' virtio_pci virtio_blk ext4 >>"$r/etc/initramfs-tools/modules"
    # Smaller kernels (and so disk images, depmod runs, boots): dpkg leaves
    # out documentation and the module trees no boot here needs (network,
    # graphics, sound, USB...); v4l2loopback's videodev and mc stay.
    mkdir -p "$r/etc/dpkg/dpkg.cfg.d"
    {
        printf 'path-exclude=/usr/share/%s/*\n' doc man locale
        printf 'path-exclude=/lib/modules/*/kernel/%s/*\n' sound drivers/net drivers/gpu \
            drivers/usb drivers/infiniband drivers/iio drivers/staging drivers/media
        printf 'path-include=/lib/modules/*/kernel/drivers/media/%s/*\n' v4l2-core mc
    } >"$r/etc/dpkg/dpkg.cfg.d/bootproof-exclude"
    # Nothing may start services inside the chroot.
    printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"
    chmod 0755 "$r/usr/sbin/policy-rc.d"
}

make_base() {
    local tmp=$work/base
    rm -rf --one-file-system "$tmp"
    local include
    include=$(
        IFS=,
        echo "${BASE_PACKAGES[*]}"
    )
    debootstrap --variant=minbase --arch=amd64 --include="$include" \
        --cache-dir="$cache/apt-archives" "$SUITE" "$tmp" "$mirror"
    write_sources "$tmp"
    configure_base "$tmp"
    local saved=$root
    root=$tmp
    inroot "apt-get -q update"
    local n
    n=$(archive_kernels | tail -n 3 | head -n 1)
    [ -n "$n" ] || die "apt knows no linux-image-6.1.0-<N>-amd64"
    inroot "${APT[*]} install linux-image-$n linux-headers-$n"
    # A machine id, so that the first boot is not a "first boot" (no
    # systemd-firstboot prompts); every boot of this test starts from it.
    [ -s "$tmp/etc/machine-id" ] || inroot "systemd-machine-id-setup"
    echo "$n" >"$tmp/etc/bootproof-base-kernel"
    root=$saved
    tar --numeric-owner --xattrs -C "$tmp" -cf - . | zstd -q -T2 -3 -o "$base_tar.partial"
    mv "$base_tar.partial" "$base_tar"
    rm -rf --one-file-system "$tmp"
}

# ------------------------------------------------------------ the .deb

build_deb() {
    local src=$cache/deb-build/src
    rm -rf "$src"
    mkdir -p "$src"
    git -C "$repo" ls-files -z --cached --others --exclude-standard |
        (cd "$repo" && tar --null --ignore-failed-read -T - -cf -) | tar -C "$src" -xf -
    (
        cd "$src"
        export CARGO_TARGET_DIR=$cache/deb-build/cargo-target
        [ -d "${HOME:-/root}/.cargo/bin" ] && PATH=${HOME:-/root}/.cargo/bin:$PATH
        dpkg-buildpackage -b -us -uc -d >"$cache/deb-build/build.log" 2>&1 ||
            {
                tail -n 40 "$cache/deb-build/build.log"
                die "dpkg-buildpackage failed (log $cache/deb-build/build.log)"
            }
    )
    deb=$(find "$cache/deb-build" -maxdepth 1 -name 'dkms-hook_*.deb' -newer "$src/debian/changelog" | sort | tail -n 1)
    [ -n "$deb" ] || die "dpkg-buildpackage made no dkms-hook_*.deb"
}

# ------------------------------------------------------------ the boots

# The proof unit: after multi-user.target and dkms-hook.service, print what
# the checks need on the serial console, then power off.
install_proof_unit() {
    cat >"$root/usr/local/sbin/boot-proof" <<'EOF'
#!/bin/sh
# Report on the serial console (boot-proof.service), then power off.
p() { echo "BOOTPROOF $*"; }
each() { tag=$1; shift; "$@" 2>&1 | while IFS= read -r l; do p "$tag $l"; done; }
p "begin uptime=$(cut -d' ' -f1 /proc/uptime)"
p "uname-r $(uname -r)"
names=$(cat /etc/modules-load.d/*.conf | grep -Ev '^[[:space:]]*([#;]|$)')
for m in $names; do
    p "modules-load.d $m"
    each lsmod sh -c "lsmod | grep '^$m '"
    p "vermagic $m $(modinfo -F vermagic "$m" 2>&1)"
    p "modfile $m $(modinfo -n "$m" 2>&1)"
done
for u in dkms-hook.service systemd-modules-load.service; do
    p "is-failed $u $(systemctl is-failed "$u")"
done
p "dkms-hook.service ran $(systemctl show -p ExecMainStartTimestampMonotonic -p ExecMainExitTimestampMonotonic --value dkms-hook.service | awk 'NR==1{s=$1} NR==2{e=$1} END{printf "%.1f s", (e-s)/1e6}')"
each failed-unit systemctl --failed --plain --no-legend
each dkms-status dkms status
each pending dkms-hook pending
each journal journalctl -b -u dkms-hook.service -o short-monotonic --no-pager
each journal-modules-load journalctl -b -u systemd-modules-load.service -o short-monotonic --no-pager
p "end uptime=$(cut -d' ' -f1 /proc/uptime)"
systemctl --no-block poweroff
EOF
    chmod 0755 "$root/usr/local/sbin/boot-proof"
    cat >"$root/etc/systemd/system/boot-proof.service" <<'EOF'
[Unit]
Description=Report the boot proof on the serial console, then power off
After=multi-user.target dkms-hook.service systemd-modules-load.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/boot-proof
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0

[Install]
WantedBy=multi-user.target
EOF
    mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
    ln -sf ../boot-proof.service "$root/etc/systemd/system/multi-user.target.wants/boot-proof.service"
    # No login prompt on the serial console.
    ln -sf /dev/null "$root/etc/systemd/system/serial-getty@ttyS0.service"
}

# boot NAME KVER: boot the root with kernel KVER; the console goes to the
# terminal and to $work/console-NAME.log, the BOOTPROOF lines to
# $work/proof-NAME.log (without the prefix).
boot() {
    local name=$1 k=$2
    local img=$work/disk-$name.img log=$work/console-$name.log
    step "boot $name: disk image (mke2fs -d)"
    rm -f "$img"
    local kb
    kb=$(du -sk --one-file-system "$root" | cut -f1)
    truncate -s "$(((kb + 600 * 1024) / 1024))M" "$img"
    mke2fs -q -F -t ext4 -L bootproof -d "$root" "$img"
    echo "image: $(du -h --apparent-size "$img" | cut -f1) ($(du -h "$img" | cut -f1) used)"
    local image_took
    image_took=$(since "$step_start")
    step "boot $name: qemu (TCG, kernel $k)"
    local start=$EPOCHREALTIME rc=0
    timeout --kill-after=10 "$boot_timeout" qemu-system-x86_64 \
        -machine pc,accel=tcg -m "$mem" -smp "$smp" \
        -nodefaults -no-user-config -display none -no-reboot -nic none \
        -serial stdio \
        -kernel "$root/boot/vmlinuz-$k" -initrd "$root/boot/initrd.img-$k" \
        -append "root=LABEL=bootproof rw console=ttyS0 quiet systemd.show_status=1 systemd.firstboot=off panic=-1" \
        -drive "file=$img,format=raw,if=virtio,cache=unsafe" \
        </dev/null 2>&1 | tr -d '\r' | tee "$log" |
        grep --line-buffered -v 'Job .* running (' | sed 's/^/  | /' || rc=$?
    local took
    took=$(since "$start")
    rm -f "$img"
    boot_times+=("TIME boot $name: $took s in qemu, $image_took s for the disk image (kernel $k)")
    echo "${boot_times[-1]}"
    sed -n 's/^.*BOOTPROOF //p' "$log" >"$work/proof-$name.log"
    sed 's/^/proof['"$name"']: /' "$work/proof-$name.log"
    if [ "$rc" -ne 0 ]; then
        echo "qemu exited with status $rc (124: killed after ${boot_timeout}s)"
    fi
    check "boot-$name" "the boot reached boot-proof.service and powered off" \
        grep -qx 'end uptime=.*' "$work/proof-$name.log"
}

# proof NAME REGEX: the BOOTPROOF lines of boot NAME have a line matching REGEX.
proof() { grep -Eq -- "$2" "$work/proof-$1.log"; }
# no_proof NAME REGEX: ... and none matching REGEX.
no_proof() { ! grep -Eq -- "$2" "$work/proof-$1.log"; }

# ------------------------------------------------------------- checks

# installed_in_root M K: dkms status says module M is installed for K, and
# its .ko's vermagic starts with K.
installed_in_root() {
    local m=$1 k=$2
    inroot "dkms status -m $m -k $k" | grep -q ", $k, x86_64: installed" &&
        inroot "modinfo -F vermagic \$(find /lib/modules/$k/updates/dkms -name '${m//-/_}.ko*' | head -n 1)" |
        grep -q "^$k "
}
# pending_lists K: `dkms-hook pending` says K waits for its headers.
pending_lists() {
    inroot "dkms-hook pending" | grep -q "^$1 (x86_64): waiting for kernel headers"
}
# nothing_for K: no build and no kernel-K-* link under /var/lib/dkms.
nothing_for() {
    local k=$1 left
    left=$(find "$root/var/lib/dkms" -mindepth 2 \( -path "*/*/$k" -o -name "kernel-$k-*" \) -print)
    [ -z "$left" ] || {
        echo "left under /var/lib/dkms: $left"
        return 1
    }
}

# ============================================================== the run

echo "work directory: $work; cache: $cache; guest: -smp $smp -m $mem; timeout ${boot_timeout}s per boot"

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
check 2 "uname -r is $M" proof upgrade "^uname-r $M\$"
check 2 "lsmod lists $MODULE" proof upgrade "^lsmod $MODULE "
check 2 "modinfo -F vermagic $MODULE starts with $M" proof upgrade "^vermagic $MODULE $M "
check 2 "$MODULE was loaded from updates/dkms" proof upgrade "^modfile $MODULE /lib/modules/$M/updates/dkms/"
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
check 4 "uname -r is $M" proof removal "^uname-r $M\$"
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
check 3 "uname -r is $P" proof catchup "^uname-r $P\$"
check 3 "dkms status: v4l2loopback installed for P" proof catchup "^dkms-status v4l2loopback/.*, $P, x86_64: installed"
check 3 "dkms status: acpi-call installed for P" proof catchup "^dkms-status acpi-call/.*, $P, x86_64: installed"
check 3 "lsmod lists $MODULE at the end of boot" proof catchup "^lsmod $MODULE "
check 3 "modinfo -F vermagic $MODULE starts with $P" proof catchup "^vermagic $MODULE $P "
check 3 "dkms-hook.service loaded what it installed" proof catchup "^journal .*loading the modules installed for the running kernel $P"
check 3 "systemd-modules-load.service, started again, loaded $MODULE" proof catchup "^journal-modules-load .*Inserted module '$MODULE'"
check 3 "no warning from dkms-hook.service" no_proof catchup "^journal .*Warning"
check 3 "dkms-hook.service is not failed" proof catchup "^is-failed dkms-hook.service active\$"
check 3 "dkms-hook pending is empty after boot" proof catchup "^pending Nothing is pending\\.\$"
check 3 "no failed unit" no_proof catchup "^failed-unit "

step_end
echo "kernels: N=$N M=$M P=$P"
printf '%s\n' "${boot_times[@]}"
echo "TIME total: $(since "$t0") s"
if ((failures == 0)); then
    echo "RESULT: PASS"
else
    echo "RESULT: FAIL ($failures checks failed)"
    exit 1
fi
