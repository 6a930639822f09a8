#!/bin/bash
# common.sh — what the booted tests share (sourced, never run): the base
# root (debootstrap minbase + systemd + kernel N, cached as a tarball), the
# chroot runner, the .deb build, the proof unit, the qemu boots (straight
# from the root's kernel, or through a real GRUB), and the reporting.
#
# The sourcing script sets, before `start_work`: script_name, repo, deb,
# cache, work, keep, smp, mem, boot_timeout, mirror, security, and SUITE
# when the release is not Debian 12.
# shellcheck shell=bash disable=SC2034,SC2154

# The Debian release of the root: bookworm (Debian 12) or trixie (Debian 13).
SUITE=bookworm
# Bump when the base root's recipe changes (invalidates the cached tarball).
BASE_FORMAT=3
# Installed in the base root besides what debootstrap's minbase brings.
# gcc, make, patch, openssl and kmod are what the dkms-hook .deb depends on.
BASE_PACKAGES=(systemd systemd-sysv udev kmod initramfs-tools zstd gcc make patch openssl)
APT=(apt-get -y -q -o Dpkg::Use-Pty=0 -o Acquire::Retries=3 --no-install-recommends)

die() {
    echo "$script_name: error: $*" >&2
    exit 2
}

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

# start_work: the clean-up trap, the cache and work directories, the base
# root's tarball name. Called once the options are read.
start_work() {
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
    base_key=$(printf '%s\n' "$BASE_FORMAT" "$SUITE" "$mirror" "$security" "${BASE_PACKAGES[@]}" |
        sha256sum | cut -c1-16)
    base_tar=$cache/base-$SUITE-$base_key.tar.zst
}

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

# The release's own generic amd64 kernels that the root's apt knows, oldest
# first: Debian 12's 6.1.0-<ABI>-amd64 (not the 6.12.<N>+deb12 kernels its
# archive also carries, which its *-dkms packages do not all build for) or
# Debian 13's 6.12.<N>+deb13[.<M>]-amd64.
archive_kernels() {
    local re
    case $SUITE in
    bookworm) re='6\.1\.0-[0-9]+' ;;
    trixie) re='6\.12\.[0-9]+\+deb13(\.[0-9]+)?' ;;
    *) die "no kernel pattern for $SUITE" ;;
    esac
    inroot "apt-cache search --names-only '^linux-image-$re-amd64\$'" |
        awk '{ sub(/^linux-image-/, "", $1); print $1 }' | sort -V
}

# ------------------------------------------------------------- base root

# The cached base: minbase + BASE_PACKAGES + kernel N (image and headers),
# configured to boot from a virtio disk with a serial console.

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
        # Debian 12's kernels ship /lib/modules, Debian 13's /usr/lib/modules.
        for d in /lib/modules /usr/lib/modules; do
            printf "path-exclude=$d/*/kernel/%s/*\\n" sound drivers/net drivers/gpu \
                drivers/usb drivers/infiniband drivers/iio drivers/staging drivers/media
            printf "path-include=$d/*/kernel/drivers/media/%s/*\\n" v4l2-core mc
        done
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
    [ -n "$n" ] || die "apt knows no generic amd64 linux-image of $SUITE"
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
        cd "$src" || exit 2
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

# The kernel command line of every boot (GRUB's entries say the same).
KERNEL_ARGS="root=LABEL=bootproof rw console=ttyS0 quiet systemd.show_status=1 systemd.firstboot=off panic=-1"

# grub_image: a BIOS GRUB on a CD image (grub-mkrescue, cached) that finds
# the disk labelled bootproof and runs the root's own /boot/grub/grub.cfg
# with its grubenv, as an installed GRUB would; its console is the serial
# port. Sets grub_iso.
grub_image() {
    grub_iso=$cache/grub-bootproof.iso
    [ -s "$grub_iso" ] && return 0
    local d=$work/grub-iso
    mkdir -p "$d/boot/grub"
    cat >"$d/boot/grub/grub.cfg" <<'EOF'
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
insmod ext2
search --no-floppy --label bootproof --set=root
set prefix=($root)/boot/grub
configfile $prefix/grub.cfg
EOF
    grub-mkrescue -o "$grub_iso.partial" "$d" >"$work/grub-mkrescue.log" 2>&1 ||
        {
            cat "$work/grub-mkrescue.log"
            die "grub-mkrescue failed"
        }
    mv "$grub_iso.partial" "$grub_iso"
}

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

# boot NAME KVER [grub]: boot the root with kernel KVER; the console goes
# to the terminal and to $work/console-NAME.log, the BOOTPROOF lines to
# $work/proof-NAME.log (without the prefix). With `grub`, a real GRUB
# (the image `grub_image` made) boots the disk instead and picks the
# kernel itself from the root's /boot/grub/grub.cfg and grubenv: KVER is
# only what the log line says was expected.
boot() {
    local name=$1 k=$2 via=${3:-}
    # TCG unless BOOT_ACCEL says otherwise (BOOT_ACCEL=kvm on a developer's
    # machine with /dev/kvm; CI has none and always emulates).
    local accel=${BOOT_ACCEL:-tcg} accel_name
    accel_name=$(printf %s "$accel" | tr '[:lower:]' '[:upper:]')
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
    local how=(-kernel "$root/boot/vmlinuz-$k" -initrd "$root/boot/initrd.img-$k"
        -append "$KERNEL_ARGS")
    if [ "$via" = grub ]; then
        step "boot $name: qemu ($accel_name, GRUB picks the kernel; expected $k)"
        how=(-cdrom "$grub_iso" -boot d)
    else
        step "boot $name: qemu ($accel_name, kernel $k)"
    fi
    local start=$EPOCHREALTIME rc=0
    timeout --kill-after=10 "$boot_timeout" qemu-system-x86_64 \
        -machine "pc,accel=$accel" -m "$mem" -smp "$smp" \
        -nodefaults -no-user-config -display none -no-reboot -nic none \
        -serial stdio "${how[@]}" \
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

# rx TEXT: TEXT as an extended regular expression that matches TEXT only
# (a Debian 13 kernel release has a `+`, every release has dots).
rx() { printf '%s' "$1" | sed 's/[][\\.*^$+?(){}|]/\\&/g'; }
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

