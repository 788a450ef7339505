"""The authority's workspaces: created, listed, found and deleted.

``uuid`` (which imports ``platform``) is imported where a workspace is
created: the CLI's embedded endpoint opens an authority for every token
command and creates a workspace once (about 2.5 ms of its start-up, see
benchmarks/RESULTS.md).
"""

from __future__ import annotations

from ntcli_authority import access, errors, models
from ntcli_authority.access import Action, Principal
from ntcli_authority.authority.base import Operations
from ntcli_authority.authority.checks import check_description, check_name
from ntcli_authority.models import Origin, Workspace
from ntcli_authority.storage.workspaces import ALL_OWNERS


class Workspaces(Operations):
    """Operations on workspaces."""

    def create_workspace(self, principal: Principal, name: str,
                         description: str | None = None,
                         owner: str | None = None, *,
                         origin: Origin | None = None) -> Workspace:
        """Create a workspace. A user's is its own; the local owner gives
        ``owner`` (a user id), or None for a workspace of its own."""
        self._authorize(principal, Action.CREATE_WORKSPACE)
        if principal.kind != access.PRINCIPAL_LOCAL:
            if owner not in (None, principal.user_id):
                raise errors.Forbidden(
                    'A user creates workspaces for itself only')
            owner = principal.user_id
        check_name('workspace', name)
        check_description(description)
        import uuid
        workspace = Workspace(id=str(uuid.uuid4()), name=name,
                              created_at=self.now(),
                              description=description, owner=owner)
        self.store.create_workspace(workspace, self._event(
            principal, origin, models.AUDIT_WORKSPACE_CREATE,
            workspace_id=workspace.id, detail=name))
        return workspace

    def list_workspaces(self, principal: Principal,
                        owner: object = ALL_OWNERS) -> list[Workspace]:
        """The workspaces ``principal`` may see, by name: a user its own, a
        workspace token its workspace, the local owner all (or those of
        ``owner``; None: its own)."""
        self._authorize(principal, Action.LIST_WORKSPACES)
        if principal.kind == access.PRINCIPAL_WORKSPACE:
            workspace = self.store.get_workspace(principal.workspace_id or '')
            return [workspace] if workspace is not None else []
        if principal.kind == access.PRINCIPAL_USER:
            owner = principal.user_id
        return self.store.list_workspaces(owner)

    def get_workspace(self, principal: Principal, ref: str) -> Workspace:
        """The workspace with this id or name."""
        workspace = self._lookup_workspace(ref)
        if workspace is None:
            if (principal.kind == access.PRINCIPAL_WORKSPACE
                    and principal.workspace_id != ref):
                raise errors.Forbidden(
                    'The token belongs to another workspace')
            raise errors.WorkspaceNotFound(
                f"Workspace '{ref}' not found", {'workspace': ref})
        access.check(principal, Action.GET_WORKSPACE, workspace)
        return workspace

    def delete_workspace(self, principal: Principal, workspace_id: str, *,
                         origin: Origin | None = None) -> int:
        """Revoke every token of the workspace and delete it, atomically;
        return the number of tokens revoked."""
        self._authorize(principal, Action.DELETE_WORKSPACE, workspace_id)
        return self.store.delete_workspace(
            workspace_id, self.now(), self._event(
                principal, origin, models.AUDIT_WORKSPACE_DELETE,
                workspace_id=workspace_id))
