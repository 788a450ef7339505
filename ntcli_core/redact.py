"""Redaction of secrets from anything ntcli or ntcli-server prints or logs."""

from __future__ import annotations

import logging
import re
import traceback

from ntcli_core.terminal import escape
from ntcli_core.tokens import SECRET_PREFIXES

_PREFIXES = '|'.join(re.escape(prefix) for prefix in SECRET_PREFIXES)

# Workspace tokens, user credentials, bearer headers and Fernet keys.
_SOURCES = (
    # no \b: a secret glued to a word ('0ntu_...') is still a secret
    (rf'({_PREFIXES})[A-Za-z0-9_\-.=]+', r'\1***'),
    (r'(?i)(bearer\s+)[^\s\'",}]+', r'\1***'),
    (r'(?i)(authorization[\'"]?\s*[:=]\s*[\'"]?)'
     r'(bearer\s+)?[^\s\'",}]+', r'\1\2***'),
    (r'\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}'
     r'(\.[A-Za-z0-9_\-]*)?', '***'),
    (r'(?i)(NTCLI_KEY[\'"]?\s*[:=]\s*[\'"]?)[^\s\'",}]+', r'\1***'),
    # OAuth's secrets in forms, query strings and JSON (an identity
    # provider's refresh tokens are opaque, not JWTs)
    (r'(?i)\b((?:refresh|access|id|subject)_token|device_code|code_verifier'
     r'|client_secret)([\'"]?\s*[:=]\s*[\'"]?)[^\s\'",&}]+', r'\1\2***'),
    (r'([?&]code=)[^\s\'"&#]+', r'\1***'),
)
# Compiled on first use: compiling them costs about 1.5 ms, paid at import
# by every command although most never log or print anything to redact.
_PATTERNS: list[tuple[re.Pattern[str], str]] = []


def redact(text: str) -> str:
    """Return ``text`` with every token, credential and key replaced."""
    if not _PATTERNS:
        _PATTERNS[:] = [(re.compile(source), replacement)
                        for source, replacement in _SOURCES]
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def holds_secret(text: str) -> bool:
    """True when ``text`` holds something :func:`redact` would hide: a
    description of that shape would show a secret to every reader."""
    return redact(text) != text


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the formatted message of each record
    and escapes its control characters (it may echo a server's words)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken log call must not break the command
            return True
        record.msg = escape(redact(message))
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(
                ''.join(traceback.format_exception(*record.exc_info)))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
