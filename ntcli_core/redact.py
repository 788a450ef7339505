"""Redaction of secrets from anything ntcli or ntcli-server prints or logs."""

from __future__ import annotations

import logging
import re

from ntcli_core.tokens import SECRET_PREFIXES

_PREFIXES = '|'.join(re.escape(prefix) for prefix in SECRET_PREFIXES)

# Workspace tokens, user credentials, bearer headers and Fernet keys.
_PATTERNS = [
    (re.compile(rf'\b({_PREFIXES})[A-Za-z0-9_\-.=]+'), r'\1***'),
    (re.compile(r'(?i)(bearer\s+)[^\s\'",}]+'), r'\1***'),
    (re.compile(r'(?i)(authorization[\'"]?\s*[:=]\s*[\'"]?)'
                r'(bearer\s+)?[^\s\'",}]+'), r'\1\2***'),
    (re.compile(r'\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}'
                r'(\.[A-Za-z0-9_\-]*)?'), '***'),
    (re.compile(r'(?i)(NTCLI_KEY[\'"]?\s*[:=]\s*[\'"]?)[^\s\'",}]+'),
     r'\1***'),
]


def redact(text: str) -> str:
    """Return ``text`` with every token, credential and key replaced."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the formatted message of each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken log call must not break the command
            return True
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            import traceback
            record.exc_text = redact(
                ''.join(traceback.format_exception(*record.exc_info)))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
