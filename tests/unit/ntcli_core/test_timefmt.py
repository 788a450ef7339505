"""Tests of the one time format (ntcli_core.timefmt)."""

from __future__ import annotations

import testtools

from ntcli_core import timefmt

NOON = 1754568000          # 2025-08-07T12:00:00Z


class TestTimeFormat(testtools.TestCase):

    def test_iso_and_back(self):
        self.assertEqual('2025-08-07T12:00:00Z', timefmt.iso(NOON))
        self.assertIsNone(timefmt.iso(None))
        for text in ('2025-08-07T12:00:00Z', '2025-08-07T12:00:00z',
                     '2025-08-07T14:00:00+02:00', '2025-08-07T12:00:00'):
            self.assertEqual(NOON, timefmt.parse_iso(text), text)

    def test_log_lines_have_milliseconds(self):
        self.assertEqual('2025-08-07T12:00:00.250Z',
                         timefmt.iso_millis(NOON + 0.25))
        self.assertEqual('2025-08-07T12:00:00.000Z',
                         timefmt.iso_millis(NOON))

    def test_human(self):
        self.assertEqual('2025-08-07 12:00:00 UTC', timefmt.human(NOON))
        self.assertEqual('Never', timefmt.human(None))
        self.assertEqual('-', timefmt.human(None, never='-'))
