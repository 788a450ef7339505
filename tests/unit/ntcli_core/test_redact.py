"""Redaction of secrets in output and logs."""

import logging

import testtools

from ntcli_core import redact

TOKEN = ('wst_eyJhbGciOiJFZERTQSJ9.eyJqdGkiOiJqdGlfMTIzIiwic3ViIjoieCJ9.'
         'c2lnbmF0dXJlLXNpZ25hdHVyZQ')


class TestRedact(testtools.TestCase):

    def test_tokens_and_credentials(self):
        text = redact.redact(f'got {TOKEN} and ntu_AbC-123_x for jti_abc')
        self.assertNotIn('eyJ', text)
        self.assertNotIn('AbC-123', text)
        self.assertIn('wst_***', text)
        self.assertIn('ntu_***', text)
        self.assertIn('jti_abc', text)

    def test_headers(self):
        for text in ('Authorization: Bearer abc.def',
                     "{'Authorization': 'Bearer abc.def'}",
                     'authorization=Bearer abc.def'):
            self.assertNotIn('abc.def', redact.redact(text))

    def test_bare_jwt(self):
        self.assertNotIn('eyJqdGkiOiJqdGlfMTIzIiwic3ViIjoieCJ9',
                         redact.redact(TOKEN[4:]))

    def test_logging_filter(self):
        record = logging.LogRecord('x', logging.DEBUG, __file__, 1,
                                   'sending %s', (TOKEN,), None)
        redact.RedactingFilter().filter(record)
        self.assertEqual('sending wst_***', record.getMessage())
