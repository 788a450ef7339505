"""ntcli's text formatter and column types."""

import argparse
import io

import testtools

from ntcli import columns, formatters


class TestTextFormatter(testtools.TestCase):

    def emit(self, names, values, **args):
        out = io.StringIO()
        formatters.TextFormatter().emit_one(
            names, values, out, argparse.Namespace(columns=[], **args))
        return out.getvalue()

    def test_generic_layout_is_aligned(self):
        text = self.emit(('jti', 'expires_at', 'is_valid'),
                         ('jti_1', columns.TimeColumn(None), True))
        self.assertEqual('Jti:         jti_1\n'
                         'Expires at:  Never\n'
                         'Is valid:    yes\n', text)

    def test_command_layout(self):
        text = self.emit(('a',), (1,), text_layout=lambda d: [f"A={d['a']}"])
        self.assertEqual('A=1\n', text)

    def test_layout_falls_back_to_generic(self):
        text = self.emit(('a',), (1,), text_layout=lambda d: None)
        self.assertEqual('A:  1\n', text)


class TestColumns(testtools.TestCase):

    def test_time(self):
        col = columns.TimeColumn(1893456000)
        self.assertEqual('2030-01-01 00:00:00 UTC', col.human_readable())
        self.assertEqual('2030-01-01T00:00:00Z', col.machine_readable())
        self.assertIsNone(columns.TimeColumn(None).machine_readable())

    def test_check(self):
        self.assertEqual('✓', columns.CheckColumn(True).human_readable())
        self.assertEqual('', columns.CheckColumn(False).human_readable())
        self.assertIs(True, columns.CheckColumn(True).machine_readable())
