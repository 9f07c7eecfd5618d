# bash completion for hvctl (docs/hvctl.md).
# Install: source tools/hvctl/hvctl.bash, or copy it to
# /usr/share/bash-completion/completions/hvctl.
# Domain names are completed from `hvctl list --json` when the machine is up.

_hvctl_domains()
{
    hvctl list --json 2>/dev/null | tr ',{' '\n\n' | sed -n 's/^"name":"\([^"]*\)".*/\1/p'
}

_hvctl()
{
    local cur prev cmd i
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    local commands="up down status list info top log create destroy shutdown reboot pause unpause
        sched vcpu-pin console token validate diff apply compile devices bus services suspend
        mem-set volume restart kill"
    local global="--run-dir --socket --token-file --timeout --json --help"

    cmd=
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
        --run-dir | --socket | --token-file | --timeout) ((i++)) ;;
        -*) ;;
        *) cmd=${COMP_WORDS[i]}; break ;;
        esac
    done

    case $prev in
    --run-dir) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    --socket | --token-file | --iso | --disk | --disk-size | --qemu | -o | --output | --out)
        COMPREPLY=($(compgen -f -- "$cur")); return ;;
    -f | --file) COMPREPLY=($(compgen -f -X '!*.@(yaml|yml)' -- "$cur") $(compgen -d -- "$cur")); return ;;
    --rights | -r) COMPREPLY=($(compgen -W "info console pause lifecycle sched log token" -- "${cur##*,}")); return ;;
    --gang) COMPREPLY=($(compgen -W "true false" -- "$cur")); return ;;
    --net) COMPREPLY=($(compgen -W "none tap: user" -- "$cur")); return ;;
    --weight | --cap | --timeout | --wait | --interval | --iterations | --mem | --smp | --since | --label | --domains) return ;;
    esac

    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W "$commands $global" -- "$cur"))
        return
    fi
    local opts
    case $cmd in
    up) opts="--mem --smp --disk --disk-size --no-disk --net --iso --qemu --wait --keep" ;;
    top) opts="--interval --iterations --json" ;;
    log) opts="-f --follow --since --json" ;;
    list | status | devices | bus | services) opts="--json" ;;
    info) opts="--json --host" ;;
    create) opts="-f --file --paused --console --no-upload" ;;
    sched) opts="--weight --cap --gang" ;;
    shutdown) opts="--wait --timeout" ;;
    reboot) opts="--timeout" ;;
    console) opts="--force" ;;
    token) opts="create revoke --domains --rights --label --out" ;;
    volume) opts="create grow delete info list --json" ;;
    validate) opts="-f --file --check-files" ;;
    diff) opts="-f --file --prune" ;;
    apply) opts="-f --file --dry-run --prune" ;;
    compile) opts="-f --file -o --output --paused" ;;
    esac
    case $cmd in
    info | destroy | restart | kill | shutdown | reboot | pause | unpause | console | sched | vcpu-pin | bus | suspend | mem-set)
        if [[ $cur != -* ]]; then
            COMPREPLY=($(compgen -W "$(_hvctl_domains)" -- "$cur"))
            return
        fi ;;
    esac
    COMPREPLY=($(compgen -W "$opts --help $global" -- "$cur"))
}
complete -F _hvctl hvctl
