"""The documentation has one folder per reader and nothing loose at its top
but the index (README, Documentation)."""

import os

import testtools

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
DOCS = os.path.join(ROOT, 'docs')

#: One folder per audience, and what the build itself needs.
READERS = {'user', 'operator', 'plugins', 'reference', 'architecture'}
BUILD = {'index.rst', 'conf.py', '_ext', 'man'}


class TestDocsLayout(testtools.TestCase):

    def test_nothing_loose_at_the_top(self):
        entries = {name for name in os.listdir(DOCS)
                   if not name.startswith('.') and name != '__pycache__'}
        self.assertEqual(set(), entries - READERS - BUILD)
        self.assertEqual(READERS, READERS & entries)
