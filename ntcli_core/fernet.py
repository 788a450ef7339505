"""Fernet keys: the credentials file's keys (NTCLI_KEY, keyring, key file)
and the server's node secret (NTCLI_SERVER_SECRET) are lists of them.

Like Keystone's key repository, a list holds a primary key that encrypts
and older keys that still decrypt. ``cryptography`` is imported only when
a key is used.
"""

from __future__ import annotations

import base64
import binascii
import os
import typing


def generate_key() -> bytes:
    """A new random Fernet key (url-safe base64 of 32 bytes)."""
    # Same format as Fernet.generate_key(), without importing cryptography.
    return base64.urlsafe_b64encode(os.urandom(32))


def _valid_key(text: str) -> bytes | None:
    raw = text.strip().encode('ascii', 'replace')
    try:
        decoded = base64.urlsafe_b64decode(raw)
    except (binascii.Error, ValueError):
        return None
    return raw if len(decoded) == 32 else None


def parse_keys(text: str, separator: str | None) -> list[bytes]:
    """The keys in ``text``, primary first: separated by ``separator``, or
    one a line (``#`` comments allowed) for None. Raises ValueError naming
    the position of a bad key; the message never contains key material.
    """
    if separator is None:
        parts = [line for line in text.splitlines()
                 if line.strip() and not line.lstrip().startswith('#')]
    else:
        # tolerate a trailing separator and spaces around keys
        parts = [part for part in text.split(separator) if part.strip()]
    keys = []
    for number, part in enumerate(parts, 1):
        key = _valid_key(part)
        if key is None:
            raise ValueError(f'entry {number} of {len(parts)} is not a '
                             'Fernet key')
        keys.append(key)
    if not keys:
        raise ValueError('it holds no key')
    return keys


def multi_fernet(keys: list[bytes]) -> typing.Any:
    """A ``MultiFernet`` encrypting with ``keys[0]``, decrypting with all."""
    from cryptography.fernet import Fernet, MultiFernet
    return MultiFernet([Fernet(key) for key in keys])
