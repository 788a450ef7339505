"""Where ntcli keeps its files.

The config directory holds ``config.json``, the encrypted credentials, their
key file and lock, and the audit history. The data directory holds the
embedded endpoint's authority database. ``--config-dir`` / ``NTCLI_CONFIG_DIR``
moves both (the data then lives in ``<config-dir>/data``) so that one option
isolates a whole ntcli installation; ``NTCLI_DATA_DIR`` moves the data alone.
"""

from __future__ import annotations

import os

APP_NAME = 'ntcli'


def config_dir(override: str | None = None) -> str:
    """The config directory: the override, NTCLI_CONFIG_DIR, or the
    platform's user config directory (``~/.config/ntcli`` on Linux)."""
    chosen = override or os.environ.get('NTCLI_CONFIG_DIR')
    if chosen:
        return os.path.abspath(os.path.expanduser(chosen))
    import platformdirs
    return platformdirs.user_config_dir(APP_NAME, appauthor=False,
                                        roaming=True)


def data_dir(config_override: str | None = None) -> str:
    """The data directory for the embedded endpoint's database."""
    chosen = os.environ.get('NTCLI_DATA_DIR')
    if chosen:
        return os.path.abspath(os.path.expanduser(chosen))
    explicit = config_override or os.environ.get('NTCLI_CONFIG_DIR')
    if explicit:
        return os.path.join(config_dir(explicit), 'data')
    import platformdirs
    return platformdirs.user_data_dir(APP_NAME, appauthor=False)
