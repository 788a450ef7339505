"""The completion scripts ``ntcli complete --shell SHELL`` prints.

Each is a thin adapter: on Tab it runs ``ntcli complete --query`` with the
words typed so far (stdin closed, stderr discarded) and offers what comes
back; :mod:`ntcli.completion` decides everything else, for all shells alike.
The answer's first line is ``words`` (the candidates follow, one a line,
with a description after a tab), ``files`` or ``dirs`` (the shell completes
a path).

When the ntcli that printed the script is the one on ``$PATH`` at Tab
time, the script starts its interpreter directly, as its console script
would (the same ``sys.path``, ``sys.argv[0]`` and interpreter options), but
without the console script's own ``import re``: measured, 5-10 ms of a
25 ms Tab. Otherwise (another ntcli on ``$PATH``, the interpreter gone,
a script printed by ``python -m ntcli``) it runs ``command ntcli``.
"""

from __future__ import annotations

import os
import sys

# Needs nothing from bash-completion: the line is split by ntcli itself,
# and the candidates come back cut at bash's word breaks (':' and '=').
BASH = r'''# ntcli completion for bash: eval "$(ntcli complete --shell bash)"
_ntcli_complete() {
    local cur=${COMP_WORDS[COMP_CWORD]} kind candidate
    local -a reply
    [[ $cur == [=:] ]] && cur=
    mapfile -t reply < <(_ntcli_query complete --query --line \
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
@QUERY@'''

ZSH = r'''#compdef ntcli
# ntcli completion for zsh: source <(ntcli complete --shell zsh)
# (after compinit), or save it as _ntcli in a directory of $fpath.
_ntcli() {
    local -a reply candidates
    local line value option
    reply=("${(@f)$(_ntcli_query complete --query -- \
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
@QUERY@if [[ $funcstack[1] == _ntcli ]]; then
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
    set -l reply (__ntcli_query complete --query -- $words "$current" \
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
@QUERY@complete -c ntcli -e
complete -c ntcli -f -a '(__ntcli_complete)'
'''

# How a Tab runs ntcli: this installation's interpreter when its ntcli is
# the one on $PATH (bash: the command hash table; zsh: $commands; fish:
# command -s), else whatever ntcli is there.
BASH_QUERY = r'''_ntcli_query() {
    if hash ntcli 2>/dev/null && [[ ${BASH_CMDS[ntcli]} == @SCRIPT@ \
            && -x @PYTHON@ ]]; then
        @PYTHON@ @FLAGS@-c @CODE@ "$@"
    else
        command ntcli "$@"
    fi
}
'''

ZSH_QUERY = r'''_ntcli_query() {
    if [[ ${commands[ntcli]} == @SCRIPT@ && -x @PYTHON@ ]]; then
        @PYTHON@ @FLAGS@-c @CODE@ "$@"
    else
        command ntcli "$@"
    fi
}
'''

FISH_QUERY = r'''function __ntcli_query
    set -l found (command -s ntcli)
    if test "$found" = @SCRIPT@; and test -x @PYTHON@
        @PYTHON@ @FLAGS@-c @CODE@ $argv
    else
        command ntcli $argv
    end
end
'''

GENERIC_QUERY = {'bash': '_ntcli_query() {\n    command ntcli "$@"\n}\n',
                 'zsh': '_ntcli_query() {\n    command ntcli "$@"\n}\n',
                 'fish': 'function __ntcli_query\n    command ntcli $argv\n'
                         'end\n'}

TEMPLATES = {'bash': (BASH, BASH_QUERY), 'zsh': (ZSH, ZSH_QUERY),
             'fish': (FISH, FISH_QUERY)}
#: the shells there is a script for
SHELLS = sorted(TEMPLATES)

# What the interpreter runs on a Tab, given the console script's directory
# and path: what the console script does, less its ``import re`` (which
# only strips a Windows suffix from argv[0]). sys.path[0] is set before
# ntcli is imported: ``-c`` puts the working directory there, and an
# ``ntcli`` directory in it must not be imported. It ends as the console
# script does (ntcli.main.run), without the interpreter's teardown.
CODE = ('import sys;sys.path[0]=sys.argv.pop(1);sys.argv[0]=sys.argv.pop(1);'
        'from ntcli.main import run;sys.exit(run())')


class Installation:
    """The ntcli console script running now, and how its interpreter
    started it."""

    def __init__(self, script: str, python: str, bin_dir: str,
                 flags: str) -> None:
        self.script = script
        self.python = python
        self.bin_dir = bin_dir
        self.flags = flags

    @classmethod
    def current(cls) -> Installation | None:
        """This process's, when it is ntcli's console script started from
        a path a shell script can name; None otherwise."""
        program = sys.modules.get('__main__')
        path = getattr(program, '__file__', None) or ''
        script = os.path.abspath(sys.argv[0]) if sys.argv else ''
        if (os.path.basename(path) != 'ntcli'
                or os.path.basename(script) != 'ntcli'
                or sys.flags.isolated or not sys.path
                or sys.path[0] != os.path.dirname(os.path.realpath(script))
                or not sys.executable):
            return None
        found = cls(script, sys.executable, sys.path[0],
                    ('-E ' if sys.flags.ignore_environment else '')
                    + ('-s ' if sys.flags.no_user_site else ''))
        return found if all(_nameable(p) for p in (
            found.script, found.python, found.bin_dir)) else None


def _nameable(path: str) -> bool:
    """A path a script can hold: UTF-8, no control characters."""
    try:
        path.encode('utf-8')
    except UnicodeEncodeError:
        return False
    return all(ord(c) >= 0x20 and c != '\x7f' for c in path)


def _fish_quote(text: str) -> str:
    """``text`` in fish's single quotes (where \\ and \' are escapes)."""
    return "'" + text.replace('\\', '\\\\').replace("'", "\\'") + "'"


def script(shell: str, installation: Installation | None) -> str:
    """The completion script of ``shell`` for ``installation`` (None: for
    whatever ntcli is on ``$PATH``)."""
    body, query = TEMPLATES[shell]
    if installation is None:
        return body.replace('@QUERY@', GENERIC_QUERY[shell])
    import shlex
    quote = _fish_quote if shell == 'fish' else shlex.quote
    query = (query.replace('@SCRIPT@', quote(installation.script))
             .replace('@PYTHON@', quote(installation.python))
             .replace('@FLAGS@', installation.flags)
             .replace('@CODE@', ' '.join(quote(arg) for arg in (
                 CODE, installation.bin_dir, installation.script))))
    return body.replace('@QUERY@', query)
