"""``config show`` and ``config rotate-key``."""

from __future__ import annotations

import argparse

from ntcli import command


class ShowConfig(command.ShowOne):
    """Show where ntcli keeps its files and which settings are in force."""

    fields = dict.fromkeys(('config_dir', 'data_dir', 'context', 'endpoint',
                            'timeout', 'credentials_file', 'key_source'))

    def take_action(self, parsed_args: argparse.Namespace) -> tuple:
        context = self._context
        data = {
            'config_dir': context.config_dir,
            'data_dir': context.data_dir,
            'context': context.context_name,
            'endpoint': context.endpoint_url,
            'timeout': context.timeout,
            'credentials_file': context.store.path,
            'key_source': context.store.describe_key(),
        }
        return tuple(self.fields), tuple(data[c] for c in self.fields)


class RotateKey(command.Command):
    """Re-encrypt the stored credentials under a new key."""

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        context = self._context
        rotation = context.store.rotate_key()
        context.history.record('rotate-key', jti=None, outcome='rotated')
        what = 'Credentials re-encrypted' if rotation.reencrypted else \
            'No credentials stored yet; new key in place'
        self.report(f'{what} under a new key; key source: '
                    f'{rotation.key_description}.\n')
        if rotation.advice:
            self.app.stderr.write(rotation.advice + '\n')
        return 0
