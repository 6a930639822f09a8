#!/bin/bash
# Write the man pages dkms.8 and dkms-hook.8 into OUT_DIR from the binaries
# in BIN_DIR, so the pages always say what the built programs say:
#   dkms-hook.8  entirely from `dkms-hook --help` and `dkms-hook <command> --help`
#                (the clap definitions);
#   dkms.8       debian/dkms.8.in (the hand-written description of each action
#                and option) with the SYNOPSIS taken from `dkms --help`.
# Usage: debian/gen-manpages.sh BIN_DIR OUT_DIR
set -euo pipefail

bin=${1:?usage: gen-manpages.sh BIN_DIR OUT_DIR}
out=${2:?usage: gen-manpages.sh BIN_DIR OUT_DIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$out"

# The version and date of the newest debian/changelog entry (plain sed, so the
# RPM build needs no dpkg-dev), so rebuilds are reproducible.
# DKMS_HOOK_MAN_VERSION overrides the version (the RPM passes its own).
version=${DKMS_HOOK_MAN_VERSION:-$(sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' "$here/changelog")}
date=$(date -u -d "$(sed -n 's/^ -- .*>  //p' "$here/changelog" | head -n 1)" +%Y-%m-%d)

# Escape text for roff: backslashes, minus signs, and lines that would start
# with a control character.
roff() {
    sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"
}

# Print help text (stdin) as a verbatim roff block.
verbatim() {
    echo ".nf"
    roff
    echo ".fi"
}

hook=$bin/dkms-hook
help_all=$("$hook" --help)
about=$(printf '%s\n' "$help_all" | sed -n '1p')
# Subcommand names: the indented words of the "Commands:" section, minus "help".
mapfile -t commands < <(printf '%s\n' "$help_all" |
    sed -n '/^Commands:/,/^$/{/^  [a-z]/{s/^  \([a-z-]*\).*/\1/;p}}' | grep -vx help)
if [ "${#commands[@]}" -eq 0 ]; then
    echo "gen-manpages.sh: no subcommands found in '$hook --help'" >&2
    exit 1
fi

{
    echo ".TH DKMS-HOOK 8 \"$date\" \"dkms-hook $version\" \"System Administration\""
    echo ".SH NAME"
    echo "dkms\\-hook \\- $(printf '%s\n' "$about" | roff)"
    echo ".SH SYNOPSIS"
    echo ".B dkms\\-hook"
    echo "[\\fB\\-\\-root\\fP \\fIDIR\\fP] [\\fB\\-\\-verbose\\fP] \\fICOMMAND\\fP [\\fIARGS\\fP]"
    echo ".SH DESCRIPTION"
    echo ".B dkms\\-hook"
    echo "is what package managers run when kernels, kernel headers or module"
    echo "packages come and go. It builds and installs the AUTOINSTALL modules"
    echo "registered with"
    echo ".BR dkms (8),"
    echo "defers the work for a kernel whose headers are missing (exit 0) and"
    echo "finishes it when they arrive, and prunes builds of kernels that are gone."
    echo "The text below is the program's own help."
    echo ".PP"
    printf '%s\n' "$help_all" | sed '1,2d' | verbatim
    echo ".SH COMMANDS"
    for c in "${commands[@]}"; do
        echo ".SS $(printf '%s\n' "$c" | roff)"
        "$hook" "$c" --help | verbatim
    done
    echo ".SH FILES"
    echo ".TP"
    echo ".I /etc/kernel/postinst.d/dkms\\-hook\\fR, \\fP/etc/kernel/header_postinst.d/dkms\\-hook"
    echo "Run \\fBkernel\\-postinst\\fP and \\fBheader\\-postinst\\fP."
    echo ".TP"
    echo ".I /etc/kernel/preinst.d/dkms\\-hook\\fR, \\fP/etc/kernel/prerm.d/dkms\\-hook"
    echo "Run \\fBkernel\\-preinst\\fP and \\fBkernel\\-prerm\\fP."
    echo ".TP"
    echo ".I /etc/apt/apt.conf.d/90dkms\\-hook"
    echo "Runs \\fBapt\\-post\\-invoke\\fP after every dpkg run of apt."
    echo ".TP"
    echo ".I /usr/lib/kernel/install.d/40\\-dkms\\-hook.install"
    echo "The systemd \\fBkernel\\-install\\fP(8) plugin."
    echo ".TP"
    echo ".I /lib/systemd/system/dkms\\-hook.service"
    echo "Runs \\fBboot\\fP early at every boot."
    echo ".TP"
    echo ".I /var/lib/dkms/.dkms\\-hook/pending/"
    echo "Deferred work, listed by \\fBpending\\fP."
    echo ".TP"
    echo ".I /etc/dkms/framework.conf"
    echo "Settings shared with \\fBdkms\\fP(8)."
    echo ".SH SEE ALSO"
    echo ".BR dkms (8),"
    echo ".BR kernel\\-install (8),"
    echo ".BR run\\-parts (8)"
} >"$out/dkms-hook.8"

# dkms --help prints its own name as invoked: call it as plain "dkms".
usage=$(exec -a dkms "$bin/dkms" --help | roff)
template=$(cat "$here/dkms.8.in")
template=${template//@VERSION@/$version}
template=${template//@DATE@/$date}
printf '%s\n' "${template//@USAGE@/$usage}" >"$out/dkms.8"
