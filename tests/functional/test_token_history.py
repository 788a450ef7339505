"""``token history`` reads any history file, of any length, safely."""

import json
import os
import subprocess

from ntcli import testing
from ntcli.history import MAX_LINE

from .base import FunctionalTest

GOOD = {'time': 1767225600, 'action': 'refresh', 'jti': 'jti_good',
        'outcome': 'rotated', 'workspace_id': 'ws', 'endpoint': 'local',
        'context': 'local', 'detail': None}

# Each line broke the old reading (ValueError, TypeError, OverflowError)
# or is not an entry ntcli writes.
BAD_LINES = [
    b'{"truncated": ',
    b'\xff\xfe not utf-8',
    b'[1, 2]',
    b'"a string"',
    b'{"time": 1e999, "action": "refresh"}',          # inf: OverflowError
    b'{"time": 99999999999999999999, "action": "x"}',  # past year 9999
    b'{"time": -5, "action": "x"}',
    b'{"time": "yesterday", "action": "x"}',          # TypeError
    b'{"time": 1.5, "action": "x"}',
    b'{"time": true, "action": "x"}',
    b'{"time": 1, "action": ["x"]}',
    b'{"time": 1, "outcome": {"a": 1}}',
    b'{"time": 1, "jti": 7}',
    b'[' * 100000,                                    # RecursionError
    b'{"time": 1, "detail": "' + b'x' * MAX_LINE + b'"}',
]


class TestTokenHistory(FunctionalTest):

    def write_history(self, lines):
        os.makedirs(self.home.config_dir, mode=0o700, exist_ok=True)
        path = os.path.join(self.home.config_dir, 'history.jsonl')
        with open(path, 'wb') as f:
            f.writelines(line + b'\n' for line in lines)
        os.chmod(path, 0o600)
        return path

    def good(self, **fields):
        return json.dumps(dict(GOOD, **fields)).encode()

    def test_bad_lines_are_skipped_and_counted(self):
        self.write_history([self.good(jti='jti_first'), *BAD_LINES,
                            self.good(jti='jti_last')])
        for fmt in ('table', 'json', 'csv', 'value', 'yaml'):
            result = self.ntcli('token', 'history', '-f', fmt)
            self.assertIn('jti_first', result.stdout)
            self.assertIn('jti_last', result.stdout)
            self.assertEqual(
                f'Warning: {len(BAD_LINES)} lines of the history file could '
                'not be read and were skipped.\n', result.stderr, fmt)
        rows = self.json('token', 'history')
        self.assertEqual(['jti_first', 'jti_last'], [r['JTI'] for r in rows])

    def test_control_characters_are_escaped(self):
        hostile = '\x1b]0;PWNED\x07\x1b[31mred\r\njti_fake\x00'
        self.write_history([self.good(outcome=hostile, detail=hostile,
                                      jti='jti_x\x1b[2J', context=hostile)])
        for fmt in ('table', 'csv', 'value', 'yaml', 'json'):
            result = self.ntcli('token', 'history', '-f', fmt)
            out = result.stdout
            for raw in ('\x1b', '\x07', '\r', '\x00'):
                self.assertNotIn(raw, out, fmt)
            if fmt in ('csv', 'value'):
                # one row: a newline in a field cannot split it
                self.assertEqual(1 + (fmt == 'csv'),
                                 len(out.splitlines()), out)

    def run_under_head(self):
        """``ntcli token history -f value | head -n 3``: (the three lines,
        stderr, the peak memory of ntcli in bytes)."""
        proc = subprocess.Popen(
            [*testing.ntcli_command(), 'token', 'history', '-f', 'value'],
            env=self.home.env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        first = [proc.stdout.readline() for _ in range(3)]
        proc.stdout.close()                 # as head does
        stderr = proc.stderr.read().decode()
        proc.stderr.close()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        return first, stderr, usage.ru_maxrss * 1024

    def test_a_million_lines_under_head_are_quick_and_bounded(self):
        line = self.good()
        path = self.write_history([line] * 3)
        # the peak of a small history: the process and what it inherits
        # from this one (ru_maxrss counts the fork before the exec)
        _, _, small = self.run_under_head()
        with open(path, 'wb') as f:
            for _ in range(1000):
                f.write((line + b'\n') * 1000)
        size = os.path.getsize(path)
        self.assertGreater(size, 100 * 1000 * 1000)
        first, stderr, big = self.run_under_head()
        self.assertTrue(all(b'jti_good' in row for row in first), first)
        self.assertIn('Showing the 1000 most recent entries; --limit N or '
                      '--all shows more.', stderr)
        self.assertNotIn('Traceback', stderr)
        # The file is not read whole: the old reading held it and every
        # parsed line (1.7 GB for a million lines).
        self.assertLess(big - small, size // 4)

    def test_limit_and_all(self):
        self.write_history([self.good(jti=f'jti_{n}') for n in range(1005)])
        rows = self.json('token', 'history', '--limit', '2')
        self.assertEqual(['jti_1003', 'jti_1004'], [r['JTI'] for r in rows])
        result = self.ntcli('token', 'history', '-f', 'value', '-c', 'JTI')
        self.assertEqual([f'jti_{n}' for n in range(5, 1005)],
                         result.stdout.split())
        self.assertIn('Showing the 1000 most recent', result.stderr)
        result = self.ntcli('token', 'history', '--all', '-f', 'value',
                            '-c', 'JTI')
        self.assertEqual(1005, len(result.stdout.split()))
        self.assertEqual('', result.stderr)
        self.assertEqual(0, len(self.json('token', 'history', '--limit',
                                          '0')))

    def test_reading_changes_nothing(self):
        path = self.write_history([self.good()])
        os.chmod(path, 0o644)
        before = os.stat(path)
        self.ntcli('token', 'history')
        after = os.stat(path)
        self.assertEqual((before.st_mode, before.st_size, before.st_mtime_ns),
                         (after.st_mode, after.st_size, after.st_mtime_ns))
