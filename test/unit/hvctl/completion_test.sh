#!/usr/bin/env bash
# The bash completion offers every command `hvctl --help` lists, and each
# command's options as `hvctl CMD --help` lists them.
set -euo pipefail
hvctl=$1 completion=$2
source "$completion"
complete_words() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _hvctl; echo "${COMPREPLY[*]}"; }
fail=0
cmds=$("$hvctl" --help | sed -n '/^Commands:/,/^$/p' | awk 'NF>1 {print $1}')
[ -n "$cmds" ] || { echo "no commands in hvctl --help"; exit 1; }
for c in $cmds; do
  got=$(complete_words hvctl "$c")
  [[ " $got " == *" $c "* ]] || { echo "command $c not completed (got: $got)"; fail=1; }
  for o in $("$hvctl" "$c" --help | sed -n '/^Options:/,/^$/p' | grep -o -- '--[a-z-]*' | sort -u); do
    got=$(complete_words hvctl "$c" "$o")
    [[ " $got " == *" $o "* ]] || { echo "option $o of $c not completed"; fail=1; }
  done
done
exit $fail
