"""Where ntcli keeps its files.

The config directory holds ``config.json``, the encrypted credentials, their
key file and lock, and the audit history. The data directory holds the
embedded endpoint's authority database. ``--config-dir`` / ``NTCLI_CONFIG_DIR``
moves both (the data then lives in ``<config-dir>/data``) so that one option
isolates a whole ntcli installation; ``NTCLI_DATA_DIR`` moves the data alone.
"""

from __future__ import annotations

import os
import sys

APP_NAME = 'ntcli'
#: the encrypted credentials, in the config directory (ntcli.credential_store)
CREDENTIALS_FILE = 'credentials.enc'


def _linux_xdg_home(env_var: str, default: str) -> str | None:
    """The XDG base directory platformdirs would choose on Linux, or None.

    Importing platformdirs costs about 3 ms of every command. In the common
    case its answer is plain XDG, so it is computed here; every other case
    (another system, Android, a relative or padded variable, a HOME that is
    not absolute) is None, and left to platformdirs.
    """
    if (not sys.platform.startswith('linux')
            or hasattr(sys, 'getandroidapilevel')
            or 'ANDROID_DATA' in os.environ):
        return None
    value = os.environ.get(env_var, '')
    if value:
        return value if value.startswith('/') and value == value.strip() \
            else None
    if not os.environ.get('HOME', '').startswith('/'):
        return None
    return os.path.expanduser(default)


def config_dir(override: str | None = None) -> str:
    """The config directory: the override, NTCLI_CONFIG_DIR, or the
    platform's user config directory (``~/.config/ntcli`` on Linux)."""
    chosen = override or os.environ.get('NTCLI_CONFIG_DIR')
    if chosen:
        return os.path.abspath(os.path.expanduser(chosen))
    base = _linux_xdg_home('XDG_CONFIG_HOME', '~/.config')
    if base is not None:
        return os.path.join(base, APP_NAME)
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
    base = _linux_xdg_home('XDG_DATA_HOME', '~/.local/share')
    if base is not None:
        return os.path.join(base, APP_NAME)
    import platformdirs
    return platformdirs.user_data_dir(APP_NAME, appauthor=False)


def missing_home(directory: str) -> str | None:
    """The user's home directory when ``directory`` lies under it and it
    does not exist (``HOME=/nonexistent``), else None: ntcli never creates
    a home directory."""
    home = os.path.expanduser('~')
    if home in ('~', '/') or os.path.isdir(home):
        return None
    inside = os.path.commonpath([os.path.abspath(directory), home]) == home
    return home if inside else None


def cache_home() -> str | None:
    """The user's cache directory (``~/.cache`` on Linux), where it is
    plain XDG; None elsewhere, and under a home directory that does not
    exist (a cache is not worth creating one)."""
    base = _linux_xdg_home('XDG_CACHE_HOME', '~/.cache')
    if base is not None and missing_home(base) is not None:
        return None
    return base
