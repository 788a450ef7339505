"""Tests of ntcli_server.logs: JSON lines, request ids, redaction."""

from __future__ import annotations

import io
import json
import logging

import fixtures
import testtools

from ntcli_server import logs, request_ids

TOKEN = 'wst_eyJhbGciOiJFZERTQSJ9.eyJqdGkiOiJqdGlfeCJ9.c2lnbmF0dXJl'


class TestServerLogging(testtools.TestCase):

    def configure(self, fmt):
        self.stream = io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', self.stream))
        logger = logging.getLogger('ntcli_server')
        saved = (list(logger.handlers), logger.level)
        self.addCleanup(setattr, logger, 'handlers', saved[0])
        self.addCleanup(logger.setLevel, saved[1])
        logs.configure('info', fmt)
        return logging.getLogger('ntcli_server.test')

    def test_json_is_one_object_per_line_without_secrets(self):
        log = self.configure('json')
        log.warning('first line\nsecond line with %s', TOKEN)
        try:
            raise ValueError(f'bad {TOKEN}')
        except ValueError:
            log.exception('it failed')
        lines = self.stream.getvalue().splitlines()
        self.assertEqual(2, len(lines))
        first, second = (json.loads(line) for line in lines)
        self.assertEqual({'time', 'log', 'level', 'logger', 'pid',
                          'request_id', 'message'}, set(first))
        self.assertEqual(('error', 'warning', 'ntcli_server.test',
                          request_ids.NONE),
                         (first['log'], first['level'], first['logger'],
                          first['request_id']))
        self.assertRegex(first['time'],
                         r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$')
        self.assertIn('ValueError', second['exception'])
        self.assertNotIn(TOKEN[:30], self.stream.getvalue())

    def test_text_names_the_request(self):
        log = self.configure('text')
        token = request_ids._current.set('edge-9')
        try:
            log.info('served')
        finally:
            request_ids._current.reset(token)
        self.assertIn('[edge-9] ntcli_server.test: served',
                      self.stream.getvalue())

    def test_json_access_entry(self):
        atoms = {'h': '10.0.0.1', 'm': 'GET', 'U': '/v1/workspaces',
                 's': '200', 'B': 120, 'M': 3, 'a': 'ntcli/0.1',
                 '{x-request-id}o': 'edge-1'}
        entry = logs._access_entry(atoms)
        self.assertEqual({'time', 'log', 'request_id', 'remote', 'method',
                          'path', 'status', 'bytes', 'duration_ms',
                          'user_agent'}, set(entry))
        self.assertEqual(('access', 'edge-1', 200),
                         (entry['log'], entry['request_id'],
                          entry['status']))
