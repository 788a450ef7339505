"""The authority's signing keys: rotated, retired and listed by the
operator (:mod:`ntcli_authority.signing` makes and keeps them)."""

from __future__ import annotations

from ntcli_authority import models
from ntcli_authority.access import Action, Principal
from ntcli_authority.authority.base import Operations
from ntcli_authority.models import Origin, SigningKey


class SigningKeys(Operations):
    """Operations on the signing keys."""

    def rotate_signing_key(self, principal: Principal, *,
                           origin: Origin | None = None) -> str:
        """Make a new primary signing key; return its kid.

        Tokens signed by the older keys stay valid until they expire or
        are revoked.
        """
        self._authorize(principal, Action.MANAGE_KEYS)
        return self.keys.rotate(self._event(
            principal, origin, models.AUDIT_KEY_ROTATE)).kid

    def retire_signing_keys(self, principal: Principal, *,
                            origin: Origin | None = None) -> list[str]:
        """Destroy the private keys no live token needs; return their kids."""
        self._authorize(principal, Action.MANAGE_KEYS)
        return self.store.retire_unused_signing_keys(
            self.now(), self._event(principal, origin,
                                    models.AUDIT_KEY_RETIRE))

    def list_signing_keys(self, principal: Principal) -> list[SigningKey]:
        """Every signing key, without its private part."""
        self._authorize(principal, Action.MANAGE_KEYS)
        return [SigningKey(kid=k.kid, public_key=k.public_key,
                           created_at=k.created_at, is_primary=k.is_primary,
                           retired_at=k.retired_at)
                for k in self.store.list_signing_keys()]
