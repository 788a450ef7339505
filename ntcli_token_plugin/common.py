"""What several token commands say alike: statuses, scopes, warnings."""

from __future__ import annotations

from ntcli.context import PluginContext
from ntcli_core import scopes
from ntcli_core.lifetimes import Expiry

STATUS_TEXT = {'active': 'Active', 'expired': 'Expired',
               'revoked': 'Revoked', 'invalid': 'Invalid'}


def warn_no_expiry(context: PluginContext, lifetime: Expiry) -> None:
    if lifetime.never:
        context.warn('this token never expires; revoke it when it is no '
                     'longer needed.')


def scope_text(scope: list[str] | None) -> str:
    """Scopes for people: a write stands for its read too."""
    return ' '.join(scopes.compact(scope)) if scope is not None \
        else 'unknown'

