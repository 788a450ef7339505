"""The authority's trust policies and the token exchange (RFC 8693): a
workspace token for an external issuer's JWT that a policy accepts
(:mod:`ntcli_authority.trust` holds the policies' rules)."""

from __future__ import annotations

import json
import secrets
import typing

from ntcli_authority import access, errors, models, trust
from ntcli_authority.access import Action, Principal
from ntcli_authority.authority.base import Operations, keys_in_flux
from ntcli_authority.authority.checks import (
    MAX_DESCRIPTION,
    check_name,
    parse_scopes,
)
from ntcli_authority.models import (
    AuditEvent,
    Exchange,
    IssuedToken,
    Origin,
    TokenRow,
    TrustPolicy,
    held_scopes,
)
from ntcli_authority.storage.queries import PrimaryKeyChanged
from ntcli_core import scopes
from ntcli_core.tokens import JTI_PREFIX

if typing.TYPE_CHECKING:
    from ntcli_authority.oidc import IssuerCache


class TrustExchange(Operations):
    """Operations on trust policies, and the exchange they allow."""

    def create_trust_policy(self, principal: Principal, workspace_id: str,
                            name: str, *, issuer: str, conditions: object,
                            scope: object = None,
                            max_lifetime: int | None = None,
                            description: str | None = None,
                            origin: Origin | None = None) -> TrustPolicy:
        """Let tokens of ``issuer`` whose claims meet ``conditions`` be
        exchanged for tokens of the workspace holding ``scope`` (default
        ``workspace:read servers:read``) that live ``max_lifetime`` seconds
        (default one hour); see ntcli_authority.trust. A workspace token
        may create one only with scopes it holds, and the policy then
        lives only as long as that token."""
        self._authorize(principal, Action.MANAGE_TRUST, workspace_id)
        check_name('trust policy', name)
        issuer = trust.check_issuer(issuer)
        checked = trust.check_conditions(conditions)
        granted = trust.check_scope(scope)
        lifetime = trust.check_max_lifetime(max_lifetime)
        trust.check_description(description)
        access.check_grant(principal, granted)
        policy = TrustPolicy(
            id='tp_' + secrets.token_hex(8), workspace_id=workspace_id,
            name=name, issuer=issuer, conditions=checked,
            scope=scopes.to_claim(granted), max_lifetime=lifetime,
            created_at=self.now(), created_by=principal.actor,
            description=description)
        self.store.add_trust_policy(policy, self._event(
            principal, origin, models.AUDIT_TRUST_CREATE,
            workspace_id=workspace_id,
            detail=json.dumps({
                'policy': policy.id, 'name': name, 'issuer': issuer,
                'conditions': dict(checked), 'scope': list(granted),
                'max_lifetime': lifetime}, separators=(',', ':'),
                ensure_ascii=False)))
        return policy

    def list_trust_policies(self, principal: Principal,
                            workspace_id: str | None = None
                            ) -> list[TrustPolicy]:
        """The trust policies of a workspace (every workspace's for the
        local operator, with ``workspace_id`` None), by name."""
        if workspace_id is None:
            self._authorize(principal, Action.LIST_ALL_TRUST)
        else:
            self._authorize(principal, Action.LIST_TRUST, workspace_id)
        return self.store.list_trust_policies(workspace_id=workspace_id)

    def get_trust_policy(self, principal: Principal, workspace_id: str,
                         ref: str) -> TrustPolicy:
        """The policy of the workspace with this id or name."""
        for policy in self.list_trust_policies(principal, workspace_id):
            if ref in (policy.id, policy.name):
                return policy
        raise errors.TrustPolicyNotFound(
            f"Trust policy '{ref}' not found", {'policy': ref})

    def delete_trust_policy(self, principal: Principal, workspace_id: str,
                            ref: str, *,
                            origin: Origin | None = None) -> TrustPolicy:
        """Delete the policy of the workspace with this id or name: from
        now on it allows no exchange."""
        self._authorize(principal, Action.MANAGE_TRUST, workspace_id)
        policy = self.get_trust_policy(principal, workspace_id, ref)
        return self.store.delete_trust_policy(
            workspace_id, policy.id, self._event(
                principal, origin, models.AUDIT_TRUST_DELETE,
                workspace_id=workspace_id,
                detail=json.dumps({'policy': policy.id,
                                   'name': policy.name},
                                  separators=(',', ':'))))

    def exchange(self, subject_token: str, *, issuers: IssuerCache,
                 audience: str, workspace: str | None = None,
                 scope: object = None,
                 origin: Origin | None = None) -> Exchange:
        """A workspace token for an external issuer's JWT (RFC 8693).

        The token's issuer must be one a trust policy names (it is read
        before anything is fetched); that issuer, from ``issuers``, checks
        its signature, ``audience`` (this server), expiry and issue time.
        Then the policies of that issuer (of ``workspace``, an id or name,
        when given) are matched; the first, by name, whose conditions all
        hold and that grants ``scope`` (default: all it grants) issues a
        token that lives its ``max_lifetime``. Each subject token is
        accepted once while it is valid. Raises SubjectTokenRejected or
        oidc.TokenRejected (the token itself is not acceptable),
        oidc.ProviderUnavailable, or NoMatchingPolicy (saying which
        condition failed); every refusal of a verified token is audited,
        as is every exchange, with the issuer, the subject and the claims
        matched.
        """
        issuer = trust.unverified_issuer(subject_token)
        wanted = None if scope is None else parse_scopes(scope)
        candidates = self.store.list_trust_policies(issuer=issuer)
        named = None
        if workspace is not None:
            named = self._find_workspace(workspace)
            candidates = [p for p in candidates
                          if named is not None and p.workspace_id == named]
        if not candidates:
            raise errors.SubjectTokenRejected(
                'No trust policy trusts the issuer of this token'
                + (f" in workspace '{workspace}'" if workspace else ''),
                {'reason': 'untrusted_issuer'})
        verifier = issuers.get(issuer)
        verified = verifier.verify(subject_token, audience=audience)
        claims, subject = dict(verified.claims), verified.subject
        reasons, matched = [], []
        for policy in candidates:
            why = trust.first_mismatch(policy.conditions, claims)
            if why is None and wanted is not None:
                lacking = scopes.missing(policy.granted, wanted)
                if lacking:
                    why = f"it does not grant {' '.join(lacking)}"
            if why is None:
                why = self._creator_gone(policy)
            if why is None:
                matched.append(policy)
            else:
                reasons.append(f"trust policy '{policy.name}': {why}")
        if len({p.workspace_id for p in matched}) > 1:
            raise errors.InvalidRequest(
                'Trust policies of several workspaces accept this token: '
                'name the workspace', {'field': 'workspace'})
        if not matched:
            message = 'No trust policy accepts this token: ' + '; '.join(
                reasons)
            self._audit_exchange(origin, None, issuer, subject, claims,
                                 refused=message,
                                 workspace_id=candidates[0].workspace_id
                                 if len({p.workspace_id for p in candidates})
                                 == 1 else None)
            raise errors.NoMatchingPolicy(message)
        policy = matched[0]
        granted = policy.granted if wanted is None else wanted
        now = self.now()
        # remembered as long as the verifier would accept it
        expires = verified.expires_at + verifier.leeway
        kept = trust.audited_claims(policy.conditions, claims)
        try:
            for reload in (False, True):
                key, private_key = self.keys.primary(
                    self._event(None, origin, models.AUDIT_KEY_ROTATE),
                    reload=reload)
                token, record = self.keys.sign(TokenRow(
                    jti=JTI_PREFIX + secrets.token_hex(16),
                    workspace_id=policy.workspace_id, created_at=now,
                    expires_at=now + policy.max_lifetime, kid=key.kid,
                    scope=scopes.to_claim(granted),
                    description=(f'trust policy {policy.name}: ' + ''.join(
                        c for c in subject if c.isprintable())
                    )[:MAX_DESCRIPTION]), private_key)
                try:
                    self.store.add_exchanged_token(
                        record, policy.id,
                        trust.subject_digest(issuer, claims), expires, now,
                        self._audit_exchange(
                            origin, policy, issuer, subject, claims,
                            target_jti=record.jti, make_only=True))
                    break
                except PrimaryKeyChanged:
                    if reload:
                        raise keys_in_flux() from None
        except (errors.SubjectTokenRejected, errors.NoMatchingPolicy) as exc:
            self._audit_exchange(origin, policy, issuer, subject, claims,
                                 refused=exc.message)
            raise
        issued = IssuedToken(
            token=token,
            jti=record.jti, workspace_id=record.workspace_id,
            created_at=now, expires_at=record.expires_at, scope=granted,
            kid=key.kid)
        return Exchange(issued=issued, policy=policy, issuer=issuer,
                        subject=subject, claims=kept)

    def _find_workspace(self, ref: str) -> str | None:
        """The id of the workspace with this id or name, or None (for the
        exchange, whose trust policies are its authorization)."""
        workspace = self._lookup_workspace(ref)
        return None if workspace is None else workspace.id

    def _creator_gone(self, policy: TrustPolicy) -> str | None:
        """Why a policy created by a workspace token no longer allows
        anything (that token revoked or expired), or None."""
        creator = policy.created_by or ''
        if not creator.startswith(JTI_PREFIX):
            return None
        record = self.store.get_token(creator)
        if record is None or record.status_at(self.now()) != \
                models.STATUS_ACTIVE:
            return 'the token that created it is no longer valid'
        if scopes.missing(held_scopes(record.scope), policy.granted):
            return 'the token that created it no longer holds its scopes'
        return None

    def _audit_exchange(self, origin: Origin | None,
                        policy: TrustPolicy | None, issuer: str,
                        subject: str, claims: dict, *,
                        refused: str | None = None,
                        target_jti: str | None = None,
                        workspace_id: str | None = None,
                        make_only: bool = False) -> AuditEvent:
        """The audit event of an exchange (recorded now when refused; made
        for the store's transaction otherwise): the issuer, the subject,
        the policy and the claims it matched, never the token."""
        detail: dict[str, object] = {'issuer': issuer,
                                     'subject': subject[:256]}
        if policy is not None:
            detail['policy'] = policy.id
            detail['policy_name'] = policy.name
            workspace_id = policy.workspace_id
        detail['claims'] = trust.audited_claims(
            policy.conditions if policy else (), claims)
        if refused is not None:
            detail['reason'] = refused[:1024]
        event = self._event(
            None, origin, models.AUDIT_TOKEN_EXCHANGE,
            outcome=models.OUTCOME_REFUSED if refused else
            models.OUTCOME_SUCCESS, workspace_id=workspace_id,
            target_jti=target_jti,
            # ASCII: the claims are the external issuer's text
            detail=json.dumps(detail, separators=(',', ':')))
        if not make_only:
            self.store.record_event(event)
        return event
