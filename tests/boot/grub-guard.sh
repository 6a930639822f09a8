#!/bin/bash
# grub-guard.sh — prove the boot guard on a booted Debian 12, with GRUB's
# own choice of kernel.
#
# The base root of systemd-boot.sh (its cache is shared) gets our .deb
# through apt and a critical module, e2e-crit (`dkms-hook critical add`),
# installed for kernel N and named in /etc/modules-load.d/. The root has no
# grub-pc (its postinst wants a disk to install to): a stand-in for Debian's
# update-grub, run from /etc/kernel/postinst.d/zz-update-grub as Debian's is,
# after dkms-hook, writes /boot/grub/grub.cfg as update-grub does on
# Debian 12 (00_header's grubenv logic, a "simple" entry for the newest
# kernel, an "Advanced options" submenu with one entry per kernel, the same
# $menuentry_id_option ids); `grub-script-check` checks it. The boots run a
# real BIOS GRUB (grub-mkrescue, cached) that finds the disk and runs that
# grub.cfg with the root's grubenv, so the kernel is GRUB's choice.
#
#  1. setup: N with e2e-crit installed; a second module, e2e-plain, that
#     does not compile and is not critical.
#  2. upgrade: e2e-crit's source stops compiling, then
#     `apt-get install linux-image-M linux-headers-M`: apt exits 0, the
#     initramfs of M exists, `dpkg --audit` is empty, the summary names
#     both failures, the hook says GUARD, and `grub-editenv list` shows
#     next_entry = N's menu entry id.
#  3. Boot through GRUB: uname -r is N, e2e_crit is loaded.
#  4. fix: e2e-plain is removed, e2e-crit's source compiles again,
#     `dkms-hook autoinstall -k M` lifts the guard (next_entry is gone).
#  5. Boot through GRUB: uname -r is M, e2e_crit is loaded, its vermagic
#     is M's.
#
# Usage: tests/boot/grub-guard.sh [options]
#
#   --deb FILE      install this dkms-hook .deb (default: build one)
#   --cache DIR     cache (default tests/.cache/boot-systemd, shared with
#                   systemd-boot.sh): base root, apt's packages, GRUB image
#   --work DIR      where the root and disk images go (default: a new
#                   directory under ${TMPDIR:-/var/tmp}, removed at the end)
#   --keep          keep the work directory
#   --smp N         guest CPUs (default 2); --mem MB guest memory (default 1024)
#   --timeout S     hard limit per boot in seconds (default 900)
#
# Needs root, debootstrap, unshare, chroot, mke2fs, zstd, qemu-system-x86_64,
# timeout, grub-mkrescue (grub-common, grub-pc-bin, xorriso, mtools),
# grub-editenv and grub-script-check. Output as systemd-boot.sh's: steps,
# the consoles, `proof[BOOT]:` lines, `PASS point`/`FAIL point` lines and
# `RESULT: PASS` (exit 0) or `RESULT: FAIL` (exit 1).
set -euo pipefail

script_name=grub-guard.sh
here=$(cd "$(dirname "$(readlink -f -- "$0")")" && pwd)
# shellcheck source=tests/boot/common.sh
. "$here/common.sh"
CRIT=e2e-crit   # critical, named in /etc/modules-load.d/
PLAIN=e2e-plain # not critical, never compiles
UUID=bootproof  # what update-grub puts in the ids: the root's file system UUID

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
    *) echo "grub-guard.sh: unknown argument $1" >&2 && usage ;;
    esac
done

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot, mount namespaces)"
need=(debootstrap unshare chroot mount mke2fs zstd tar qemu-system-x86_64 timeout awk
    grub-mkrescue xorriso mformat grub-editenv grub-script-check)
[ -n "$deb" ] || need+=(dpkg-buildpackage git)
for t in "${need[@]}"; do
    command -v "$t" >/dev/null 2>&1 || die "$t not found (.ci/run installs what this script needs)"
done
[ -z "$deb" ] || [ -f "$deb" ] || die "no such file: $deb"

start_work

# The stand-in for update-grub, installed in the root.
install_update_grub() {
    cat >"$root/usr/local/sbin/bootproof-update-grub" <<EOF
#!/bin/sh
# Writes /boot/grub/grub.cfg as Debian 12's update-grub does (the parts
# that choose the kernel), for every /boot/vmlinuz-*, newest first.
set -e
args="$KERNEL_ARGS"
uuid=$UUID
EOF
    cat >>"$root/usr/local/sbin/bootproof-update-grub" <<'EOF'
kernels=$(ls /boot/vmlinuz-* 2>/dev/null | sed 's|^/boot/vmlinuz-||' | sort -V -r)
newest=$(echo "$kernels" | head -n 1)
mkdir -p /boot/grub
cfg=/boot/grub/grub.cfg.new
{
    cat <<HEADER
# Written by bootproof-update-grub in the layout of Debian 12's update-grub.
if [ -s \$prefix/grubenv ]; then
  set have_grubenv=true
  load_env
fi
if [ "\${next_entry}" ] ; then
   set default="\${next_entry}"
   set next_entry=
   save_env next_entry
   set boot_once=true
else
   set default="0"
fi

if [ x"\${feature_menuentry_id}" = xy ]; then
  menuentry_id_option="--id"
else
  menuentry_id_option=""
fi

export menuentry_id_option

function load_video {
  insmod all_video
}

serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
set timeout=1
HEADER
    if [ -n "$newest" ]; then
        printf "menuentry 'Debian GNU/Linux' --class debian --class gnu-linux --class gnu --class os \$menuentry_id_option 'gnulinux-simple-%s' {\n" "$uuid"
        printf "\tinsmod ext2\n\tsearch --no-floppy --label bootproof --set=root\n"
        printf "\techo\t'Loading Linux %s ...'\n" "$newest"
        printf "\tlinux\t/boot/vmlinuz-%s %s\n\tinitrd\t/boot/initrd.img-%s\n}\n" "$newest" "$args" "$newest"
        printf "submenu 'Advanced options for Debian GNU/Linux' \$menuentry_id_option 'gnulinux-advanced-%s' {\n" "$uuid"
        for k in $kernels; do
            printf "\tmenuentry 'Debian GNU/Linux, with Linux %s' --class debian --class gnu-linux --class gnu --class os \$menuentry_id_option 'gnulinux-%s-advanced-%s' {\n" "$k" "$k" "$uuid"
            printf "\t\tinsmod ext2\n\t\tsearch --no-floppy --label bootproof --set=root\n"
            printf "\t\techo\t'Loading Linux %s ...'\n" "$k"
            printf "\t\tlinux\t/boot/vmlinuz-%s %s\n\t\tinitrd\t/boot/initrd.img-%s\n\t}\n" "$k" "$args" "$k"
            printf "\tmenuentry 'Debian GNU/Linux, with Linux %s (recovery mode)' --class debian --class gnu-linux --class gnu --class os \$menuentry_id_option 'gnulinux-%s-recovery-%s' {\n" "$k" "$k" "$uuid"
            printf "\t\tlinux\t/boot/vmlinuz-%s %s single\n\t\tinitrd\t/boot/initrd.img-%s\n\t}\n" "$k" "$args" "$k"
        done
        printf "}\n"
    fi
} >"$cfg"
mv "$cfg" /boot/grub/grub.cfg
# grub-editenv create: an empty 1024-byte environment block.
if [ ! -s /boot/grub/grubenv ]; then
    { printf '# GRUB Environment Block\n'; head -c 999 /dev/zero | tr '\0' '#'; } >/boot/grub/grubenv
fi
echo "bootproof-update-grub: /boot/grub/grub.cfg for: $(echo $kernels)"
EOF
    chmod 0755 "$root/usr/local/sbin/bootproof-update-grub"
    for d in postinst.d postrm.d; do
        mkdir -p "$root/etc/kernel/$d"
        printf '#!/bin/sh\nexec /usr/local/sbin/bootproof-update-grub\n' >"$root/etc/kernel/$d/zz-update-grub"
        chmod 0755 "$root/etc/kernel/$d/zz-update-grub"
    done
}

# A module source in the root: compiles or not.
write_module() {
    local m=$1 good=$2 mod=${1//-/_}
    mkdir -p "$root/usr/src/$m-1.0"
    cat >"$root/usr/src/$m-1.0/dkms.conf" <<EOF
PACKAGE_NAME="$m"
PACKAGE_VERSION="1.0"
BUILT_MODULE_NAME[0]="$mod"
DEST_MODULE_LOCATION[0]="/updates/dkms"
AUTOINSTALL="yes"
EOF
    echo "obj-m := $mod.o" >"$root/usr/src/$m-1.0/Makefile"
    local ret='return 0;'
    [ "$good" = yes ] || ret='return 0 /* does not compile */ oops'
    printf '%s\n' '#include <linux/module.h>' "static int __init ${mod}_init(void) { $ret }" \
        "static void __exit ${mod}_exit(void) { }" "module_init(${mod}_init);" \
        "module_exit(${mod}_exit);" 'MODULE_LICENSE("GPL");' >"$root/usr/src/$m-1.0/$mod.c"
}

# grubenv KEY=VALUE: `grub-editenv list` of the root's grubenv has that line.
grubenv_has() { grub-editenv "$root/boot/grub/grubenv" list | grep -qxF -- "$1"; }
grubenv_lacks() { ! grub-editenv "$root/boot/grub/grubenv" list | grep -q -- "^$1="; }
entry_id() { echo "gnulinux-advanced-$UUID>gnulinux-$1-advanced-$UUID"; }

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

step "apt-get update; pick the kernel"
inroot "apt-get -q update" | tail -n 3
M=$(archive_kernels | grep -vx "$N" | tail -n 1)
[ -n "$M" ] || die "need a kernel ABI besides $N in the archive"
echo "kernels: N=$N (base), M=$M (upgrade)"

step "GRUB image (grub-mkrescue)"
grub_image
echo "grub image: $grub_iso"
# What grub-install leaves beside grub.cfg: the modules GRUB loads from
# $prefix (the root's /boot/grub) once it runs the root's grub.cfg
# (configfile, load_env, linux, ...), from the GRUB build the image has.
mkdir -p "$root/boot/grub/i386-pc"
cp /usr/lib/grub/i386-pc/*.mod /usr/lib/grub/i386-pc/*.lst "$root/boot/grub/i386-pc/"

if [ -z "$deb" ]; then
    step "build the .deb (dpkg-buildpackage)"
    build_deb
fi
echo "deb: $deb"

step "setup: the .deb, update-grub's stand-in, $CRIT (critical) and $PLAIN"
cp "$deb" "$root/tmp/"
inroot "${APT[*]} install /tmp/$(basename "$deb")"
install_update_grub
install_proof_unit
inroot "bootproof-update-grub"
write_module "$CRIT" yes
inroot "dkms add $CRIT/1.0 && dkms install $CRIT/1.0 -k $N && dkms-hook critical add $CRIT && dkms-hook critical list"
echo "${CRIT//-/_}" >"$root/etc/modules-load.d/bootproof.conf"
write_module "$PLAIN" no
inroot "dkms add $PLAIN/1.0 && dkms status"
check 1 "grub.cfg passes grub-script-check" grub-script-check "$root/boot/grub/grub.cfg"
check 1 "grubenv has no next_entry" grubenv_lacks next_entry

step "upgrade: $CRIT stops compiling, apt-get install linux-image-$M linux-headers-$M"
write_module "$CRIT" no
rc=0
inroot "${APT[*]} install linux-image-$M linux-headers-$M" >"$work/apt-upgrade.log" || rc=$?
sed 's/^/  apt| /' "$work/apt-upgrade.log"
check 2 "apt-get exits 0 (status $rc)" test "$rc" = 0
check 2 "the initramfs of M=$M exists" test -s "$root/boot/initrd.img-$M"
check 2 "dpkg --audit is empty" test -z "$(inroot 'dpkg --audit')"
check 2 "the hook said GUARD for $CRIT on M" grep -q "GUARD: $M must not be booted next: the critical module $CRIT" "$work/apt-upgrade.log"
check 2 "the summary names the failure of $PLAIN" grep -q "failed: $PLAIN/1.0 for $M (exit 10)" "$work/apt-upgrade.log"
check 2 "grub.cfg has M=$M's entry and passes grub-script-check" \
    sh -c "grep -qF \"gnulinux-$M-advanced-$UUID\" '$root/boot/grub/grub.cfg' && grub-script-check '$root/boot/grub/grub.cfg'"
grub-editenv "$root/boot/grub/grubenv" list | sed 's/^/  grubenv| /'
check 2 "grub-editenv list: next_entry is N=$N's entry" grubenv_has "next_entry=$(entry_id "$N")"
inroot "dkms-hook pending" | tee "$work/pending.log" | sed 's/^/  pending| /'
check 2 "dkms-hook pending lists M as guarded" grep -q "^$M (x86_64): guarded" "$work/pending.log"

boot guarded "$N" grub
check 3 "GRUB booted N: uname -r is $N" proof guarded "^uname-r $(rx "$N")\$"
check 3 "lsmod lists ${CRIT//-/_}" proof guarded "^lsmod ${CRIT//-/_} "
check 3 "dkms-hook.service is not failed" proof guarded "^is-failed dkms-hook.service active\$"

step "fix: remove $PLAIN, $CRIT compiles again, dkms-hook autoinstall -k $M"
inroot "dkms remove $PLAIN/1.0 --all; rm -rf /usr/src/$PLAIN-1.0"
write_module "$CRIT" yes
rc=0
inroot "dkms-hook autoinstall -k $M" >"$work/fix.log" || rc=$?
sed 's/^/  fix| /' "$work/fix.log"
check 4 "dkms-hook autoinstall -k M exits 0 (status $rc)" test "$rc" = 0
check 4 "the guard was lifted" grep -q "guard lifted: every critical module is installed for $M" "$work/fix.log"
check 4 "grub-editenv list: no next_entry" grubenv_lacks next_entry
check 4 "$CRIT installed for M" installed_in_root "$CRIT" "$M"

boot fixed "$M" grub
check 5 "GRUB booted M: uname -r is $M" proof fixed "^uname-r $(rx "$M")\$"
check 5 "lsmod lists ${CRIT//-/_}" proof fixed "^lsmod ${CRIT//-/_} "
check 5 "modinfo -F vermagic ${CRIT//-/_} starts with $M" proof fixed "^vermagic ${CRIT//-/_} $(rx "$M") "
check 5 "dkms-hook pending is empty" proof fixed "^pending Nothing is pending\\.\$"

step_end
echo "kernels: N=$N M=$M"
printf '%s\n' "${boot_times[@]}"
echo "TIME total: $(since "$t0") s"
if ((failures == 0)); then
    echo "RESULT: PASS"
else
    echo "RESULT: FAIL ($failures checks failed)"
    exit 1
fi
