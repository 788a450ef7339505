"""The authority's users, the identities linked to them, and the sessions
people open by signing in through an identity provider.

A user's credential (``ntu_``) and a session's secret are returned once
and kept as SHA-256 digests only. ``uuid`` is imported where a user is
created (see :mod:`ntcli_authority.authority.workspaces`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import typing

from ntcli_authority import errors, models
from ntcli_authority.access import Action, Principal
from ntcli_authority.authority.base import LOCAL, Operations
from ntcli_authority.authority.checks import MAX_EMAIL, check_name, is_utf8
from ntcli_authority.models import NewUser, Origin, User
from ntcli_core.names import is_valid_name
from ntcli_core.tokens import SESSION_PREFIX, USER_CREDENTIAL_PREFIX

if typing.TYPE_CHECKING:
    from ntcli_authority.oidc import VerifiedToken

#: How long a session opened by a sign-in lasts unless the operator says:
#: a working day.
DEFAULT_SESSION_LIFETIME = 8 * 3600
#: The longest session an operator may set: a week.
MAX_SESSION_LIFETIME = 7 * 24 * 3600
SESSION_ID_PREFIX = 'ses_'


def hash_credential(credential: str) -> str:
    """What the store keeps of a credential or a session's secret."""
    return hashlib.sha256(credential.encode('utf-8')).hexdigest()


def _identity_detail(issuer: str | None, subject: str | None,
                     email: str | None) -> str:
    """The audit detail naming a person: issuer, subject and e-mail."""
    return f'{issuer or "-"} {subject or "-"} {email or "-"}'


class SignInPolicy(typing.NamedTuple):
    """How people sign in, as the server's operator set it.

    ``auto_create``: a person the provider vouches for who is linked to no
    user gets a new user on first sign-in (off: the operator links each
    one). ``require_provider``: user credentials (``ntu_``) are refused;
    people sign in through the provider only (the admin commands on the
    server's machine, which hold the database, are not affected).
    ``session_lifetime``: seconds a sign-in's session lasts.
    """

    auto_create: bool = False
    require_provider: bool = False
    session_lifetime: int = DEFAULT_SESSION_LIFETIME


def name_for(claims: typing.Mapping[str, object]) -> str:
    """A user name made from a provider's claims (preferred_username,
    the e-mail's local part, or the subject), folded to the name rule."""
    for claim in ('preferred_username', 'email', 'name', 'sub'):
        value = claims.get(claim)
        if not isinstance(value, str):
            continue
        value = value.split('@')[0].lower()
        name = re.sub(r'[^a-z0-9]+', '-', value).strip('-')
        name = re.sub(r'^[^a-z]+', '', name)[:32].rstrip('-')
        if len(name) >= 3:
            return name
    return 'user'


class Users(Operations):
    """Operations on users, identities and sessions."""

    sign_in_policy: SignInPolicy

    def create_user(self, principal: Principal, name: str, *,
                    credential: bool = True,
                    origin: Origin | None = None) -> NewUser:
        """Create a user; its credential is returned now and never again.

        ``credential=False`` creates a user without one, who signs in
        through the identity provider only (link an identity to it).
        """
        self._authorize(principal, Action.MANAGE_USERS)
        check_name('user', name)
        user = self._new_user(name, credential)
        self.store.create_user(user.user, self._event(
            principal, origin, models.AUDIT_USER_CREATE,
            detail=f'{user.user.id} {name}'))
        return user

    def _new_user(self, name: str, credential: bool) -> NewUser:
        import uuid
        secret = USER_CREDENTIAL_PREFIX + secrets.token_urlsafe(32) \
            if credential else None
        user = User(id=str(uuid.uuid4()), name=name, created_at=self.now(),
                    credential_hash=hash_credential(secret) if secret
                    else models.NO_CREDENTIAL + secrets.token_hex(16))
        return NewUser(user=user, credential=secret)

    def get_user(self, principal: Principal, ref: str) -> User:
        """The user with this id or name."""
        self._authorize(principal, Action.MANAGE_USERS)
        user = self.store.get_user(ref) or self.store.get_user_by_name(ref)
        if user is None:
            raise errors.UserNotFound(f"User '{ref}' not found",
                                      {'user': ref})
        return user

    def list_users(self, principal: Principal) -> list[User]:
        """Every user, by name."""
        self._authorize(principal, Action.MANAGE_USERS)
        return self.store.list_users()

    @staticmethod
    def _check_identity(issuer: object, subject: object) -> None:
        for field, value, limit in (('issuer', issuer, 2048),
                                    ('subject', subject, 255)):
            if (not isinstance(value, str) or not value or len(value) > limit
                    or not is_utf8(value)
                    or any(ord(c) < 0x20 or ord(c) == 0x7f for c in value)):
                raise errors.InvalidRequest(f'Invalid {field}',
                                            {'field': field})

    def link_identity(self, principal: Principal, user_ref: str,
                      issuer: str, subject: str, *,
                      origin: Origin | None = None) -> models.Identity:
        """Link the person (issuer, subject) to an existing user."""
        self._authorize(principal, Action.MANAGE_USERS)
        self._check_identity(issuer, subject)
        user = self.get_user(principal, user_ref)
        identity = models.Identity(issuer=issuer, subject=subject,
                                   user_id=user.id, created_at=self.now())
        self.store.add_identity(identity, self._event(
            principal, origin, models.AUDIT_IDENTITY_LINK,
            detail=f'{user.id} {issuer} {subject}'))
        return identity

    def unlink_identity(self, principal: Principal, issuer: str,
                        subject: str, *,
                        origin: Origin | None = None) -> bool:
        """Unlink (issuer, subject) and end the sessions its user opened
        through it; False when it was not linked."""
        self._authorize(principal, Action.MANAGE_USERS)
        self._check_identity(issuer, subject)
        identity = self.store.get_identity(issuer, subject)
        removed = self.store.remove_identity(issuer, subject, self._event(
            principal, origin, models.AUDIT_IDENTITY_UNLINK,
            detail=f'{identity.user_id if identity else "-"} {issuer} '
                   f'{subject}'))
        if removed and identity is not None:
            self.store.revoke_user_sessions(identity.user_id, self.now())
        return removed

    def list_identities(self, principal: Principal,
                        user_ref: str | None = None
                        ) -> list[models.Identity]:
        """The identities linked to one user, or to any."""
        self._authorize(principal, Action.MANAGE_USERS)
        user_id = self.get_user(principal, user_ref).id \
            if user_ref is not None else None
        return self.store.list_identities(user_id)

    def sign_in(self, verified: VerifiedToken, *,
                origin: Origin | None = None) -> models.NewSession:
        """Open a session for the person a provider vouches for (an ID
        token :mod:`ntcli_authority.oidc` verified).

        The person's user is the one linked to (issuer, subject); with
        :attr:`SignInPolicy.auto_create` a person linked to none gets a
        new user (without a user credential), otherwise IdentityNotLinked.
        Every sign-in and refusal is recorded with issuer, subject and
        e-mail (no token, no hash of one).
        """
        policy = self.sign_in_policy
        issuer, subject = verified.issuer, verified.subject
        email = verified.email
        if email is not None and (len(email) > MAX_EMAIL
                                  or not is_utf8(email)):
            email = None
        self._check_identity(issuer, subject)
        identity = self.store.get_identity(issuer, subject)
        created = False
        if identity is not None:
            user = self.store.get_user(identity.user_id)
        else:
            user = None
        if user is None:
            if not policy.auto_create:
                error = errors.IdentityNotLinked(details={
                    'issuer': issuer, 'subject': subject})
                self.record_sign_in_refusal(issuer, subject, email,
                                            error.code, origin=origin)
                raise error
            user, created = self._create_signed_in_user(verified, origin), \
                True
        now = self.now()
        token = SESSION_PREFIX + secrets.token_urlsafe(32)
        session = models.Session(
            id=SESSION_ID_PREFIX + secrets.token_hex(12), user_id=user.id,
            issuer=issuer, subject=subject, created_at=now,
            expires_at=now + policy.session_lifetime,
            secret_hash=hash_credential(token))
        self.store.add_session(session, email, self._event(
            None, (origin or LOCAL).replace(actor=user.id),
            models.AUDIT_SIGN_IN,
            detail=_identity_detail(issuer, subject, email)))
        return models.NewSession(session=session, user=user, token=token,
                                 created_user=created)

    def _create_signed_in_user(self, verified: VerifiedToken,
                               origin: Origin | None) -> User:
        """A new user for a person signing in for the first time."""
        base = name_for(verified.claims)
        for attempt in range(20):
            name = base if attempt == 0 else \
                f'{base[:27]}-{secrets.token_hex(2)}'
            if not is_valid_name(name):
                name = f'user-{secrets.token_hex(4)}'
            new = self._new_user(name, credential=False)
            identity = models.Identity(
                issuer=verified.issuer, subject=verified.subject,
                user_id=new.user.id, created_at=self.now())
            try:
                self.store.create_user_with_identity(
                    new.user, identity,
                    self._event(None, origin, models.AUDIT_USER_CREATE,
                                detail=f'{new.user.id} {name}'),
                    self._event(None, origin, models.AUDIT_IDENTITY_LINK,
                                detail=f'{new.user.id} {verified.issuer} '
                                       f'{verified.subject}'))
            except errors.UserExists:
                linked = self.store.get_identity(verified.issuer,
                                                 verified.subject)
                if linked is not None:      # a concurrent first sign-in
                    user = self.store.get_user(linked.user_id)
                    if user is not None:
                        return user
                continue
            return new.user
        raise errors.UserExists('No free user name for this person')

    def record_sign_in_refusal(self, issuer: str | None,
                               subject: str | None, email: str | None,
                               reason: str, *,
                               origin: Origin | None = None) -> None:
        """Record a refused sign-in: who the token named, if anyone
        could tell, and why (never the token)."""
        self.store.record_event(self._event(
            None, (origin or LOCAL).replace(actor=None), models.AUDIT_SIGN_IN,
            outcome=models.OUTCOME_REFUSED,
            detail=f'{reason} ' + _identity_detail(issuer, subject, email)))

    def end_session(self, principal: Principal, *,
                    origin: Origin | None = None) -> bool:
        """Revoke the session the caller signed in with (logout); False
        when it was revoked already."""
        self._authorize(principal, Action.END_SESSION)
        if principal.session_id is None:
            raise errors.InvalidRequest(
                'Only a session opened by signing in can be ended')
        return self.store.revoke_session(
            principal.session_id, self.now(), self._event(
                principal, origin, models.AUDIT_SESSION_REVOKE,
                detail=principal.session_id))

    def purge_sessions(self, principal: Principal) -> int:
        """Forget the sessions that expired over a day ago."""
        self._authorize(principal, Action.PURGE)
        return self.store.purge_sessions(self.now() - 86400)
