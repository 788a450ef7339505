"""Rotation without downtime (``token refresh --grace``) and warnings
before a token expires, on the embedded endpoint, with the clock moved by
the test seam (NTCLI_TEST_CLOCK_OFFSET), never by sleeping."""

from __future__ import annotations

import json
import os
import subprocess

import fixtures

from ntcli import testing
from ntcli_authority.authority import Authority
from ntcli_authority.errors import TokenRevoked
from ntcli_core import clock, timefmt
from tests.functional import base

HOUR = 3600
DAY = 86400


def later(seconds: int) -> dict[str, str]:
    """The environment of a run ``seconds`` from now."""
    return {clock.OFFSET_ENV: str(seconds)}


class GraceTest(base.FunctionalTest):

    def rotate_with_grace(self, grace: str = '1h') -> tuple[dict, dict]:
        """A stored token, then a refresh with ``grace``: (the old token's
        show output with its value, the refresh's JSON)."""
        self.ntcli('token', 'refresh')
        old = self.stored()
        out = self.json('token', 'refresh', '--grace', grace)
        return old, out

    def check(self, token: str, offset: int = 0) -> int:
        """``token show --check`` of ``token`` (as CI holding it would)."""
        env = {'NTCLI_TOKEN': token, **later(offset)}
        return self.ntcli('token', 'show', '--check', expect=None,
                          env=env).returncode

    def statuses(self, offset: int = 0) -> dict[str, str]:
        return {r['JTI']: r['Status'] for r in self.json(
            'token', 'list', '--show-expired', env=later(offset))}


class TestRefreshWithGrace(GraceTest):

    def test_the_old_token_works_until_the_grace_ends(self):
        before = clock.now()
        old, out = self.rotate_with_grace('1h')
        self.assertEqual(old['jti'], out['old_token']['jti'])
        revoked_at = timefmt.parse_iso(out['old_token']['revoked_at'])
        self.assertTrue(before + HOUR <= revoked_at <= clock.now() + HOUR)
        self.assertEqual({'jti', 'revoked_at'}, set(out['old_token']))
        self.assertEqual(out['new_token']['jti'], self.stored()['jti'])
        # the old token is valid, and says until when
        self.assertEqual(0, self.check(old['token']))
        shown = self.json('token', 'show',
                          env={'NTCLI_TOKEN': old['token']})
        self.assertEqual(('active', out['old_token']['revoked_at']),
                         (shown['status'], shown['retiring_until']))
        until = timefmt.human(revoked_at)
        self.assertEqual(f'Retiring until {until}',
                         self.statuses()[old['jti']])
        # the default columns have no Status: a line on stderr says it
        listed = self.ntcli('token', 'list', '-f', 'json')
        self.assertNotIn('Status', json.loads(listed.stdout)[0])
        self.assertIn(f"Warning: {old['jti']} retiring until {until}",
                      listed.stderr)
        text = self.ntcli('token', 'show',
                          env={'NTCLI_TOKEN': old['token']}).stdout
        self.assertIn(f'Active (retiring until {until})', text)
        # within a window that reaches the end of the grace: expiring
        self.assertEqual(10, self.ntcli(
            'token', 'show', '--check=2h', expect=None,
            env={'NTCLI_TOKEN': old['token']}).returncode)
        # an hour later it is refused, with no ntcli run in between
        self.assertEqual(12, self.check(old['token'], HOUR + 1))
        self.assertEqual('Revoked', self.statuses(HOUR + 1)[old['jti']])
        self.assertEqual(0, self.check(self.stored()['token'], HOUR + 1))

    def test_the_authority_refuses_it_with_nothing_running(self):
        # the revocation time is in the database: opening the embedded
        # authority alone, later, refuses the token
        old, _ = self.rotate_with_grace('10m')
        path = os.path.join(self.home.data_dir, 'authority.db')
        with Authority.open(path, create=False) as authority:
            authority.validate(old['token'])
            self.useFixture(fixtures.EnvironmentVariable(
                clock.OFFSET_ENV, str(601)))
            self.assertRaises(TokenRevoked, authority.validate,
                              old['token'])

    def test_text_output_history_and_summary(self):
        self.ntcli('token', 'refresh')
        old = self.stored()
        out = self.ntcli('token', 'refresh', '--grace', '30m').stdout
        lines = out.splitlines()
        self.assertEqual('Token refreshed successfully.', lines[0])
        self.assertRegex(lines[1], rf"^Old token \({old['jti']}\) stays "
                                   r'valid until \d{4}-\d\d-\d\dT\d\d:\d\d:'
                                   r'\d\dZ \(grace period\), then it is '
                                   r'revoked\.$')
        self.assertTrue(lines[2].startswith('New token expires: '))
        history = self.json('token', 'history')
        self.assertRegex(history[-1]['Outcome'],
                         r'^rotated; old token retiring until \d{4}-')

    def test_without_grace_the_old_token_is_revoked_at_once(self):
        self.ntcli('token', 'refresh')
        old = self.stored()
        out = self.json('token', 'refresh')
        self.assertLessEqual(timefmt.parse_iso(out['old_token']['revoked_at']),
                             clock.now())
        self.assertEqual(12, self.check(old['token']))
        for zero in ('0', '0s'):
            old = self.stored()
            self.json('token', 'refresh', '--grace', zero)
            self.assertEqual(12, self.check(old['token']))

    def test_revoking_a_retiring_token_revokes_it_at_once(self):
        old, _ = self.rotate_with_grace('1d')
        out = self.json('token', 'revoke', '--force', old['jti'])
        self.assertEqual('revoked', out['status'])
        self.assertEqual(12, self.check(old['token']))
        self.assertEqual('Revoked', self.statuses()[old['jti']])

    def test_a_bad_grace_changes_nothing(self):
        self.ntcli('token', 'refresh')
        before = self.stored()
        for bad in ('8d', '604801', '-1', 'soon', '1e3', '1.5h', '',
                    '\u0661h', '9' * 40):
            result = self.ntcli('token', 'refresh', '--grace', bad,
                                expect=2)
            self.assertIn('Invalid grace period for --grace', result.stderr)
            self.assertIn('at most 7 days', result.stderr)
            self.assertEqual('', result.stdout)
        self.assertEqual(before['token'], self.stored()['token'])
        self.assertEqual([before['jti']], list(self.statuses()))
        # the bound itself is accepted
        self.json('token', 'refresh', '--grace', '7d')


class TestGraceKeepsTheRefreshPromises(GraceTest):

    def test_a_crash_after_store_keeps_the_grace_it_was_given(self):
        self.ntcli('token', 'refresh')
        old = self.stored()
        result = self.ntcli('token', 'refresh', '--grace', '1h', expect=None,
                            env={'NTCLI_FAULT': 'after-store'})
        self.assertEqual(-9, result.returncode)
        new = self.stored()
        self.assertNotEqual(old['jti'], new['jti'])
        # the next command finishes the revocation: retiring, not revoked,
        # and until an hour after the refresh, not after this retry
        status = self.statuses(600)[old['jti']]
        self.assertTrue(status.startswith('Retiring until '), status)
        self.assertEqual(0, self.check(old['token'], 600))
        self.assertEqual(12, self.check(old['token'], HOUR + 1))
        history = self.json('token', 'history')
        self.assertRegex(history[-1]['Outcome'],
                         r'^retiring until .* \(retried\)$')

    def test_a_retry_after_the_grace_revokes_at_once(self):
        self.ntcli('token', 'refresh')
        old = self.stored()
        self.ntcli('token', 'refresh', '--grace', '1h',
                   env={'NTCLI_FAULT': 'fail:revoke'})
        # ntcli runs again only after the grace has ended
        self.assertEqual('Revoked', self.statuses(2 * HOUR)[old['jti']])
        self.assertEqual(12, self.check(old['token'], 2 * HOUR))

    def test_a_failed_revoke_is_retried_with_what_is_left(self):
        self.ntcli('token', 'refresh')
        old = self.stored()
        out = self.json('token', 'refresh', '--grace', '1h',
                        env={'NTCLI_FAULT': 'fail:revoke'})
        self.assertTrue(out['old_token']['revocation_pending'])
        self.assertIsNone(out['old_token']['revoked_at'])
        self.assertTrue(self.statuses()[old['jti']].startswith('Retiring'))

    def test_a_crash_at_any_step_leaves_a_working_token(self):
        for checkpoint in ('before-issue', 'after-issue', 'after-store',
                           'after-revoke'):
            self.ntcli('token', 'refresh')
            old = self.stored()
            result = self.ntcli('token', 'refresh', '--grace', '1h',
                                expect=None,
                                env={'NTCLI_FAULT': checkpoint})
            self.assertEqual(-9, result.returncode, checkpoint)
            after = self.stored()
            self.assertEqual(('active', True),
                             (after['status'], after['verified']))
            if after['jti'] != old['jti']:
                # replaced: the old one retires, it is not cut off
                self.assertEqual(0, self.check(old['token']), checkpoint)
                self.assertEqual(12, self.check(old['token'], HOUR + 1),
                                 checkpoint)

    def test_a_refresh_during_another_grace(self):
        first, _ = self.rotate_with_grace('1h')
        second = self.stored()
        self.json('token', 'refresh', '--grace', '2h')
        third = self.stored()
        self.json('token', 'refresh')           # no grace: at once
        statuses = self.statuses()
        self.assertTrue(statuses[first['jti']].startswith('Retiring'))
        self.assertTrue(statuses[second['jti']].startswith('Retiring'))
        self.assertEqual('Revoked', statuses[third['jti']])
        self.assertEqual(
            {first['jti']: 'Revoked', second['jti']: 'Retiring'},
            {jti: s.split(' ')[0] for jti, s in
             self.statuses(HOUR + 1).items()
             if jti in (first['jti'], second['jti'])})

    def test_concurrent_refreshes_with_grace(self):
        self.ntcli('token', 'refresh')
        first = self.stored()['jti']
        procs = [subprocess.Popen(
            testing.ntcli_command() + ['token', 'refresh', '--grace', '1h',
                                       '-f', 'json'],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=self.home.env, stdin=subprocess.DEVNULL) for _ in range(4)]
        olds, news = [], []
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            self.assertEqual(0, proc.returncode, err)
            olds.append(json.loads(out)['old_token']['jti'])
            news.append(json.loads(out)['new_token']['jti'])
        # serialized: each replaced the one stored before it
        stored = self.stored()['jti']
        self.assertEqual(sorted([first] + news),
                         sorted(olds + [stored]))
        statuses = self.statuses()
        self.assertEqual('Active', statuses[stored])
        self.assertEqual(4, sum(s.startswith('Retiring')
                                for s in statuses.values()))
        self.assertEqual([stored], [j for j, s in self.statuses(
            HOUR + 1).items() if s == 'Active'])


class TestExpiryWarnings(base.FunctionalTest):

    WARNING = 'Warning: the stored token '

    def warnings(self, *args, **kwargs):
        result = self.ntcli(*args, **kwargs)
        self.assertNotIn('expires in', result.stdout)
        return [line for line in result.stderr.splitlines()
                if line.startswith(self.WARNING)]

    def test_once_a_day_on_stderr_only(self):
        jti = self.json('token', 'refresh', '--expires-in',
                        '10d')['new_token']['jti']
        warned = self.warnings('token', 'show', '-f', 'json')
        self.assertEqual(1, len(warned), warned)
        self.assertRegex(warned[0], rf'^{self.WARNING}{jti} expires in '
                                    r'(9|10) days \(\d{4}-')
        # json on stdout is untouched
        self.assertEqual(jti, self.json('token', 'show')['jti'])
        self.assertEqual([], self.warnings('token', 'list'))
        self.assertEqual([], self.warnings('token', 'show'))
        # a day later: once more, then quiet again
        self.assertEqual(1, len(self.warnings('token', 'list',
                                              env=later(DAY))))
        self.assertEqual([], self.warnings('token', 'list', env=later(DAY)))
        # what is remembered is a JTI and a time, nothing secret
        with open(os.path.join(self.home.config_dir,
                               'expiry-warnings.json')) as f:
            remembered = json.load(f)
        self.assertEqual([jti], list(remembered))

    def test_every_command_that_uses_it(self):
        self.ntcli('token', 'refresh', '--expires-in', '10d')
        # token exec: the program's output is untouched, the line is ours
        result = self.ntcli('token', 'exec', '--', 'sh', '-c',
                            'echo "${NTCLI_TOKEN%%.*}" | cut -c1-4')
        self.assertEqual('wst_\n', result.stdout)
        self.assertEqual(1, sum(line.startswith(self.WARNING)
                                for line in result.stderr.splitlines()))
        for args in (('auth', 'status'), ('token', 'list')):
            self.assertEqual(1, len(self.warnings(*args,
                                                  env=later(DAY + 1))),
                             args)
            self.assertEqual([], self.warnings(*args, env=later(DAY + 1)))
            self.assertEqual(1, len(self.warnings(*args,
                                                  env=later(2 * DAY + 2))))

    def test_threshold_setting_and_off_switch(self):
        self.ntcli('token', 'refresh', '--expires-in', '20d')
        self.assertEqual([], self.warnings('token', 'show'))   # 14d default
        self.assertEqual(1, len(self.warnings(
            'token', 'show', env={'NTCLI_EXPIRY_WARNING': '30d'})))
        self.assertEqual([], self.warnings(
            'token', 'show', env={'NTCLI_EXPIRY_WARNING': 'off',
                                  **later(7 * DAY)}))
        config = os.path.join(self.home.config_dir, 'config.json')
        data = {}
        if os.path.exists(config):
            with open(config) as f:
                data = json.load(f)
        data['expiry_warning'] = 'off'
        with open(config, 'w') as f:
            json.dump(data, f)
        self.assertEqual([], self.warnings('token', 'show',
                                           env=later(7 * DAY)))
        data['expiry_warning'] = '8d'
        with open(config, 'w') as f:
            json.dump(data, f)
        self.assertEqual(1, len(self.warnings('token', 'show',
                                              env=later(13 * DAY))))

    def test_the_context_setting_wins_over_the_top_level_one(self):
        self.ntcli('token', 'refresh', '--expires-in', '20d')
        config = os.path.join(self.home.config_dir, 'config.json')
        data = {'version': 2, 'expiry_warning': 'off', 'contexts': {
            'local': {'endpoint': 'local', 'key': 'local',
                      'expiry_warning': '30d'}}}
        with open(config, 'w') as f:
            json.dump(data, f)
        os.chmod(config, 0o600)
        self.assertEqual(1, len(self.warnings('token', 'show')))
        data['contexts']['local']['expiry_warning'] = 'off'
        data['expiry_warning'] = '30d'
        with open(config, 'w') as f:
            json.dump(data, f)
        self.assertEqual([], self.warnings('token', 'show', env=later(DAY)))
        # the environment wins over both
        self.assertEqual(1, len(self.warnings(
            'token', 'show', env={'NTCLI_EXPIRY_WARNING': '21d',
                                  **later(DAY)})))

    def test_a_bad_threshold_is_a_usage_error(self):
        self.ntcli('token', 'refresh', '--expires-in', '10d')
        for bad in ('soon', '-1d', '11y', '1e3'):
            result = self.ntcli('token', 'show', expect=2,
                                env={'NTCLI_EXPIRY_WARNING': bad})
            self.assertIn('Invalid expiry warning threshold', result.stderr)
            self.assertEqual('', result.stdout)

    def test_no_warning_for_long_lived_expired_or_unwritable(self):
        self.ntcli('token', 'refresh')
        self.assertEqual([], self.warnings('token', 'show'))
        self.ntcli('token', 'refresh', '--expires-in', '1d')
        # expired: its own errors say so, not this warning
        self.assertEqual([], self.warnings('token', 'list',
                                           env=later(2 * DAY)))
        # a state file that cannot be written: warned, nothing fails
        path = os.path.join(self.home.config_dir, 'expiry-warnings.json')
        if os.path.exists(path):
            os.remove(path)
        os.makedirs(path)        # a directory where the file should be
        self.assertEqual(1, len(self.warnings('token', 'show')))
        self.assertEqual(1, len(self.warnings('token', 'show')))


class TestListExpiringWithin(base.FunctionalTest):

    def test_only_what_expires_within_soonest_first(self):
        self.ntcli('token', 'refresh', '--expires-in', '20d')
        soon = self.json('token', 'create', '--expires-in', '2d')['jti']
        later_one = self.json('token', 'create', '--expires-in', '9d')['jti']
        self.json('token', 'create', '--no-expiry')
        rows = self.json('token', 'list', '--expiring-within', '10d')
        self.assertEqual([soon, later_one], [r['JTI'] for r in rows])
        self.assertEqual(['Active', 'Active'], [r['Status'] for r in rows])
        self.assertEqual(3, len(self.json('token', 'list',
                                          '--expiring-within', '30d')))
        result = self.ntcli('token', 'list', '--expiring-within', '1d')
        self.assertIn("no token in workspace 'default' expires within 1 "
                      'day', result.stderr)
        for bad in ('0', 'soon', '11y'):
            result = self.ntcli('token', 'list', '--expiring-within', bad,
                                expect=2)
            self.assertIn('Invalid duration for --expiring-within',
                          result.stderr)
        self.ntcli('token', 'list', '--expiring-within', '1d',
                   '--show-expired', expect=2)
