"""Tests of ntcli_server.request_ids: one id per request, in the answer,
in the error envelope and on the log records made while serving it."""

from __future__ import annotations

import logging
import os

import testtools

from ntcli_authority import errors
from ntcli_server import request_ids
from tests.unit.ntcli_server import test_wsgi


class TestAccept(testtools.TestCase):

    def test_sane_ids_from_a_proxy_are_kept(self):
        for proposed in ('abc-123', '6d6ff035f858276fbe2875d367f686e2',
                         'Root=1-5759e988-bd862e3fe1be46a994272793',
                         'a' * 128, 'req:42/x.y_z@host+1'):
            self.assertEqual(proposed, request_ids.accept(proposed))

    def test_anything_else_gets_a_fresh_id(self):
        for proposed in (None, '', 'a' * 129, 'two words', 'x\r\nforged: 1',
                         'x\x00', 'café', '-leading-dash', '"quoted"',
                         'a,b', 'a;b', '\t'):
            accepted = request_ids.accept(proposed)
            self.assertNotEqual(proposed, accepted)
            self.assertRegex(accepted, r'^[0-9a-f]{32}$')

    def test_fresh_ids_differ(self):
        self.assertEqual(100, len({request_ids.new() for _ in range(100)}))

    def test_a_forked_worker_draws_other_ids(self):
        # gunicorn forks its workers from one master: each must draw its own
        reader, writer = os.pipe()
        child = os.fork()
        if child == 0:                                   # pragma: no cover
            os.write(writer, request_ids.new().encode())
            os._exit(0)
        os.close(writer)
        os.waitpid(child, 0)
        with os.fdopen(reader, 'rb') as pipe:
            theirs = pipe.read().decode()
        self.assertRegex(theirs, r'^[0-9a-f]{32}$')
        self.assertNotEqual(theirs, request_ids.new())

    def test_outside_a_request(self):
        self.assertEqual(request_ids.NONE, request_ids.current())


class Records(logging.Handler):
    """Keeps the records the server logs, after its filters."""

    def __init__(self):
        super().__init__()
        self.addFilter(request_ids.LogFilter())
        self.records = []

    def emit(self, record):
        self.records.append(record)


class TestOverHTTP(test_wsgi.APITestCase):

    def test_every_answer_carries_an_id(self):
        answers = [self.call('GET', '/healthz'),
                   self.call('GET', '/v1/workspaces', self.alice),
                   self.call('GET', '/v1/workspaces'),          # 401
                   self.call('GET', '/v2/nothing'),             # 404
                   self.call('PUT', '/v1/workspaces', self.alice)]   # 405
        ids = [a.headers.get('x-request-id') for a in answers]
        for request_id in ids:
            self.assertRegex(request_id, r'^[0-9a-f]{32}$')
        self.assertEqual(len(ids), len(set(ids)))

    def test_the_proxys_id_is_kept_when_sane(self):
        result = self.call('GET', '/v1/workspaces',
                           headers={'X-Request-Id': 'edge-42'})
        error = self.assertError(result, 401, 'AUTHENTICATION_REQUIRED')
        self.assertEqual('edge-42', error['request_id'])
        result = self.call('GET', '/v1/workspaces',
                           headers={'X-Request-Id': 'x' * 500})
        self.assertRegex(result.headers['x-request-id'], r'^[0-9a-f]{32}$')

    def test_error_log_records_carry_the_id(self):
        records = Records()
        logger = logging.getLogger('ntcli_server')
        logger.addHandler(records)
        self.addCleanup(logger.removeHandler, records)

        def down(*args, **kwargs):
            raise errors.StorageUnavailable('disk I/O error')
        self.authority.list_workspaces = down
        result = self.call('GET', '/v1/workspaces', self.alice,
                           headers={'X-Request-Id': 'trace-7'})
        self.assertError(result, 503, 'STORAGE_UNAVAILABLE')
        failures = [r for r in records.records if 'disk I/O' in r.getMessage()]
        self.assertEqual(['trace-7'], [r.request_id for r in failures])
        # and the id does not stick to what is logged afterwards
        logging.getLogger('ntcli_server.wsgi').error('after')
        self.assertEqual(request_ids.NONE, records.records[-1].request_id)
