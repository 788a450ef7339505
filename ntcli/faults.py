"""Fault injection for crash and failure tests.

``NTCLI_FAULT=<checkpoint>`` kills the process (SIGKILL, no clean-up) when it
reaches that checkpoint, as a power cut would. ``NTCLI_FAULT=fail:<point>``
makes the operation at that point fail as the real world would (a network
error, a full disk); ``NTCLI_FAULT=sigint:<checkpoint>`` (or ``sigterm:``)
sends that signal there, and ``stop:<checkpoint>`` stops the process there
(SIGSTOP, for a test to send a signal at a moment of its choosing after
SIGCONT). Several faults may be given, separated by commas.
Unset, a checkpoint costs one dictionary lookup.
"""

from __future__ import annotations

# _signal, not signal, which imports enum: see ntcli.stop
import _signal  # type: ignore[import-not-found]  # no stub
import os


def _faults() -> list[str]:
    return os.environ.get('NTCLI_FAULT', '').split(',')


_SIGNALS = {'sigint': _signal.SIGINT, 'sigterm': _signal.SIGTERM,
            'stop': _signal.SIGSTOP}


def checkpoint(name: str) -> None:
    """Die here if NTCLI_FAULT names this checkpoint; with
    ``sigint:<name>`` or ``sigterm:<name>``, send that signal to this
    process (once for each time it is named), as a user or a service
    manager would."""
    if 'NTCLI_FAULT' not in os.environ:
        return
    faults = _faults()
    if name in faults:
        os.kill(os.getpid(), _signal.SIGKILL)
    for fault in faults:
        kind, _, point = fault.partition(':')
        if point == name and kind in _SIGNALS:
            os.kill(os.getpid(), _SIGNALS[kind])


def should_fail(point: str) -> bool:
    """True if NTCLI_FAULT asks the operation at ``point`` to fail."""
    return 'NTCLI_FAULT' in os.environ and f'fail:{point}' in _faults()
