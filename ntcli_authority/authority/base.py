"""What every group of the authority's operations builds on: the store,
the clock, the signing keys, the audit event of an operation, and the one
place an operation is authorized.
"""

from __future__ import annotations

import typing

from ntcli_authority import access, errors, signing
from ntcli_authority.access import Action, Principal
from ntcli_authority.models import AuditEvent, Origin, Workspace
from ntcli_authority.storage.store import TokenStore
from ntcli_authority.token_cache import TokenCache
from ntcli_core.names import is_valid_name

Clock = typing.Callable[[], int]

LOCAL = Origin()                     # whoever holds the database


def keys_in_flux() -> errors.StorageUnavailable:
    """The primary signing key changed twice during one issue."""
    return errors.StorageUnavailable(
        'The signing keys changed while this token was being issued; '
        'try again')


class Operations:
    """The base of each group of the authority's operations."""

    store: TokenStore
    #: the token rows a server worker keeps, and the token strings it
    #: accepted (ntcli_authority.token_cache), where validation reads
    #: rows; None where every validation reads the store
    token_cache: TokenCache | None
    clock: Clock
    keys: signing.KeyRing

    def now(self) -> int:
        """The current time, integer Unix seconds."""
        return int(self.clock())

    def _event(self, principal: Principal | None, origin: Origin | None,
               action: str, **fields: typing.Any) -> AuditEvent:
        """The audit event of ``action`` asked for now by ``principal``
        (its actor) from ``origin`` (where the request came from)."""
        origin = origin or LOCAL
        if principal is not None:
            origin = origin.replace(actor=principal.actor)
        return AuditEvent.of(origin, self.now(), action, **fields)

    def _authorize(self, principal: Principal, action: Action,
                   workspace_id: str | None = None, *,
                   jti: str | None = None) -> Workspace | None:
        """Raise Forbidden (or WorkspaceNotFound) unless ``principal`` may
        take ``action`` on ``workspace_id``; return that workspace."""
        workspace = None
        if workspace_id is not None:
            workspace = (self.store.get_workspace(workspace_id)
                         if isinstance(workspace_id, str) else None)
            if workspace is None:
                # A workspace token learns nothing about other workspaces.
                if (principal.kind == access.PRINCIPAL_WORKSPACE
                        and principal.workspace_id != workspace_id):
                    raise errors.Forbidden(
                        'The token belongs to another workspace')
                raise errors.WorkspaceNotFound(
                    details={'workspace_id': workspace_id})
        access.check(principal, action, workspace, jti=jti)
        return workspace

    def _lookup_workspace(self, ref: object) -> Workspace | None:
        """The workspace with this id or name, or None."""
        workspace = None
        if isinstance(ref, str):
            workspace = self.store.get_workspace(ref)
            if workspace is None and is_valid_name(ref):
                workspace = self.store.get_workspace_by_name(ref)
        return workspace
