"""Tests for ntcli.history: the local audit trail."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time

import fixtures
import testtools

from ntcli.history import AuditLog
from ntcli.testing import IsolatedHome


class TestAuditLog(testtools.TestCase):

    def setUp(self) -> None:
        super().setUp()
        self.home = self.useFixture(IsolatedHome())
        self.useFixture(fixtures.FakeLogger())
        self.log = AuditLog(self.home.config_dir)

    def test_empty(self) -> None:
        self.assertEqual([], self.log.entries())

    def test_record_and_read(self) -> None:
        before = int(time.time())
        self.log.record('refresh', jti='jti_new', outcome='ok',
                        workspace_id='ws-1', endpoint='local',
                        detail='old jti_old revoked')
        self.log.record('revoke', jti='jti_old', outcome='failed')
        first, second = self.log.entries()
        self.assertEqual('refresh', first['action'])
        self.assertEqual('jti_new', first['jti'])
        self.assertEqual('ok', first['outcome'])
        self.assertEqual('ws-1', first['workspace_id'])
        self.assertEqual('local', first['endpoint'])
        self.assertEqual('old jti_old revoked', first['detail'])
        self.assertGreaterEqual(first['time'], before)
        self.assertIsInstance(first['time'], int)
        self.assertEqual('revoke', second['action'])
        self.assertIsNone(second['workspace_id'])
        self.assertEqual([second], self.log.entries(limit=1))
        self.assertEqual([], self.log.entries(limit=0))

    def test_one_line_per_entry(self) -> None:
        self.log.record('refresh', jti='a\nb', outcome='ok')
        with open(self.log.path) as handle:
            lines = handle.read().splitlines()
        self.assertEqual(1, len(lines))
        self.assertEqual('a\nb', json.loads(lines[0])['jti'])

    @testtools.skipUnless(os.name == 'posix', 'POSIX permissions')
    def test_permissions(self) -> None:
        self.log.record('refresh', jti='j', outcome='ok')
        self.assertEqual(0o600, stat.S_IMODE(os.stat(self.log.path).st_mode))
        self.assertEqual(0o700, stat.S_IMODE(os.stat(self.home.config_dir)
                                             .st_mode))

    def test_redacts_secrets_and_never_raises(self) -> None:
        for field in ('detail', 'jti', 'endpoint'):
            kwargs = {'jti': 'j', 'outcome': 'ok',
                      field: 'leaked wst_abc.def.ghi'}
            self.log.record('refresh', **kwargs)
        self.log.record('login', jti=None, outcome='ntu_secret')
        with open(self.log.path) as handle:
            text = handle.read()
        self.assertNotIn('wst_abc', text)
        self.assertNotIn('ntu_secret', text)
        self.assertEqual(4, len(self.log.entries()))

    def test_malformed_lines_skipped(self) -> None:
        self.log.record('refresh', jti='j1', outcome='ok')
        with open(self.log.path, 'ab') as handle:
            handle.write(b'{"truncated": \n\xff\xfe\n[1, 2]\n')
        self.log.record('refresh', jti='j2', outcome='ok')
        self.assertEqual(['j1', 'j2'],
                         [e['jti'] for e in self.log.entries()])

    def test_unwritable_history_does_not_raise(self) -> None:
        logger = self.useFixture(fixtures.FakeLogger('ntcli.history'))
        os.makedirs(self.home.config_dir)
        os.mkdir(self.log.path)  # a directory where the file should be
        self.log.record('refresh', jti='j', outcome='ok')
        self.assertIn('Could not write the history file', logger.output)

    def test_concurrent_appends(self) -> None:
        script = ('import sys\nfrom ntcli.history import AuditLog\n'
                  'log = AuditLog(sys.argv[1])\n'
                  'for i in range(50):\n'
                  '    log.record("refresh", jti="j%d-%d" % '
                  '(int(sys.argv[2]), i), outcome="ok", detail="x" * 300)\n')
        procs = [subprocess.Popen(
            [sys.executable, '-c', script, self.home.config_dir, str(n)],
            env=self.home.env) for n in range(4)]
        for proc in procs:
            self.assertEqual(0, proc.wait(timeout=60))
        with open(self.log.path) as handle:
            lines = handle.read().splitlines()
        self.assertEqual(200, len(lines))
        self.assertEqual(200, len({json.loads(line)['jti']
                                   for line in lines}))
