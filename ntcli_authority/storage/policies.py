"""The store's trust policies and the external tokens exchanged under
them.

A subject token already exchanged is remembered by a digest until it
expires (never the token itself), so that each is exchanged once.
"""

from __future__ import annotations

from ntcli_authority import errors, trust
from ntcli_authority.models import AuditEvent, TokenRow, TrustPolicy
from ntcli_authority.storage.dialect import Transaction
from ntcli_authority.storage.queries import (
    Queries,
    append_event,
    hold_primary,
    hold_workspace,
)
from ntcli_authority.storage.schema import POLICY_COLUMNS
from ntcli_authority.storage.tokens import INSERT_TOKEN


def _policy(row: tuple) -> TrustPolicy:
    values = list(row)
    values[4] = trust.conditions_from_text(values[4])
    return TrustPolicy(*values)


class TrustPolicies(Queries):
    """Trust policies, and the tokens issued for external ones."""

    def add_trust_policy(self, policy: TrustPolicy,
                         audit: AuditEvent | None = None) -> None:
        """Add a trust policy. Raises WorkspaceNotFound, or
        TrustPolicyExists for a name taken in its workspace."""
        row = policy.as_dict()
        row['conditions'] = trust.conditions_to_text(policy.conditions)
        taken = errors.TrustPolicyExists(
            f"A trust policy named '{policy.name}' already exists in this "
            'workspace', {'name': policy.name})

        def work(tx: Transaction) -> None:
            hold_workspace(tx, self.dialect, policy.workspace_id)
            tx.execute(f'INSERT INTO trust_policies ({POLICY_COLUMNS}) '
                       'VALUES (' + ', '.join(f':{name}' for name in row)
                       + ')', **row)
            append_event(tx, audit)
        try:
            self._write(work)
        except self.dialect.unique_violation:
            raise taken from None

    def list_trust_policies(self, *, workspace_id: str | None = None,
                            issuer: str | None = None
                            ) -> list[TrustPolicy]:
        """Trust policies, of one workspace and/or one issuer, by
        workspace and name."""
        where, params = [], {}
        if workspace_id is not None:
            where.append('workspace_id = :ws')
            params['ws'] = workspace_id
        if issuer is not None:
            where.append('issuer = :issuer')
            params['issuer'] = issuer
        query = (f'SELECT {POLICY_COLUMNS} FROM trust_policies'
                 + (' WHERE ' + ' AND '.join(where) if where else '')
                 + ' ORDER BY workspace_id, name')
        rows = self._query(lambda tx: tx.all(query, **params))
        return [_policy(row) for row in rows]

    def delete_trust_policy(self, workspace_id: str, policy_id: str,
                            audit: AuditEvent | None = None
                            ) -> TrustPolicy:
        """Delete a policy of the workspace; return it. Raises
        TrustPolicyNotFound."""
        def work(tx: Transaction) -> TrustPolicy:
            row = tx.one(f'SELECT {POLICY_COLUMNS} FROM trust_policies '
                         'WHERE id = :id AND workspace_id = :ws',
                         id=policy_id, ws=workspace_id)
            if row is None:
                raise errors.TrustPolicyNotFound(
                    f"Trust policy '{policy_id}' not found",
                    {'policy': policy_id})
            tx.execute('DELETE FROM trust_policies WHERE id = :id',
                       id=policy_id)
            append_event(tx, audit)
            return _policy(row)
        return self._write(work)

    def add_exchanged_token(self, record: TokenRow, policy_id: str,
                            digest: str, digest_expires_at: int, now: int,
                            audit: AuditEvent | None = None) -> None:
        """Store a token issued for an external token, in one transaction
        with the external token's ``digest`` (remembered until
        ``digest_expires_at``; those expired before ``now`` are forgotten).
        Raises NoMatchingPolicy when the policy ``policy_id`` of the
        token's workspace is gone, SubjectTokenRejected when ``digest`` is
        remembered (a replay), WorkspaceNotFound."""
        def work(tx: Transaction) -> None:
            hold_workspace(tx, self.dialect, record.workspace_id)
            # The policy must still be there: one removed since it was
            # matched allows nothing. Held, so that its DELETE waits.
            if not tx.one('SELECT 1 FROM trust_policies WHERE id = :id '
                          'AND workspace_id = :ws' + self.dialect.share_lock,
                          id=policy_id, ws=record.workspace_id):
                raise errors.NoMatchingPolicy(
                    'The trust policy that matched this token was removed',
                    {'policy': policy_id})
            # What no exchange can use again has no need to be remembered.
            tx.execute('DELETE FROM exchanged_subject_tokens '
                       'WHERE expires_at < :now', now=now)
            if not tx.count(
                    'INSERT INTO exchanged_subject_tokens (digest, '
                    'expires_at) VALUES (:digest, :exp) '
                    'ON CONFLICT (digest) DO NOTHING',
                    digest=digest, exp=digest_expires_at):
                raise errors.SubjectTokenRejected(
                    'This subject token was already exchanged: each may be '
                    'used once', {'reason': 'replayed'})
            hold_primary(tx, self.dialect, record.kid)
            tx.execute(INSERT_TOKEN, **record.as_dict())
            append_event(tx, audit)
        self._write(work)
