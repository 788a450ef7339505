"""ntcli's table formatter: cliff's bytes, without wcwidth when it can."""

import argparse
import io
import json
import os
import subprocess
import sys

import fixtures
import testtools
import wcwidth
from cliff import columns as cliff_columns
from cliff.formatters import table as cliff_table
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ntcli import columns, formatters

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

ASCII = [chr(c) for c in range(0x20, 0x7F)]
# one column in wcwidth and by the rule: ntcli's check mark, Latin, Greek,
# Cyrillic, punctuation, a currency, an East Asian ambiguous fraction, a
# halfwidth katakana, an arrow
ONE_COLUMN = ['✓', 'é', 'ß', 'Ω', 'Ж', '–', '…', '€', '½', 'ｱ', '→']
# any other width, or measured by their neighbours: controls, a combining
# accent, wide CJK, ZWJ, variation selectors, emoji, a regional indicator,
# a Hangul vowel jamo, a Yijing trigram, the halfwidth Hangul filler, a
# soft hyphen, a line separator, a private-use character
OTHER_WIDTH = ['\t', '\n', '\r', '\x1b', '\x00', '\x7f', '\x85', '\u0301',
               '中', '\u200d', '\ufe0f', '\ufe0e', '😀', '\U0001F1E6',
               '\u1161', '☰', '\uffa0', '\u00ad', '\u2028', '\ue000']

plain_text = st.text(alphabet=st.sampled_from(ASCII + ONE_COLUMN),
                     max_size=12)
any_text = st.one_of(
    plain_text,
    st.text(alphabet=st.sampled_from(ASCII + ONE_COLUMN + OTHER_WIDTH),
            max_size=12),
    st.text(alphabet=st.characters(exclude_categories=('Cs',)), max_size=8))


class Column(cliff_columns.FormattableColumn[object]):
    """A column whose human form is whatever it was given."""

    def human_readable(self) -> object:   # type: ignore[override]
        return self._value


cell = st.one_of(
    plain_text, any_text,
    st.integers(min_value=-10**12, max_value=10**12), st.booleans(),
    st.none(), st.floats(allow_nan=True, allow_infinity=True),
    any_text.map(columns.TextColumn), st.booleans().map(columns.CheckColumn),
    st.one_of(any_text, st.integers(), st.none()).map(Column),
    st.lists(st.integers(), max_size=2))


def names(alphabet=any_text):
    return st.lists(alphabet, min_size=1, max_size=5, unique=True)


ANY_NAMES = names()


@st.composite
def tables(draw, names=ANY_NAMES, cells=cell, max_rows=5):
    header = draw(names)
    rows = draw(st.lists(st.lists(cells, min_size=len(header),
                                  max_size=len(header)), max_size=max_rows))
    return header, rows


# the table formatter's options, as a user may give them
options = st.fixed_dictionaries({
    'max_width': st.one_of(st.just(0), st.integers(-1, 160)),
    'fit_width': st.booleans(),
    'print_empty': st.booleans(),
})
terminal = st.one_of(st.none(), st.integers(1, 200))   # None: not a tty


def parsed(max_width=0, fit_width=False, print_empty=False):
    parser = argparse.ArgumentParser()
    formatters.TableFormatter().add_argument_group(parser)
    args = [f'--max-width={max_width}']
    args += ['--fit-width'] * fit_width + ['--print-empty'] * print_empty
    return parser.parse_args(args)


class FakeTerminal(io.StringIO):
    """sys.stdout as cliff sees a terminal."""

    def isatty(self):
        return True


def on_terminal(test, width):
    """Run ``test`` as if on a terminal ``width`` columns wide (None: on a
    pipe)."""
    if width is None:
        test.useFixture(fixtures.MonkeyPatch('sys.stdout', io.StringIO()))
        return
    test.useFixture(fixtures.MonkeyPatch('sys.stdout', FakeTerminal()))
    test.useFixture(fixtures.MonkeyPatch(
        'os.get_terminal_size', lambda *fd: os.terminal_size((width, 24))))


class TestSameAsCliff(testtools.TestCase):
    """Byte for byte what cliff's own table formatter prints."""

    def setUp(self):
        super().setUp()
        for name in ('CLIFF_MAX_TERM_WIDTH', 'CLIFF_FIT_WIDTH'):
            self.useFixture(fixtures.EnvironmentVariable(name))


    def assert_as_cliff(self, method, names, data, args):
        """The same output, or the same error (prettytable refuses some
        names), from cliff's formatter and ntcli's."""
        outcomes = []
        for formatter in (cliff_table.TableFormatter(),
                          formatters.TableFormatter()):
            out = io.StringIO()
            try:
                getattr(formatter, method)(names, data(), out, args)
            except Exception as error:
                outcomes.append(type(error))
            else:
                outcomes.append(out.getvalue())
        self.assertEqual(outcomes[0], outcomes[1])

    def assert_list_as_cliff(self, header, rows, args):
        self.assert_as_cliff('emit_list', header, lambda: iter(rows), args)

    def assert_one_as_cliff(self, names, values, args):
        self.assert_as_cliff('emit_one', names, lambda: values, args)

    @SETTINGS
    @given(tables(), options, terminal)
    def test_list(self, table, option_values, width):
        on_terminal(self, width)
        self.assert_list_as_cliff(*table, parsed(**option_values))

    @SETTINGS
    @given(tables(), options, terminal)
    def test_one(self, table, option_values, width):
        on_terminal(self, width)
        header, rows = table
        self.assert_one_as_cliff(header, rows[0] if rows else [],
                                 parsed(**option_values))

    @SETTINGS
    @given(tables(names(plain_text), plain_text, max_rows=4),
           st.integers(1, 120), st.booleans())
    def test_narrow_width_or_terminal(self, table, width, fit_width):
        # as wide as the table, or narrower: cliff shrinks and wraps
        on_terminal(self, width)
        self.assert_list_as_cliff(*table, parsed(fit_width=fit_width))
        self.assert_list_as_cliff(*table, parsed(max_width=width))

    def test_empty(self):
        for print_empty in (False, True):
            self.assert_list_as_cliff(['JTI', 'Current'], [],
                                      parsed(print_empty=print_empty))
            self.assert_one_as_cliff([], [], parsed(print_empty=print_empty))


class TestPlainTable(testtools.TestCase):
    """What ntcli draws itself, and what it leaves to cliff."""

    @SETTINGS
    @given(tables(names(plain_text),
                  st.one_of(plain_text, st.integers(), st.booleans(),
                            st.none(), st.floats(),
                            plain_text.map(columns.TextColumn)),
                  max_rows=5).filter(lambda table: table[1]))
    def test_plain_cells_are_drawn_here(self, table):
        header, rows = table
        alignments = [formatters.TableFormatter.ALIGNMENTS.get(type(v), 'l')
                      for v in rows[0]]
        drawn = formatters.plain_table(header, rows, alignments, parsed())
        theirs = io.StringIO()
        cliff_table.TableFormatter().emit_list(header, rows, theirs,
                                               parsed())
        self.assertEqual(theirs.getvalue(), f'{drawn}\n')

    @SETTINGS
    @given(names(plain_text),
           st.lists(st.one_of(plain_text, st.integers(), st.booleans(),
                              st.none()), min_size=5, max_size=5))
    def test_show_is_drawn_here(self, names, values):
        rows = list(zip(names, values, strict=False))
        drawn = formatters.plain_table(('Field', 'Value'), rows, 'll',
                                       parsed())
        theirs = io.StringIO()
        cliff_table.TableFormatter().emit_one(names, values, theirs,
                                              parsed())
        self.assertEqual(theirs.getvalue(), f'{drawn}\n')

    def test_on_a_terminal(self):
        # 13 columns: '| abcdefghi |'; cliff shrinks on a narrower one
        for width, drawn in ((13, True), (12, False)):
            on_terminal(self, width)
            table = formatters.plain_table(['a'], [['abcdefghi']], 'l',
                                           parsed())
            self.assertEqual(drawn, table is not None, width)
        on_terminal(self, None)   # on a pipe, any width
        self.assertIsNotNone(formatters.plain_table(['a'], [['x' * 500]],
                                                    'l', parsed()))
        # but --fit-width takes the terminal's width, if there is one
        self.useFixture(fixtures.MonkeyPatch(
            'os.get_terminal_size', lambda *fd: os.terminal_size((80, 24))))
        self.assertIsNone(formatters.plain_table(
            ['a'], [['x' * 500]], 'l', parsed(fit_width=True)))

    def test_token_list(self):
        header = ['JTI', 'Expires', 'Current', 'Uses']
        rows = [['jti_1', '2030-01-01 00:00:00 UTC', '✓', 12],
                ['jti_22', 'Never', '', 7]]
        self.assertEqual(
            '+--------+-------------------------+---------+------+\n'
            '| JTI    | Expires                 | Current | Uses |\n'
            '+--------+-------------------------+---------+------+\n'
            '| jti_1  | 2030-01-01 00:00:00 UTC | ✓       |   12 |\n'
            '| jti_22 | Never                   |         |    7 |\n'
            '+--------+-------------------------+---------+------+',
            formatters.plain_table(header, rows, 'lllr', parsed()))

    def test_left_to_cliff(self):
        for header, rows, args in (
                (['a'], [['中']], parsed()),             # wide
                (['a'], [['e\u0301']], parsed()),        # combining
                (['a'], [['x\ty']], parsed()),           # tab
                (['a'], [['x\ny']], parsed()),           # two lines
                (['a'], [['\x1b[1mx']], parsed()),       # an escape
                (['a'], [[['list']]], parsed()),         # not a scalar
                (['☰'], [['x']], parsed()),              # a name too
                (['a', 'a'], [['x', 'y']], parsed()),    # a name twice
                (['a'], [['x', 'y']], parsed()),         # a row too long
                (['a'], [], parsed(print_empty=True)),   # no rows
                (['a'], [['a' * 20]], parsed(max_width=10)),   # shrunk
        ):
            self.assertIsNone(formatters.plain_table(header, rows, 'l',
                                                     args), (header, rows))

    def test_fits_exactly(self):
        # 13 columns: '| abcdefghi |'
        rows = [['abcdefghi']]
        self.assertIsNotNone(
            formatters.plain_table(['a'], rows, 'l', parsed(max_width=13)))
        self.assertIsNone(
            formatters.plain_table(['a'], rows, 'l', parsed(max_width=12)))


class TestOneColumnRule(testtools.TestCase):
    """The rule for a character's width, held to the installed wcwidth."""

    def test_every_one_column_character_of_the_bmp(self):
        chars = [chr(c) for c in range(0x10000)
                 if c < 0xD800 or c > 0xDFFF]
        one = [c for c in chars if formatters.is_one_column(c)]
        wrong = [f'U+{ord(c):04X}' for c in one
                 if wcwidth.wcwidth(c) != 1 or wcwidth.width(c) != 1]
        self.assertEqual([], wrong)
        # in a row, as prettytable measures a cell: the short strings that
        # wcwidth parses one character at a time, and a long one
        for start in range(0, len(one), 20):
            chunk = ''.join(one[start:start + 20])
            self.assertEqual(len(chunk), wcwidth.width(chunk), chunk)
        self.assertEqual(len(one), wcwidth.width(''.join(one)))
        self.assertGreater(len(one), 10000)    # the rule allows a lot

    def test_examples(self):
        for char in ASCII + ONE_COLUMN:
            self.assertTrue(formatters.is_one_column(char), repr(char))
        for char in OTHER_WIDTH:
            self.assertFalse(formatters.is_one_column(char), repr(char))


PROBE = '''
import argparse, io, json, sys
from ntcli import formatters
args = argparse.Namespace(max_width=0, fit_width=False, print_empty=False)
out = io.StringIO()
formatters.TableFormatter().emit_list(
    ['JTI', 'Current', 'Uses'], [['jti_1', '\u2713', 3], ['jti_2', '', 4]],
    out, args)
formatters.TableFormatter().emit_one(['jti', 'valid'], ['jti_1', True],
                                     out, args)
before = 'wcwidth' in sys.modules
formatters.TableFormatter().emit_list(['Name'], [[sys.argv[1]]], out, args)
print(json.dumps([before, 'wcwidth' in sys.modules]))
'''


class TestImports(testtools.TestCase):

    def test_wcwidth_only_for_the_tables_cliff_draws(self):
        for text, imported in (('plain', False), ('\u4e2d', True)):
            proc = subprocess.run([sys.executable, '-c', PROBE, text],
                                  capture_output=True, text=True,
                                  check=True)
            self.assertEqual([False, imported], json.loads(proc.stdout),
                             proc.stderr)
