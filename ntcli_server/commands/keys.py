"""``ntcli-server keys rotate|list|retire``."""

from __future__ import annotations

import argparse
import typing

from ntcli_server.commands import base
from ntcli_server.commands.base import ADMIN


class RotateKey(base.ShowOne):
    """Make a new primary signing key (live tokens stay valid)."""

    value_columns = ('kid',)

    def take_action(self, parsed_args: argparse.Namespace) -> typing.Any:
        with self.open_authority(parsed_args, create=True) as authority:
            kid = authority.rotate_signing_key(ADMIN)
        self.tell('New primary signing key created; tokens signed by older '
                  'keys stay valid. Running servers sign with it within '
                  'about 30 seconds.')
        return ('kid',), (kid,)


class ListKeys(base.Lister):
    """List the signing keys."""

    def take_action(self, parsed_args: argparse.Namespace) -> typing.Any:
        with self.open_authority(parsed_args) as authority:
            keys = authority.list_signing_keys(ADMIN)
        return (('kid', 'created', 'primary', 'retired'),
                [(k.kid, base.when(k.created_at), k.is_primary,
                  base.when(k.retired_at)) for k in keys])


class RetireKeys(base.Lister):
    """Destroy the private keys that signed no live token."""

    @property
    def formatter_default(self) -> str:
        return 'value'                  # one kid a line

    def take_action(self, parsed_args: argparse.Namespace) -> typing.Any:
        with self.open_authority(parsed_args) as authority:
            kids = authority.retire_signing_keys(ADMIN)
        self.tell(f'{len(kids)} signing key(s) retired: their private halves '
                  'are destroyed; their public halves stay to name the '
                  'tokens they signed.' if kids else 'No signing key to '
                  'retire: every older key still signed a live token.')
        return ('kid',), [(kid,) for kid in kids]
