"""The completion scripts ``ntcli complete --shell SHELL`` prints.

Each is a thin adapter: on Tab it runs ``ntcli complete --query`` with the
words typed so far (stdin closed, stderr discarded) and offers what comes
back; :mod:`ntcli.completion` decides everything else, for all shells alike.
The answer's first line is ``words`` (the candidates follow, one a line,
with a description after a tab), ``files`` or ``dirs`` (the shell completes
a path).
"""

# Needs nothing from bash-completion: the line is split by ntcli itself,
# and the candidates come back cut at bash's word breaks (':' and '=').
BASH = r'''# ntcli completion for bash: eval "$(ntcli complete --shell bash)"
_ntcli_complete() {
    local cur=${COMP_WORDS[COMP_CWORD]} kind candidate
    local -a reply
    [[ $cur == [=:] ]] && cur=
    mapfile -t reply < <(command ntcli complete --query --line \
        --breaks "$COMP_WORDBREAKS" -- "${COMP_LINE:0:COMP_POINT}" \
        2>/dev/null </dev/null)
    kind=${reply[0]}
    COMPREPLY=()
    case $kind in
    files)
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
    dirs)
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -d -- "$cur") ;;
    words)
        for candidate in "${reply[@]:1}"; do
            COMPREPLY+=("${candidate%%$'\t'*}")
        done ;;
    esac
    return 0
}
complete -F _ntcli_complete ntcli
'''

ZSH = r'''#compdef ntcli
# ntcli completion for zsh: source <(ntcli complete --shell zsh)
# (after compinit), or save it as _ntcli in a directory of $fpath.
_ntcli() {
    local -a reply candidates
    local line value option
    reply=("${(@f)$(command ntcli complete --query -- \
        "${(@Q)words[2,CURRENT]}" 2>/dev/null </dev/null)}")
    # --option=value: the value alone is offered, after the option
    if [[ $PREFIX == --*=* ]]; then
        option=${PREFIX%%=*}=
        compset -P "${(b)option}"
    fi
    case ${reply[1]} in
    files) _files ;;
    dirs) _files -/ ;;
    words)
        for line in "${(@)reply[2,-1]}"; do
            [[ -n $line ]] || continue
            value=${${line%%$'\t'*}#"$option"}
            if [[ $line == *$'\t'* ]]; then
                candidates+=("${value//:/\\:}:${line#*$'\t'}")
            else
                candidates+=("${value//:/\\:}")
            fi
        done
        (( ${#candidates} )) && _describe -t values ntcli candidates ;;
    esac
    return 0
}
if [[ $funcstack[1] == _ntcli ]]; then
    _ntcli "$@"
elif (( $+functions[compdef] )); then
    compdef _ntcli ntcli
else
    print -u2 'ntcli completion needs compinit first; in ~/.zshrc:' \
        'autoload -Uz compinit && compinit'
fi
'''

FISH = r'''# ntcli completion for fish:
# ntcli complete --shell fish > ~/.config/fish/completions/ntcli.fish
function __ntcli_complete
    set -l words (commandline -opc)
    set -e words[1]
    set -l current (commandline -ct)
    set -l reply (command ntcli complete --query -- $words "$current" \
        2>/dev/null </dev/null)
    switch "$reply[1]"
        case files
            __fish_complete_path "$current"
        case dirs
            __fish_complete_directories "$current"
        case words
            set -e reply[1]
            printf '%s\n' $reply
    end
end
complete -c ntcli -e
complete -c ntcli -f -a '(__ntcli_complete)'
'''

SCRIPTS = {'bash': BASH, 'zsh': ZSH, 'fish': FISH}
