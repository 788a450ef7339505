"""Tests for ntcli_core.records: frozen value records without dataclasses."""

from __future__ import annotations

import pickle

import testtools

from ntcli_core.records import Record, field


class Key(Record):
    kid: str
    secret: str = field(repr=False)
    created_at: int = 0
    note: str | None = None


class Other(Record):
    kid: str
    secret: str = ''
    created_at: int = 0
    note: str | None = None


class TestRecord(testtools.TestCase):

    def test_positional_keyword_and_defaults(self):
        self.assertEqual(Key('k', 's', 0, None), Key(kid='k', secret='s'))
        key = Key('k', 's', note='n')
        self.assertEqual(('k', 's', 0, 'n'),
                         (key.kid, key.secret, key.created_at, key.note))
        self.assertEqual(('kid', 'secret', 'created_at', 'note'),
                         Key.__match_args__)

    def test_bad_arguments(self):
        self.assertRaises(TypeError, Key, 'k')                  # missing
        self.assertRaises(TypeError, Key, 'k', 's', kid='x')    # twice
        self.assertRaises(TypeError, Key, 'k', 's', bogus=1)    # unknown
        self.assertRaises(TypeError, Key, 'k', 's', 1, None, 5)  # too many

    def test_repr_hides_secret_fields(self):
        text = repr(Key('k', 'hunter2'))
        self.assertEqual("Key(kid='k', created_at=0, note=None)", text)

    def test_frozen(self):
        key = Key('k', 's')
        self.assertRaises(AttributeError, setattr, key, 'kid', 'x')
        self.assertRaises(AttributeError, setattr, key, 'new', 'x')
        self.assertRaises(AttributeError, delattr, key, 'kid')
        self.assertEqual('k', key.kid)

    def test_equality_and_hash_by_value_and_class(self):
        self.assertEqual(hash(Key('k', 's')), hash(Key('k', 's')))
        self.assertNotEqual(Key('k', 's'), Key('k', 't'))
        self.assertNotEqual(Key('k', 's'), Other('k', 's'))
        self.assertEqual(1, len({Key('k', 's'), Key('k', 's')}))

    def test_replace_and_as_dict(self):
        key = Key('k', 's')
        changed = key.replace(note='n')
        self.assertEqual(('n', None), (changed.note, key.note))
        self.assertEqual({'kid': 'k', 'secret': 's', 'created_at': 0,
                          'note': 'n'}, changed.as_dict())
        self.assertRaises(TypeError, key.replace, bogus=1)

    def test_pickles(self):
        key = Key('k', 's', 3)
        self.assertEqual(key, pickle.loads(pickle.dumps(key)))

    def test_field_without_default_after_one_with_refused(self):
        def define():
            class Bad(Record):
                a: int = 0
                b: int
        self.assertRaises(TypeError, define)


class Pending(Record, frozen=False):
    jti: str
    attempts: int = 0


class TestMutableRecord(testtools.TestCase):

    def test_assignable_and_unhashable(self):
        pending = Pending('j')
        pending.attempts = 2
        self.assertEqual(Pending('j', 2), pending)
        self.assertRaises(TypeError, hash, pending)
        # the frozen ones stay frozen
        self.assertRaises(AttributeError, setattr, Key('k', 's'), 'kid', 'x')
