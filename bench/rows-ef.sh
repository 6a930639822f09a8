# shellcheck shell=bash disable=SC2154,SC2034
# Rows c, e and f of bench/run (sourced by it; uses its helpers and
# variables): modules built against real kernel headers.
#
#   c. the first autoinstall of $nmod one-file modules for a fresh kernel
#      whose kernel/ holds $intree in-tree modules (hard links of one real
#      module, indexed by a real depmod): the reference's `dkms autoinstall`,
#      ours through `dkms-hook autoinstall`, and the physical limit: the
#      same sources built by a bare `make -C <headers> M=<dir> modules`,
#      nproc at a time, with no dkms at all (no install, no depmod).
#   e. the six for a fresh kernel: the reference's `dkms autoinstall -k K`
#      against ours (`dkms-hook autoinstall -k K`), and ours against the
#      ideal schedule, max(total CPU time
#      of the six builds / CPUs, longest single build), where each build's
#      wall and CPU time come from our `dkms build` of that module alone
#      (make -jN, N = CPUs) in a fresh root, once per bench run.
#   f. two kernels at once: two `dkms-hook kernel-postinst` processes started
#      together, and one `dkms-hook autoinstall -k K1 -k K2`, against the
#      reference's `dkms autoinstall -k K1` then `-k K2`.
#
# While a tool runs, bench/sample-procs records every 100 ms how many cc1
# run under it (and machine-wide) and which module each process works on;
# the notes show the maxima and a per-module timeline.

real_pkgs=(acpi-call-dkms vpoll-dkms tp-smapi-dkms v4l2loopback-dkms iptables-netflow-dkms xtables-addons-dkms)
sampler=$repo/bench/sample-procs

# Sets ef_reason to why rows e and f cannot run here (empty when they can),
# real_kernels to the two newest real kernels and real_dirs to the six
# unpacked sources.
check_real_prereqs() {
    local h out p d n=0
    ef_reason="" real_kernels=() real_dirs=()
    for h in /usr/src/linux-headers-6.1.0-*-amd64; do
        [ -f "$h/Makefile" ] || continue
        [[ ${h#/usr/src/linux-headers-6.1.0-} =~ ^[0-9]+-amd64$ ]] || continue
        real_kernels+=("${h#/usr/src/linux-headers-}")
    done
    if [ "${#real_kernels[@]}" -lt 2 ]; then
        ef_reason="needs two /usr/src/linux-headers-6.1.0-N-amd64"
        return
    fi
    mapfile -t real_kernels < <(printf '%s\n' "${real_kernels[@]}" | sort -V | tail -n 2)
    if ! command -v gcc >/dev/null; then
        ef_reason="gcc not found"
        return
    fi
    if ! pkg-config --exists xtables 2>/dev/null; then
        ef_reason="iptables-netflow needs iptables libxtables-dev pkg-config"
        return
    fi
    # The cache is shared with the test tier; the script downloads once.
    if ! out=$(bash "$repo/tests/real/fetch-sources.sh" 2>"$work/fetch.err"); then
        ef_reason="tests/real/fetch-sources.sh failed: $(tail -n 1 "$work/fetch.err")"
        return
    fi
    for p in "${real_pkgs[@]}"; do
        while IFS= read -r d; do
            case $d in */src/"$p"/usr/src/*) real_dirs+=("$d"); n=$((n + 1)) ;; esac
        done <<<"$out"
    done
    [ "$n" -eq "${#real_pkgs[@]}" ] || ef_reason="fetch-sources.sh gave $n of ${#real_pkgs[@]} packages"
}

# A relative path from directory $1 (absolute, canonical) up to /.
up_to_slash() {
    local rel="" part
    local -a parts
    IFS=/ read -r -a parts <<<"${1#/}"
    for part in "${parts[@]}"; do [ -z "$part" ] || rel="../$rel"; done
    printf '%s' "${rel%/}"
}

# A root $1 with every real kernel (lib/modules/K: build -> the headers,
# empty module indexes, no in-tree modules; boot/vmlinuz-K, boot/config-K),
# the six sources in usr/src, Debian's os-release, and a framework.conf that
# keeps ours from signing.
make_real_root() {
    local r=$1 k d up
    mkdir -p "$r/etc/dkms" "$r/var/lib/dkms" "$r/usr/src" "$r/boot" "$r/lib/modules" "$r/tmp"
    printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n' >"$r/etc/os-release"
    printf 'sign_file="/nonexistent/sign-file"\n' >"$r/etc/dkms/framework.conf"
    up=$(up_to_slash "$r/usr/src")
    for k in "${real_kernels[@]}"; do
        d=$r/lib/modules/$k
        mkdir -p "$d/kernel"
        : >"$d/modules.dep"
        : >"$d/modules.order"
        : >"$d/modules.builtin"
        : >"$d/modules.builtin.modinfo"
        # build -> /usr/src/linux-headers-K works whether or not a tool
        # re-bases absolute link targets under the root.
        ln -s "/usr/src/linux-headers-$k" "$d/build"
        ln -s "$up/usr/src/linux-headers-$k" "$r/usr/src/linux-headers-$k"
        : >"$r/boot/vmlinuz-$k"
        cp "/usr/src/linux-headers-$k/.config" "$r/boot/config-$k"
    done
    for d in "${real_dirs[@]}"; do cp -a "$d" "$r/usr/src/"; done
    # iptables-netflow-dkms ships README.gz -> ../../share/doc/...: a link
    # out of the source tree, which ours refuses to build from (see notes).
    find "$r/usr/src" -mindepth 2 -type l -lname '../../share/doc/*' -delete
}

# "name/version" of every real module, from the source directory names.
real_modules() {
    local d b
    real_mv=()
    for d in "${real_dirs[@]}"; do
        b=${d##*/}
        real_mv+=("${b%-*}/${b##*-}")
    done
}

# How many .ko the six install per kernel (their BUILT_MODULE_NAME entries).
real_expected_ko() {
    local d n=0 c
    for d in "${real_dirs[@]}"; do
        c=$(grep -c '^[[:space:]]*BUILT_MODULE_NAME\[' "$d/dkms.conf" || true)
        n=$((n + c))
    done
    echo "$n"
}

# Fail unless root $1 has every module installed for kernel $2 and indexed.
check_real_installed() {
    local r=$1 k=$2 what=$3 got dep
    got=$(find "$r/lib/modules/$k/updates/dkms" -name '*.ko*' 2>/dev/null | wc -l)
    dep=$(grep -c '^updates/dkms/' "$r/lib/modules/$k/modules.dep" 2>/dev/null || true)
    if [ "$got" -ne "$real_ko" ] || [ "$dep" -ne "$real_ko" ]; then
        say "bench: $what: $got of $real_ko modules installed for $k, $dep in modules.dep"
        sed 's/^/  stdout: /' "$work/last.out" | tail -n 60 >&2
        sed 's/^/  stderr: /' "$work/last.err" | tail -n 30 >&2
        exit 1
    fi
}

# Run "$@" in the background under the sampler, like run_timed; sets secs,
# rc, cpu (user+sys seconds of the whole process tree), cc1_max (under the
# command), cc1_all (machine-wide) and leaves the samples in $work/samples.
run_sampled() {
    local t0 t1 pid spid
    rc=0
    rm -f "$work/samples" "$work/times"
    t0=$EPOCHREALTIME
    (
        st=0
        "$@" >"$work/last.out" 2>"$work/last.err" </dev/null || st=$?
        times >"$work/times"
        exit "$st"
    ) &
    pid=$!
    "$sampler" "$pid" "$work/samples" 0.1 &
    spid=$!
    wait "$pid" || rc=$?
    t1=$EPOCHREALTIME
    kill -TERM "$spid" 2>/dev/null || true
    wait "$spid" 2>/dev/null || true
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
    # `times`: line 2 is the children's user and system time, "1m2.345s 0m0.678s".
    cpu=$(sed -n 2p "$work/times" | awk '{ s = 0
        for (i = 1; i <= 2; i++) { split($i, p, "m"); sub("s", "", p[2]); s += p[1] * 60 + p[2] }
        printf "%.2f", s }')
    read -r cc1_max cc1_all <<<"$(awk 'BEGIN { a = 0; b = 0 } { if ($2 > a) a = $2; if ($3 > b) b = $3 }
        END { print a, b }' "$work/samples" 2>/dev/null || echo "0 0")"
    # Share of samples with more cc1 under the command than CPUs.
    cc1_over=$(awk -v j="$jobs" '{ n++; if ($2 > j) o++ } END { printf "%.0f%%", n ? 100 * o / n : 0 }' "$work/samples" 2>/dev/null || echo "?")
}

# One line: per module, the spans of samples that saw it (seconds from the
# start; a gap over 1 s starts a new span), ordered by start.
timeline() {
    awk '$4 != "-" { n = split($4, m, ",")
            for (i = 1; i <= n; i++) {
                x = m[i]
                if (!(x in last) || $1 - last[x] > 1.0) { k = ++spans; who[k] = x; s[k] = $1; cur[x] = k }
                e[cur[x]] = $1; last[x] = $1 } }
        END { for (k = 1; k <= spans; k++) printf "%s %s %s\n", s[k], e[k], who[k] }' "$work/samples" |
        sort -g | awk '{ printf "%s%s %.1f–%.1f", (NR > 1 ? ", " : ""), $3, $1, $2 } END { print "" }'
}

# The reference for root $1, kernels $2...: one autoinstall after the other.
ref_autoinstall() {
    local r=$1 k
    shift
    for k in "$@"; do
        tree_opts "$r" "$k"
        ref_in "$r" autoinstall -k "$k" "${opts[@]}" || return
    done
}
# Ours (dkms-hook) for root $1: its subcommand and arguments follow.
hook_in() {
    local r=$1
    shift
    env BENCH_DEPMOD_BASE="$r" BENCH_DEPMOD_LOG="$r/depmod.log" "$hook_ours" --root "$r" "$@"
}
# Two kernel-postinst processes started together, as two dpkg postinsts would.
hook_postinst_both() {
    local r=$1 k1=$2 k2=$3 p1 p2 st=0
    hook_in "$r" kernel-postinst "$k1" "/boot/vmlinuz-$k1" &
    p1=$!
    hook_in "$r" kernel-postinst "$k2" "/boot/vmlinuz-$k2" &
    p2=$!
    wait "$p1" || st=$?
    wait "$p2" || st=$?
    return "$st"
}

check_real_prereqs
if [ -n "$ef_reason" ]; then
    say "bench: rows e, f not measured: $ef_reason"
    rows+=("c. first autoinstall, real modules|not measured|–|–|≤ 0.25× ref, ≤ 1.05× bare make|–")
    rows+=("e. six real modules, fresh kernel|not measured|–|–|≤ 0.75× ref, ≤ 1.1× ideal schedule|–")
    rows+=("f. \`kernel-postinst\` for two kernels at once|not measured|–|–|one jobserver, no oversubscription|–")
    notes+=("e, f. not measured: $ef_reason")
else
    KR1=${real_kernels[0]} KR2=${real_kernels[1]}
    real_modules
    real_ko=$(real_expected_ko)
    say "bench: preparing real-module roots (kernels $KR1 $KR2; ${real_mv[*]})"
    host_state=$work/host-state.stamp
    : >"$host_state"
    host_dkms_existed=0
    [ ! -e /var/lib/dkms ] || host_dkms_existed=1

    # Templates: the six added, nothing built. The reference's `add` links
    # source -> the template's usr/src by its host path; ours links
    # /usr/src/... inside the root. Copies of a template share those sources.
    RT_ref=$work/real-ref
    RT_ours=$work/real-ours
    make_real_root "$RT_ref"
    make_real_root "$RT_ours"
    for mv in "${real_mv[@]}"; do
        ref_in "$RT_ref" add "$mv" --dkmstree "$RT_ref/var/lib/dkms" --sourcetree "$RT_ref/usr/src" \
            --installtree "$RT_ref/lib/modules" >"$work/setup.out" 2>&1 ||
            { cat "$work/setup.out" >&2; die "setup: reference add $mv failed"; }
        "$ours" --root "$RT_ours" add "$mv" >"$work/setup.out" 2>&1 ||
            { cat "$work/setup.out" >&2; die "setup: our add $mv failed"; }
    done
    notes+=("e, f. the real modules: ${real_mv[*]} ($real_ko .ko per kernel); kernels $KR1 and $KR2 (real headers, empty kernel/); iptables-netflow's README.gz link (-> ../../share/doc/...) is deleted from the bench copy because ours refuses a source tree with a link out of it")

    # ------------------------------------------------------------ row c
    say "bench: c. first autoinstall, $nmod one-file real modules, fresh kernel $KR2 with $intree in-tree modules ($rounds_c rounds)"
    # One real module source per name: dkms.conf, Makefile, C file.
    write_real_module() {
        local d=$1 m=$2
        mkdir -p "$d"
        printf 'PACKAGE_NAME="%s"\nPACKAGE_VERSION="1.0"\nBUILT_MODULE_NAME[0]="%s"\nDEST_MODULE_LOCATION[0]="/updates/dkms"\nAUTOINSTALL="yes"\n' "$m" "$m" >"$d/dkms.conf"
        printf 'obj-m := %s.o\n' "$m" >"$d/Makefile"
        printf '#include <linux/module.h>\n#include <linux/init.h>\nstatic int __init %s_init(void) { return 0; }\nstatic void __exit %s_exit(void) { }\nmodule_init(%s_init);\nmodule_exit(%s_exit);\nMODULE_LICENSE("GPL");\n' "$m" "$m" "$m" "$m" >"$d/$m.c"
    }
    cmods=()
    for n in $(seq 1 "$nmod"); do
        printf -v i %02d "$n"
        cmods+=("c$i")
    done
    write_real_module "$work/intree-real" intree
    make -s -C "/usr/src/linux-headers-$KR2" M="$work/intree-real" modules >"$work/setup.out" 2>&1 ||
        { cat "$work/setup.out" >&2; die "setup: building the in-tree stand-in failed"; }
    RC_ref=$work/rc-ref
    RC_ours=$work/rc-ours
    for rc_root in "$RC_ref" "$RC_ours"; do
        make_real_root "$rc_root"
        for m in "${cmods[@]}"; do write_real_module "$rc_root/usr/src/$m-1.0" "$m"; done
        perl -e 'my ($ko, $dir, $n) = @ARGV;
            for my $i (1 .. $n) {
                my $d = sprintf "%s/drivers/d%02d", $dir, $i % 50;
                mkdir "$dir/drivers"; mkdir $d;
                link $ko, "$d/intree$i.ko" or die "link: $!";
            }' "$work/intree-real/intree.ko" "$rc_root/lib/modules/$KR2/kernel" "$intree"
        "$real_depmod" -b "$rc_root" "$KR2"
    done
    for m in "${cmods[@]}"; do
        ref_in "$RC_ref" add "$m/1.0" --dkmstree "$RC_ref/var/lib/dkms" --sourcetree "$RC_ref/usr/src" \
            --installtree "$RC_ref/lib/modules" >"$work/setup.out" 2>&1 ||
            { cat "$work/setup.out" >&2; die "setup: reference add $m failed"; }
        "$ours" --root "$RC_ours" add "$m/1.0" >"$work/setup.out" 2>&1 ||
            { cat "$work/setup.out" >&2; die "setup: our add $m failed"; }
    done
    rm -f "$RC_ref/depmod.log" "$RC_ours/depmod.log"
    # Fail unless root $1 has all of row c's modules installed and indexed.
    check_c_installed() {
        local r=$1 what=$2 n=0 m
        for m in "${cmods[@]}"; do
            [ -f "$r/lib/modules/$KR2/updates/dkms/$m.ko" ] && grep -q "^updates/dkms/$m.ko:" "$r/lib/modules/$KR2/modules.dep" && n=$((n + 1))
        done
        [ "$n" -eq "$nmod" ] || { sed 's/^/  stderr: /' "$work/last.err" | tail -n 20 >&2; die "$what: only $n of $nmod modules installed and in modules.dep"; }
    }
    # The physical limit: the same sources, bare kbuild, nproc at a time.
    bare_c() {
        local d=$1
        printf '%s\n' "$d"/* | xargs -P "$jobs" -I{} make -s -C "/usr/src/linux-headers-$KR2" M={} modules
    }
    ref_t=() ours_t=() bare_t=() ref_dep=() ours_dep=()
    for r in $(seq 1 "$rounds_c"); do
        rr=$work/run-c
        for tool in ref ours bare; do
            rm -rf "$rr"
            case $tool in
            ref)
                clone_root "$RC_ref" "$rr"
                tree_opts "$rr" "$KR2"
                run_timed ref_in "$rr" autoinstall -k "$KR2" "${opts[@]}"
                check_rc "reference first autoinstall (row c)"
                check_c_installed "$rr" "reference (row c)"
                ref_t+=("$secs") ref_dep+=("$(wc -l <"$rr/depmod.log" 2>/dev/null || echo 0)") ;;
            ours)
                clone_root "$RC_ours" "$rr"
                run_timed hook_in "$rr" autoinstall -k "$KR2"
                check_rc "our first autoinstall (row c)"
                check_c_installed "$rr" "ours (row c)"
                ours_t+=("$secs") ours_dep+=("$(wc -l <"$rr/depmod.log" 2>/dev/null || echo 0)") ;;
            bare)
                mkdir -p "$rr"
                for m in "${cmods[@]}"; do write_real_module "$rr/$m" "$m"; done
                run_timed bare_c "$rr"
                check_rc "bare kbuild (row c)"
                bare_t+=("$secs") ;;
            esac
            rm -rf "$rr"
        done
    done
    add_row "c. first autoinstall, $nmod one-file real modules, $intree in-tree (ours: \`dkms-hook autoinstall\`)" "${ref_t[*]}" "${ours_t[*]}" "≤ 0.25× ref" fraction 0.25
    add_row "c. ours against the physical limit: bare kbuild, $jobs at a time (ref column: bare)" "${bare_t[*]}" "${ours_t[*]}" "≤ 1.05× bare" overhead 0.05
    dep_met=yes
    for d in "${ours_dep[@]}"; do [ "$d" = 1 ] || dep_met=NO; done
    rows+=("c. depmod runs per kernel per run|${ref_dep[*]}|${ours_dep[*]}|–|exactly 1 (ours)|$dep_met")

    # ------------------------------------------------------------ ideal
    say "bench: e. ideal schedule: each real module built alone by ours (dkms build, -j$jobs)"
    ideal_cpu=0 ideal_long=0 ideal_desc=""
    for mv in "${real_mv[@]}"; do
        rr=$work/run-ideal
        rm -rf "$rr"
        cp -a "$RT_ours" "$rr"
        run_sampled ours_in "$rr" --root "$rr" build "$mv" -k "$KR2"
        check_rc "our build of $mv alone"
        ideal_cpu=$(awk -v a="$ideal_cpu" -v b="$cpu" 'BEGIN { print a + b }')
        ideal_long=$(awk -v a="$ideal_long" -v b="$secs" 'BEGIN { print (b > a) ? b : a }')
        ideal_desc+="${ideal_desc:+, }${mv%/*} $(fmt_s "$secs") wall / $(fmt_s "$cpu") CPU (cc1 max $cc1_max)"
        rm -rf "$rr"
    done
    ideal=$(awk -v c="$ideal_cpu" -v n="$jobs" -v l="$ideal_long" 'BEGIN { i = c / n; printf "%.4f", (l > i) ? l : i }')
    notes+=("e. each module alone (ours \`build\`, -j$jobs): $ideal_desc")
    ideal2=$(awk -v c="$ideal_cpu" -v n="$jobs" -v l="$ideal_long" 'BEGIN { i = 2 * c / n; printf "%.4f", (l > i) ? l : i }')
    notes+=("e. ideal schedule for one kernel = max($(fmt_s "$ideal_cpu") CPU / $jobs CPUs, longest $(fmt_s "$ideal_long")) = $(fmt_s "$ideal"); for two kernels (row f): $(fmt_s "$ideal2")")

    # ------------------------------------------------------------ row e
    say "bench: e. six real modules, autoinstall for $KR2 ($rounds_e rounds)"
    ref_t=() ours_t=() ref_c=() ours_c=() ref_x=() ours_x=() ref_u=() ours_u=()
    load_e=$(cut -d' ' -f1-3 /proc/loadavg)
    for r in $(seq 1 "$rounds_e"); do
        for tool in ref ours; do
            rr=$work/run-e
            rm -rf "$rr"
            if [ "$tool" = ref ]; then
                cp -a "$RT_ref" "$rr"
                tree_opts "$rr" "$KR2"
                run_sampled ref_in "$rr" autoinstall -k "$KR2" "${opts[@]}"
            else
                cp -a "$RT_ours" "$rr"
                run_sampled hook_in "$rr" autoinstall -k "$KR2"
            fi
            check_rc "$tool autoinstall of the real modules"
            check_real_installed "$rr" "$KR2" "$tool autoinstall"
            used=$(awk -v c="$cpu" -v s="$secs" 'BEGIN { printf "%.2f", c / s }')
            if [ "$tool" = ref ]; then
                ref_t+=("$secs") ref_c+=("$cpu") ref_x+=("$cc1_max/$cc1_all") ref_u+=("$used")
            else
                ours_t+=("$secs") ours_c+=("$cpu") ours_x+=("$cc1_max/$cc1_all") ours_u+=("$used")
            fi
            [ "$r" != 1 ] || notes+=("e. $tool timeline, round 1 ($(fmt_s "$secs"), seconds from start): $(timeline)")
            rm -rf "$rr"
        done
    done
    add_row "e. six real modules, \`autoinstall\` for a fresh kernel (ours: \`dkms-hook autoinstall\`)" "${ref_t[*]}" "${ours_t[*]}" "≤ 0.75× ref" fraction 0.75
    add_row "e. ours against the ideal schedule (ref column: ideal)" "$ideal" "${ours_t[*]}" "≤ 1.1× ideal" overhead 0.10
    add_row "e. CPU time, user+sys of the whole run (info)" "${ref_c[*]}" "${ours_c[*]}" "–" fraction -
    notes+=("e. CPUs busy on average (CPU time ÷ wall time), per round: reference ${ref_u[*]}; ours ${ours_u[*]} (of $jobs; load average before row e: $load_e; other users of the machine take their share)")
    e_met=yes
    for x in "${ours_x[@]}"; do [ "${x%/*}" -le "$jobs" ] || e_met=NO; done
    rows+=("e. most cc1 at once: under the tool/machine-wide, per round|${ref_x[*]}|${ours_x[*]}|–|≤ $jobs under ours|$e_met")

    # ------------------------------------------------------------ row f
    say "bench: f. two kernels at once ($rounds_f rounds)"
    ref_t=() two_t=() one_t=() ref_x=() two_x=() one_x=() two_o=() one_o=()
    for r in $(seq 1 "$rounds_f"); do
        for tool in ref two one; do
            rr=$work/run-f
            rm -rf "$rr"
            case $tool in
            ref)
                cp -a "$RT_ref" "$rr"
                run_sampled ref_autoinstall "$rr" "$KR1" "$KR2" ;;
            two)
                cp -a "$RT_ours" "$rr"
                run_sampled hook_postinst_both "$rr" "$KR1" "$KR2" ;;
            one)
                cp -a "$RT_ours" "$rr"
                run_sampled hook_in "$rr" autoinstall -k "$KR1" -k "$KR2" ;;
            esac
            check_rc "$tool (row f)"
            check_real_installed "$rr" "$KR1" "$tool (row f)"
            check_real_installed "$rr" "$KR2" "$tool (row f)"
            case $tool in
            ref) ref_t+=("$secs") ref_x+=("$cc1_max/$cc1_all") ;;
            two) two_t+=("$secs") two_x+=("$cc1_max/$cc1_all") two_o+=("$cc1_over") ;;
            one) one_t+=("$secs") one_x+=("$cc1_max/$cc1_all") one_o+=("$cc1_over") ;;
            esac
            [ "$r" != 1 ] || notes+=("f. $tool timeline, round 1 ($(fmt_s "$secs")): $(timeline)")
            rm -rf "$rr"
        done
    done
    add_row "f. two kernels: two \`dkms-hook kernel-postinst\` at once (ref: \`autoinstall -k K1\`, then \`-k K2\`)" "${ref_t[*]}" "${two_t[*]}" "–" fraction -
    add_row "f. two kernels: one \`dkms-hook autoinstall -k K1 -k K2\` (ref: the same)" "${ref_t[*]}" "${one_t[*]}" "–" fraction -
    f_met=yes
    for x in "${two_x[@]}" "${one_x[@]}"; do [ "${x%/*}" -le "$jobs" ] || f_met=NO; done
    rows+=("f. most cc1 at once: under the tool/machine-wide, per round (ours: two processes; one process)|${ref_x[*]}|${two_x[*]}; ${one_x[*]}|–|≤ $jobs (jobserver size) under ours|$f_met")
    notes+=("f. share of 100 ms samples with more than $jobs cc1 under ours: two processes ${two_o[*]}; one process ${one_o[*]}")

    # Nothing of the host may have changed.
    changed=$(find "/lib/modules/$KR1" "/lib/modules/$KR2" -newer "$host_state" 2>/dev/null | head -n 5 || true)
    [ -z "$changed" ] || notes+=("e, f. WARNING: changed under /lib/modules during the run: $changed")
    if [ "$host_dkms_existed" = 0 ] && [ -e /var/lib/dkms ]; then
        notes+=("e, f. WARNING: /var/lib/dkms appeared during the run")
    fi
fi
