"""Fault injection for crash tests.

``NTCLI_FAULT=<checkpoint>`` makes the process kill itself (SIGKILL, no
clean-up) when it reaches that checkpoint, as a power cut would. Unset, a
checkpoint costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal


def checkpoint(name: str) -> None:
    """Die here if NTCLI_FAULT names this checkpoint."""
    if os.environ.get('NTCLI_FAULT') == name:
        os.kill(os.getpid(), signal.SIGKILL)
