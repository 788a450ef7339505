"""The directory where gunicorn's workers leave their metric values.

prometheus-client decides when it is first imported whether values live in
memory or in files under ``PROMETHEUS_MULTIPROC_DIR``, and gunicorn's
workers are forked from the master: so ``serve`` sets the variable (with
:func:`prepare`) before anything imports prometheus-client, and this module
imports it only when a worker exits.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile

ENV = 'PROMETHEUS_MULTIPROC_DIR'


def prepare(path: str | None) -> tuple[str, bool]:
    """Empty ``path`` of earlier values (they would add up with this run's)
    or, when None, make a private directory; set :data:`ENV` to it and
    return it and whether it was made here (to remove at exit)."""
    made = path is None
    if path is None:
        path = tempfile.mkdtemp(prefix='ntcli-server-metrics-')
    else:
        os.makedirs(path, mode=0o700, exist_ok=True)
    # Only prometheus-client's own files: the directory may be shared.
    for stale in glob.glob(os.path.join(path, '*.db')):
        os.remove(stale)
    os.environ[ENV] = path
    return path, made


def worker_exited(pid: int, path: str) -> None:
    """Forget the live gauges of a worker that exited; its counters stay
    (what it counted still happened)."""
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(pid, path)


def remove(path: str) -> None:
    """Remove a directory :func:`prepare` made."""
    shutil.rmtree(path, ignore_errors=True)
