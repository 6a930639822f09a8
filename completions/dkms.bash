# shellcheck shell=bash
# Bash completion for dkms, the drop-in DKMS of the dkms-hook package.
# Installed as /usr/share/bash-completion/completions/dkms. Written by hand:
# dkms takes upstream DKMS's argument forms (one action word anywhere,
# module/version shorthand, -k kernel/arch), which clap cannot describe.
# dkms-hook's completion is generated from its clap definitions instead.
# Every option here is documented in man/dkms.8.in and the other way round
# (tests/docs.rs checks both).

# Print the module names of dkms tree $1, or the versions of module $2.
_dkms_tree_words()
{
    local tree=$1 d
    if [[ -n $2 ]]; then
        for d in "$tree/$2"/*/; do
            [[ -d $d ]] || continue
            d=${d%/}
            d=${d##*/}
            [[ $d == kernel-* || $d == original_module ]] && continue
            printf '%s\n' "$d"
        done
    else
        for d in "$tree"/*/; do
            [[ -d $d ]] || continue
            d=${d%/}
            printf '%s\n' "${d##*/}"
        done
    fi
}

# Print every module/version registered in dkms tree $1.
_dkms_module_versions()
{
    local m v
    while read -r m; do
        while read -r v; do
            printf '%s/%s\n' "$m" "$v"
        done < <(_dkms_tree_words "$1" "$m")
    done < <(_dkms_tree_words "$1")
}

# Print the kernel versions under module tree $1.
_dkms_kernels()
{
    local d
    for d in "$1"/*/; do
        [[ -d $d ]] || continue
        d=${d%/}
        printf '%s\n' "${d##*/}"
    done
}

# Set COMPREPLY to the words of $1 (whitespace separated) that start with $2.
_dkms_reply()
{
    # shellcheck disable=SC2207
    COMPREPLY=($(compgen -W "$1" -- "$2"))
}

# Complete file names (or, with -d, directory names) starting with $2.
_dkms_paths()
{
    compopt -o filenames 2>/dev/null
    # shellcheck disable=SC2207
    if [[ $1 == -d ]]; then
        COMPREPLY=($(compgen -d -- "$2"))
    else
        COMPREPLY=($(compgen -f -- "$2"))
    fi
}

_dkms()
{
    local cur prev i w action="" module="" root="" tree="" modtree=""
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}

    local actions="add remove build unbuild install uninstall match autoinstall
        mktarball ldtarball status generate_mok kernel_preinst kernel_postinst
        kernel_prerm mkbmdeb"
    local opts="-m --module -v -k --kernelver -a --arch --all -c --config
        --archive --templatekernel --kernelsourcedir --dkmstree --sourcetree
        --installtree --directive --force --force-version-override
        --binaries-only --source-only --no-depmod --modprobe-on-install
        --symlink-modules -j --rpm_safe_upgrade --verbose -q --quiet --debug
        --root --output --no-initrd --no-clean-kernel --no-prepare-kernel
        -V --version -h --help"
    # The options that take a value as the next word.
    local with_value="-m|--module|-v|-k|--kernelver|-a|--arch|-c|--config|--archive|--templatekernel|--kernelsourcedir|--dkmstree|--sourcetree|--installtree|--directive|-j|--root|--output"

    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        case $w in
            -m | --module) module=${COMP_WORDS[i+1]%%/*} ;;
            --module=*) module=${w#*=} module=${module%%/*} ;;
            --root) root=${COMP_WORDS[i+1]} ;;
            --root=*) root=${w#*=} ;;
            --dkmstree) tree=${COMP_WORDS[i+1]} ;;
            --dkmstree=*) tree=${w#*=} ;;
            --installtree) modtree=${COMP_WORDS[i+1]} ;;
            --installtree=*) modtree=${w#*=} ;;
        esac
        if [[ $w =~ ^($with_value)$ ]]; then
            ((i++))
        elif [[ $w != -* && -z $action && " ${actions//$'\n'/ } " == *" $w "* ]]; then
            action=$w
        fi
    done
    [[ -n $tree ]] || tree=$root/var/lib/dkms
    [[ -n $modtree ]] || modtree=$root/lib/modules

    case $prev in
        -m | --module)
            _dkms_reply "$(_dkms_tree_words "$tree")" "$cur"
            return
            ;;
        -v)
            _dkms_reply "$(_dkms_tree_words "$tree" "$module")" "$cur"
            return
            ;;
        -k | --kernelver | --templatekernel)
            _dkms_reply "$(_dkms_kernels "$modtree")" "$cur"
            return
            ;;
        -a | --arch)
            _dkms_reply "$(uname -m)" "$cur"
            return
            ;;
        --output)
            _dkms_reply "text json yaml" "$cur"
            return
            ;;
        -c | --config | --archive)
            _dkms_paths -f "$cur"
            return
            ;;
        --kernelsourcedir | --dkmstree | --sourcetree | --installtree | --root)
            _dkms_paths -d "$cur"
            return
            ;;
        -j | --directive)
            return
            ;;
    esac

    if [[ $cur == -* ]]; then
        _dkms_reply "$opts" "$cur"
    elif [[ -z $action ]]; then
        _dkms_reply "$actions" "$cur"
    else
        case $action in
            add | ldtarball)
                _dkms_paths -f "$cur"
                ;;
            remove | build | unbuild | install | uninstall | match | mktarball | mkbmdeb | status)
                _dkms_reply "$(_dkms_module_versions "$tree")" "$cur"
                ;;
        esac
    fi
}

complete -F _dkms dkms
