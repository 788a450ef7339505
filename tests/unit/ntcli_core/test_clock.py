"""Tests of ntcli_core.clock: the system clock and the test seam."""

from __future__ import annotations

import time

import fixtures
import testtools

from ntcli_core import clock


class TestOffset(testtools.TestCase):

    def test_now_reads_the_offset_each_time(self):
        self.useFixture(fixtures.EnvironmentVariable(clock.OFFSET_ENV, '60'))
        self.assertAlmostEqual(time.time() + 60, clock.now(), delta=2)
        self.useFixture(fixtures.EnvironmentVariable(clock.OFFSET_ENV, '-60'))
        self.assertAlmostEqual(time.time() - 60, clock.now(), delta=2)

    def test_bad_or_huge_offsets_are_ignored(self):
        for text in ('', 'soon', '1.5', 'nan', str(clock.MAX_OFFSET + 1)):
            self.useFixture(fixtures.EnvironmentVariable(clock.OFFSET_ENV,
                                                         text))
            self.assertEqual(0, clock.offset(), text)

    def test_read_once_keeps_the_offset_it_was_made_with(self):
        self.useFixture(fixtures.EnvironmentVariable(clock.OFFSET_ENV, '3600'))
        now = clock.offset_read_once()
        self.useFixture(fixtures.EnvironmentVariable(clock.OFFSET_ENV, None))
        self.assertAlmostEqual(time.time() + 3600, now(), delta=2)
        self.assertIsInstance(now(), int)
        self.assertAlmostEqual(time.time(), clock.offset_read_once()(),
                               delta=2)
