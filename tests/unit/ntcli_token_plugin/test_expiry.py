"""Lifetime options of token refresh and token create."""

import argparse

import testtools

from ntcli import errors
from ntcli_core import durations
from ntcli_token_plugin import expiry

NOW = 1_800_000_000


def parse(*argv):
    parser = argparse.ArgumentParser()
    expiry.add_arguments(parser)
    return expiry.from_args(parser.parse_args(list(argv)), NOW)


class TestExpiry(testtools.TestCase):

    def test_default_is_one_year(self):
        self.assertEqual(expiry.Expiry(expires_in=31536000), parse())

    def test_seconds_and_units(self):
        self.assertEqual(86400, parse('--expires-in', '86400').expires_in)
        for text, seconds in (('90s', 90), ('15m', 900), ('24h', 86400),
                              ('30d', 2592000), ('2w', 1209600),
                              ('1y', 31536000), ('10y', 315360000),
                              ('1h30m', 5400), ('1d12h', 129600),
                              ('1w 2d', 777600), ('3653d', 3653 * 86400)):
            self.assertEqual(seconds, parse('--expires-in', text).expires_in)

    def test_expires_at_iso_and_unix(self):
        self.assertEqual(NOW + 60,
                         parse('--expires-at', str(NOW + 60)).expires_at)
        self.assertEqual(1893456000, parse(
            '--expires-at', '2030-01-01T00:00:00Z').expires_at)
        self.assertEqual(1893456000, parse(
            '--expires-at', '2030-01-01T01:00:00+01:00').expires_at)
        self.assertEqual(1893456000, parse(
            '--expires-at', '2030-01-01T00:00:00').expires_at)

    def test_no_expiry(self):
        self.assertTrue(parse('--no-expiry').never)

    def test_invalid_values(self):
        for argv in (('--expires-in', '0'), ('--expires-in', '-1'),
                     ('--expires-in', 'soon'), ('--expires-in', '1.5'),
                     ('--expires-in', '11y'),
                     # ten calendar years hold at most 3653 days
                     ('--expires-in', '3654d'), ('--expires-in', '3660d'),
                     ('--expires-at', str(NOW + 3654 * 86400)),
                     ('--expires-in', '30m1h'), ('--expires-in', '1h1h'),
                     ('--expires-in', '1h30'),
                     ('--expires-in', str(expiry.MAX_LIFETIME + 1)),
                     ('--expires-at', str(NOW)),
                     ('--expires-at', '1999-01-01T00:00:00Z'),
                     ('--expires-at', 'tomorrow'),
                     ('--expires-at', str(NOW + expiry.MAX_LIFETIME + 1)),
                     ('--expires-in', '60', '--expires-at', str(NOW + 9)),
                     ('--expires-at', str(NOW + 9), '--no-expiry'),
                     ('--expires-in', '', '--no-expiry'),
                     ('--expires-in', ''), ('--expires-at', '')):
            err = self.assertRaises(errors.InvalidExpiration, parse, *argv)
            self.assertTrue(err.message.startswith('Invalid expiration time'),
                            argv)
            self.assertEqual(2, err.exit_code)
            self.assertTrue(err.hint)


class TestWindow(testtools.TestCase):
    """--if-expires-within and --check DURATION."""

    def test_syntax_of_expires_in(self):
        for text, seconds in (('604800', 604800), ('7d', 604800),
                              ('12h', 43200), ('1w', 604800), (' 10y ',
                                                                315360000)):
            self.assertEqual(seconds, expiry.parse_window(text, '--x'))

    def test_what_expires_in_refuses_is_refused(self):
        for text in ('0', '0d', '-1', '', 'soon', '1.5d', '1e3', '11y',
                     '\u0663d', '7\x1bd', '9' * 40):
            exc = self.assertRaises(errors.UsageError, expiry.parse_window,
                                    text, '--if-expires-within')
            self.assertIn('--if-expires-within', exc.message)
            self.assertNotIn('\x1b', exc.message)
            self.assertEqual(2, exc.exit_code)

    def test_the_new_token_must_outlast_the_window(self):
        expiry.check_outlasts(expiry.Expiry(expires_in=86401), 86400, '--x',
                              NOW)
        expiry.check_outlasts(expiry.Expiry(), 10**9, '--x', NOW)
        expiry.check_outlasts(expiry.Expiry(expires_at=NOW + 86401), 86400,
                              '--x', NOW)
        for lifetime in (expiry.Expiry(expires_in=86400),
                         expiry.Expiry(expires_at=NOW + 86400)):
            self.assertRaises(errors.UsageError, expiry.check_outlasts,
                              lifetime, 86400, '--x', NOW)

    def test_described_in_its_largest_exact_unit(self):
        for seconds, words in ((1, '1 second'), (90, '90 seconds'),
                               (120, '2 minutes'), (3600, '1 hour'),
                               (604800, '7 days'), (31536000, '1 year'),
                               (90061, '90061 seconds')):
            self.assertEqual(words, durations.describe(seconds))
