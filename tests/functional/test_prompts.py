"""Confirmation prompts on a terminal (a pseudo-terminal stands in)."""

import os
import pty
import subprocess

from ntcli import testing
from tests.functional import base


class TestRevokeConfirmation(base.FunctionalTest):

    def run_on_terminal(self, args, answer):
        controller, terminal = pty.openpty()
        self.addCleanup(os.close, controller)
        proc = subprocess.Popen(
            testing.ntcli_command() + list(args), stdin=terminal,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=self.home.env)
        os.close(terminal)
        os.write(controller, answer.encode() + b'\n')
        out, err = proc.communicate(timeout=60)
        return proc.returncode, out, err

    def test_yes_revokes(self):
        self.ntcli('token', 'refresh')
        jti = self.json('token', 'create')['jti']
        code, out, err = self.run_on_terminal(
            ['token', 'revoke', jti], 'y')
        self.assertEqual(0, code, err)
        self.assertIn('Are you sure? (y/N)', err)
        self.assertEqual(f'Token {jti} revoked successfully.\n', out)

    def test_anything_else_cancels(self):
        self.ntcli('token', 'refresh')
        jti = self.json('token', 'create')['jti']
        code, out, err = self.run_on_terminal(
            ['token', 'revoke', jti], 'n')
        self.assertEqual(1, code)
        self.assertIn('Cancelled', err)
        self.assertIn(jti, [r['JTI'] for r in self.json('token', 'list')])
