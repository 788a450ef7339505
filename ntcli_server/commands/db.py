"""``ntcli-server db copy``, ``db backup`` and ``db restore``.

:mod:`ntcli_authority.dbcopy` and :mod:`ntcli_authority.storage.backup`
are imported by the command that uses them: with the authority they cost
66-82 ms (``python -X importtime``, on a loaded machine) that
``ntcli-server --help`` does without.
"""

from __future__ import annotations

import argparse
import typing

from ntcli_authority.errors import DatabaseNotEmpty
from ntcli_server.commands import base


class CopyDatabase(base.Lister):
    """Copy every user, workspace, token, signing key, idempotency key and
    audit event into another database (SQLite to PostgreSQL: from one node
    to several)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('--from', metavar='PATH|DSN', dest='source',
                            required=True,
                            help='The database to copy (it is only read).')
        parser.add_argument('--to', metavar='DSN|PATH', dest='target',
                            required=True,
                            help='The database to copy into: a postgresql:// '
                                 'DSN (or a SQLite path). It must be empty.')
        parser.add_argument('--force', action='store_true',
                            help='Replace whatever the target holds.')
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> typing.Any:
        from ntcli_authority import dbcopy
        report = dbcopy.copy_database(parsed_args.source, parsed_args.target,
                                      replace=parsed_args.force)
        self.tell(f'Copied and checked: every row count matches, and '
                  f'{report.validated} of {report.live_tokens} live tokens '
                  '(a sample) validate on the copy with the same signature.')
        return ('table', 'rows'), list(report.counts.items())


class BackupDatabase(base.Lister):
    """Back up the SQLite database into a new file, with SQLite's online
    backup: consistent while the server runs (PostgreSQL: use pg_dump)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('--to', metavar='PATH', dest='target',
                            required=True,
                            help='The backup file to write (0600); it must '
                                 'not exist. It holds the signing keys: '
                                 'keep it as secret as the database.')
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> typing.Any:
        from ntcli_authority.storage import backup
        report = backup.backup(self.database(parsed_args),
                               parsed_args.target)
        self.tell(f'Backed up to {report.path} (schema version '
                  f'{report.schema_version}, checked intact).')
        return ('table', 'rows'), list(report.counts.items())


class RestoreDatabase(base.Lister):
    """Put a backup of `db backup` in the place of the SQLite database.
    Stop the server first: one still running on the replaced file answers
    503 until it is restarted."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('--from', metavar='PATH', dest='source',
                            required=True,
                            help='The backup to restore (it is only read).')
        parser.add_argument('--force', action='store_true',
                            help='Replace what the database holds.')
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> typing.Any:
        from ntcli_authority.storage import backup
        db = self.database(parsed_args)
        try:
            report = backup.restore(parsed_args.source, db,
                                    replace=parsed_args.force)
        except DatabaseNotEmpty as exc:
            held = ', '.join(f'{count} {table}' for table, count
                             in (exc.details or {}).items() if count)
            raise base.CommandFailed(
                f'The database {db} is not empty ({held}): nothing was '
                'restored.', 'Give --force to replace what it holds with '
                'the backup.') from None
        self.tell(f'Restored {parsed_args.source} into {report.path} '
                  f'(schema version {report.schema_version}). Tokens '
                  'revoked since the backup are valid again: revoke them '
                  'again (ntcli-server audit list shows which).')
        return ('table', 'rows'), list(report.counts.items())
