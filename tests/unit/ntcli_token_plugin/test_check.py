"""ntcli_token_plugin.check: the exit statuses of token show --check."""

import testtools

from ntcli_core import timefmt
from ntcli_token_plugin import check

NOW = 1_800_000_000
DAY = 86400


def info(status='active', verified=True, expires_at=NOW + 30 * DAY):
    return {'status': status, 'verified': verified,
            'expires_at': timefmt.iso(expires_at)}


class TestExitStatus(testtools.TestCase):

    def test_statuses_are_distinct_and_clear_of_ntcli_own(self):
        statuses = [check.VALID, check.EXPIRING, check.EXPIRED,
                    check.REVOKED, check.INVALID, check.NO_TOKEN,
                    check.UNVERIFIED]
        self.assertEqual(len(statuses), len(set(statuses)))
        self.assertEqual(0, check.VALID)
        for status in statuses[1:]:
            self.assertNotIn(status, (1, 2, 126, 127))
            self.assertLess(status, 126)

    def test_valid(self):
        self.assertEqual(check.VALID, check.exit_status(info(), None, NOW))
        self.assertEqual(check.VALID,
                         check.exit_status(info(), 7 * DAY, NOW))

    def test_expiring_within_the_window(self):
        self.assertEqual(check.EXPIRING, check.exit_status(
            info(expires_at=NOW + DAY), 7 * DAY, NOW))
        # the boundary: expiring exactly at the end of the window is within
        self.assertEqual(check.EXPIRING, check.exit_status(
            info(expires_at=NOW + DAY), DAY, NOW))
        self.assertEqual(check.VALID, check.exit_status(
            info(expires_at=NOW + DAY + 1), DAY, NOW))

    def test_never_expiring_never_expires_within(self):
        self.assertEqual(check.VALID, check.exit_status(
            info(expires_at=None), 10 * 365 * DAY, NOW))

    def test_rejected_tokens(self):
        for status, code in (('expired', check.EXPIRED),
                             ('revoked', check.REVOKED),
                             ('invalid', check.INVALID)):
            self.assertEqual(code, check.exit_status(info(status), DAY, NOW))
            self.assertEqual(code, check.exit_status(
                info(status, verified=False), DAY, NOW))

    def test_unverified(self):
        self.assertEqual(check.UNVERIFIED, check.exit_status(
            info(verified=False), None, NOW))
        # known to expire soon: that is said before what is unknown
        self.assertEqual(check.EXPIRING, check.exit_status(
            info(verified=False, expires_at=NOW + 60), DAY, NOW))
