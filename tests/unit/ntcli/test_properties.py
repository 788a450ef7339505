"""Property tests: every parser of user input and the redaction, against
whatever a user (or an attacker) may type."""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import unicodedata

import fixtures
import testtools
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ntcli import contexts, errors, validate
from ntcli.config import Config
from ntcli_core import redact
from ntcli_core.lifetimes import MAX_LIFETIME
from ntcli_core.terminal import escape, quoted
from ntcli_token_plugin import expiry

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
NOW = 1_800_000_000
ASCII_DIGITS = set('0123456789')
UNSAFE = re.compile('[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e'
                    '\u2066-\u2069]')

# what people type: digits of every script, units, signs, spaces, numbers
# in any notation, and anything at all
number_like = st.one_of(
    st.text(alphabet=st.sampled_from(
        list('0123456789smhdwySMHDWY .-+eE_,:TZ') + ['١', '٣', '１', '٠',
                                                      '߀', '৩', '\n']),
        max_size=30),
    st.integers(min_value=-10**30, max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=40),
    st.integers(min_value=20, max_value=6000).map(lambda n: '9' * n))


def has_non_ascii_digit(text: str) -> bool:
    return any(c.isdigit() and c not in ASCII_DIGITS for c in text)


class TestLifetimes(testtools.TestCase):

    @SETTINGS
    @given(number_like)
    def test_duration_is_a_whole_ascii_number_or_invalid(self, text):
        try:
            seconds = expiry.parse_duration(text)
        except errors.InvalidExpiration as exc:
            self.assertTrue(exc.message.startswith('Invalid expiration time'))
            self.assertIsNone(UNSAFE.search(exc.message))
            return
        self.assertFalse(has_non_ascii_digit(text))
        self.assertIsInstance(seconds, int)
        self.assertGreaterEqual(seconds, 0)

    @SETTINGS
    @given(st.integers(min_value=0, max_value=10**12),
           st.sampled_from(['', 's', 'm', 'h', 'd', 'w', 'y']))
    def test_ascii_durations_are_exact(self, number, unit):
        factor = {'': 1, 's': 1, 'm': 60, 'h': 3600, 'd': 86400,
                  'w': 604800, 'y': 31536000}[unit]
        self.assertEqual(number * factor,
                         expiry.parse_duration(f'{number}{unit}'))

    @SETTINGS
    @given(number_like)
    def test_time_is_a_timestamp_or_invalid(self, text):
        try:
            value = expiry.parse_time(text)
        except errors.InvalidExpiration:
            return
        self.assertFalse(has_non_ascii_digit(text))
        self.assertIsInstance(value, int)

    @SETTINGS
    @given(st.one_of(st.none(), number_like), st.one_of(st.none(),
                                                        number_like),
           st.booleans())
    def test_options_give_a_lifetime_in_range_or_exit_2(self, expires_in,
                                                        expires_at, never):
        args = argparse.Namespace(expires_in=expires_in,
                                  expires_at=expires_at, no_expiry=never)
        try:
            lifetime = expiry.from_args(args, NOW)
        except errors.InvalidExpiration as exc:
            self.assertEqual(2, exc.exit_code)
            self.assertLess(len(exc.message), 300)
            return
        if lifetime.expires_in is not None:
            self.assertTrue(0 < lifetime.expires_in <= MAX_LIFETIME)
        if lifetime.expires_at is not None:
            self.assertTrue(0 < lifetime.expires_at - NOW <= MAX_LIFETIME)


class TestTimeouts(testtools.TestCase):

    @SETTINGS
    @given(st.one_of(number_like, st.floats(), st.integers(),
                     st.booleans(), st.none()))
    def test_finite_positive_at_most_a_day_or_refused(self, value):
        try:
            seconds = validate.check_timeout(value)
        except ValueError:
            return
        self.assertTrue(math.isfinite(seconds))
        self.assertTrue(0 < seconds <= validate.MAX_TIMEOUT)
        if isinstance(value, str):
            self.assertFalse(has_non_ascii_digit(value))


class TestNames(testtools.TestCase):

    @SETTINGS
    @given(st.one_of(st.text(max_size=40), st.from_regex(
        r'[a-z][a-z0-9-]{2,31}', fullmatch=True)))
    def test_workspace_names(self, name):
        from ntcli.commands.workspace import check_name
        valid = re.fullmatch(r'[a-z][a-z0-9-]{2,31}', name, re.ASCII) \
            is not None and '\n' not in name
        self.assertEqual(valid, validate.is_workspace_name(name))
        try:
            self.assertEqual(name, check_name(name))
        except errors.UsageError as exc:
            self.assertFalse(valid)
            self.assertIsNone(UNSAFE.search(exc.message))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.text(max_size=10), inner, max_size=4), max_leaves=20)
config_documents = st.one_of(
    st.dictionaries(st.sampled_from(['version', 'endpoint', 'timeout',
                                     'ca_bundle', 'endpoints', 'contexts',
                                     'current_context', 'x']),
                    json_values).map(json.dumps),
    json_values.map(lambda v: json.dumps(v, allow_nan=True)),
    st.integers(min_value=1, max_value=5000).map(
        lambda n: '{"a":' * n + '1' + '}' * n),
    st.text(max_size=60))


class TestConfig(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path

    @SETTINGS
    @given(st.one_of(config_documents.map(str.encode), st.binary()))
    def test_any_file_loads_or_is_a_config_error(self, raw):
        with open(os.path.join(self.dir, 'config.json'), 'wb') as handle:
            handle.write(raw)
        try:
            config = Config.load(self.dir)
        except errors.ConfigError as exc:
            self.assertIn('config.json', exc.message)
            return
        timeout = config.get('timeout')
        if timeout is not None:
            validate.check_timeout(timeout)
        # every file that loads is (upgraded to) the version of contexts
        self.assertEqual(2, config.get('version'))
        for name, entry in config.contexts().items():
            self.assertTrue(contexts.is_valid_name(name))
            self.assertIsInstance(entry['key'], str)


# token- and credential-shaped strings, as the authority makes them
segment = st.text(alphabet='ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv'
                  'wxyz0123456789-_', min_size=8, max_size=40)
tokens = st.one_of(
    st.builds(lambda h, p, s: f'wst_eyJ{h}.{p}.{s}', segment, segment,
              segment),
    st.builds(lambda s: f'ntu_{s}', segment))


class TestRedaction(testtools.TestCase):

    @SETTINGS
    @given(st.text(max_size=30), tokens, st.text(max_size=30))
    def test_a_secret_anywhere_is_redacted(self, before, token, after):
        secret = token[4:]                      # what must never show
        assume(secret not in before + after)
        for shown in (redact.redact(before + token + after),
                      escape(redact.redact(before + token + after))):
            self.assertNotIn(secret, shown)

    @SETTINGS
    @given(st.text(max_size=30), tokens, st.text(max_size=30))
    def test_log_lines_are_redacted_and_escaped(self, before, token, after):
        import logging
        assume(token[4:] not in before + after)
        record = logging.LogRecord('ntcli', logging.WARNING, __file__, 1,
                                   '%s', (before + token + after,), None)
        redact.RedactingFilter().filter(record)
        message = record.getMessage()
        self.assertNotIn(token[4:], message)
        self.assertIsNone(UNSAFE.search(message))

    @SETTINGS
    @given(st.text(max_size=30), tokens, st.text(max_size=30))
    def test_errors_are_redacted_and_escaped(self, before, token, after):
        import io
        assume(token[4:] not in before + after)
        from ntcli.application import NtcliApp
        err = io.StringIO()
        app = NtcliApp(stdout=io.StringIO(), stderr=err)
        app.report_error(errors.NtcliError(before + token + after,
                                           after + token))
        app.report_error(ValueError(before + token))
        self.assertNotIn(token[4:], err.getvalue())
        self.assertIsNone(UNSAFE.search(err.getvalue().replace('\n', '')))


class TestTerminal(testtools.TestCase):

    @SETTINGS
    @given(st.text())
    def test_escape_leaves_no_control_character(self, text):
        shown = escape(text)
        self.assertIsNone(UNSAFE.search(shown))
        if UNSAFE.search(text) is None:
            self.assertEqual(text, shown)
        # at most QUOTE_LIMIT characters, each at worst a 6-character escape
        self.assertLessEqual(len(quoted(text)), 64 * 6 + 3)

    @SETTINGS
    @given(st.text(alphabet=st.characters(categories=['Cc'])))
    def test_every_c0_c1_control_is_escaped(self, text):
        assume(text)
        self.assertTrue(all(unicodedata.category(c) != 'Cc'
                            for c in escape(text)))
