"""Fault injection for crash and failure tests.

``NTCLI_FAULT=<checkpoint>`` kills the process (SIGKILL, no clean-up) when it
reaches that checkpoint, as a power cut would. ``NTCLI_FAULT=fail:<point>``
makes the operation at that point fail as the real world would (a network
error, a full disk). Several faults may be given, separated by commas.
Unset, a checkpoint costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal


def _faults() -> list[str]:
    return os.environ.get('NTCLI_FAULT', '').split(',')


def checkpoint(name: str) -> None:
    """Die here if NTCLI_FAULT names this checkpoint."""
    if 'NTCLI_FAULT' in os.environ and name in _faults():
        os.kill(os.getpid(), signal.SIGKILL)


def should_fail(point: str) -> bool:
    """True if NTCLI_FAULT asks the operation at ``point`` to fail."""
    return 'NTCLI_FAULT' in os.environ and f'fail:{point}' in _faults()
