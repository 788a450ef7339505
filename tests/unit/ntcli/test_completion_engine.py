"""The completion engine's own parts, without a table."""

from __future__ import annotations

import shlex

import testtools
from hypothesis import given, settings
from hypothesis import strategies as st

from ntcli import completion_engine

# what bash's line may hold that shlex treats apart, and plain letters
LINES = st.text(alphabet=st.sampled_from(
    ['a', 'b', 'é', '=', ' ', '\t', '\n', "'", '"', '\\', '#']), max_size=14)


def shlex_words(line: str) -> list[str]:
    """line_words as it was written with shlex (which imports re)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=False)
    lexer.whitespace_split = True
    words: list[str] = []
    try:
        for token in lexer:
            words.append(token)
    except ValueError:         # an open quote: the word being typed
        words.append(lexer.token)
    if not line or line[-1].isspace() and not lexer.token:
        words.append('')
    return words[1:]


class TestLineWords(testtools.TestCase):

    @settings(max_examples=3000, deadline=None)
    @given(LINES)
    def test_as_shlex_splits_them(self, line):
        self.assertEqual(shlex_words(line),
                         completion_engine.line_words(line))

    def test_examples(self):
        for line, words in (
                ('ntcli token re', ['token', 're']),
                ('ntcli token ', ['token', '']),
                ("ntcli -w 'team a", ['-w', 'team a']),
                ('ntcli -w "a\\"b" x', ['-w', 'a"b', 'x']),
                ('ntcli a\\ b', ['a b']),
                ('ntcli a #comment', ['a']),
                ('', [])):
            self.assertEqual(words, completion_engine.line_words(line), line)
            self.assertEqual(words, shlex_words(line), line)
