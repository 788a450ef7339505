"""Tests of ntcli_core.scopes: the scope vocabulary and its forms."""

from __future__ import annotations

import testtools

from ntcli_core import scopes


class TestParse(testtools.TestCase):

    def test_lists_and_space_separated_strings(self):
        for value in (['servers:write', 'workspace:read'],
                      ('workspace:read', 'servers:write'),
                      'servers:write workspace:read',
                      '  servers:write   workspace:read ',
                      ['servers:write', 'workspace:read', 'servers:read',
                       'servers:write']):
            self.assertEqual(('workspace:read', 'servers:read',
                              'servers:write'), scopes.parse(value))

    def test_refusals(self):
        for value, words in (
                (None, 'list of strings'), (7, 'list of strings'),
                ({'servers': 'read'}, 'list of strings'),
                ([], 'at least one'), ('', 'at least one'),
                ('   ', 'at least one'),
                (['servers:read', 3], 'list of strings'),
                (['servers'], 'resource:action'),
                (['Servers:read'], 'resource:action'),
                (['servers:read\n'], 'resource:action'),
                (['servers:\x1b[2Jread'], 'resource:action'),
                ('servers:read\tsecrets:read', 'resource:action'),
                (['x' * 32 + ':read'], 'resource:action'),
                (['servers:admin'], "unknown scope 'servers:admin'"),
                (['billing:read'], "unknown scope 'billing:read'"),
                (['servers:read'] * (scopes.MAX_SCOPES + 1), 'at most'),
                ('servers:read ' * 1000, 'too long')):
            error = self.assertRaises(scopes.ScopeError, scopes.parse,
                                      value)
            self.assertIn(words, error.message, value)
            self.assertNotIn('\x1b', error.message)

    def test_the_vocabulary(self):
        self.assertEqual(8, len(scopes.VOCABULARY))
        self.assertEqual(scopes.FULL, scopes.parse(list(scopes.VOCABULARY)))
        self.assertEqual(('workspace:read', 'servers:read'), scopes.DEFAULT)


class TestForms(testtools.TestCase):

    def test_claims_and_the_legacy_scope(self):
        self.assertEqual(scopes.FULL, scopes.from_claim('workspace'))
        self.assertEqual(('servers:read',),
                         scopes.from_claim('servers:read'))
        self.assertRaises(scopes.ScopeError, scopes.from_claim, '')
        self.assertRaises(scopes.ScopeError, scopes.from_claim, 'admin')
        self.assertEqual('workspace:read servers:read',
                         scopes.to_claim(['servers:read', 'workspace:read']))

    def test_reported(self):
        self.assertEqual(scopes.FULL, scopes.reported('workspace'))
        self.assertEqual(scopes.FULL, scopes.reported(['workspace']))
        self.assertEqual(('a:b', 'c:d'), scopes.reported('a:b c:d'))
        self.assertEqual(('x:read',), scopes.reported(['x:read']))
        for value in (None, 5, [1], {'a': 'b'}):
            self.assertIsNone(scopes.reported(value))

    def test_allows_and_missing(self):
        held = scopes.parse(['servers:write', 'secrets:read'])
        self.assertTrue(scopes.allows(held, 'servers', 'read'))
        self.assertTrue(scopes.allows(['servers:write'], 'servers', 'read'))
        self.assertTrue(scopes.allows(held, 'secrets', 'read'))
        self.assertFalse(scopes.allows(held, 'secrets', 'write'))
        self.assertFalse(scopes.allows(held, 'tokens', 'read'))
        self.assertEqual((), scopes.missing(held, ['servers:read']))
        self.assertEqual(('secrets:write', 'tokens:read'),
                         scopes.missing(held, ['secrets:write',
                                               'tokens:read']))

    def test_compact_is_for_people(self):
        self.assertEqual(('workspace:write', 'servers:write',
                          'secrets:write', 'tokens:write'),
                         scopes.compact(scopes.FULL))
        self.assertEqual(('workspace:read', 'servers:read'),
                         scopes.compact(scopes.DEFAULT))
        self.assertEqual(('other:thing', 'servers:write'),
                         scopes.compact(['other:thing', 'servers:read',
                                         'servers:write']))
