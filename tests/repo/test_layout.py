"""The repository shows its structure: the documentation has one folder
per reader and nothing loose at its top but the index; the unit tests
mirror the packages, and the checks of the repository as a whole are in
tests/repo (the architecture page, "The tests and the documentation"); the
READMEs' links lead to files that exist.
"""

import os
import re

import testtools

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
DOCS = os.path.join(ROOT, 'docs')
UNIT = os.path.join(ROOT, 'tests', 'unit')

#: One folder per audience, and what the build itself needs.
READERS = {'user', 'operator', 'plugins', 'reference', 'architecture'}
BUILD = {'index.rst', 'conf.py', '_ext', 'man'}
#: The product's packages, which tests/unit mirrors.
PACKAGES = {'ntcli_core', 'ntcli_authority', 'ntcli', 'ntcli_server',
            'ntcli_token_plugin'}


def entries(path: str) -> set[str]:
    return {name for name in os.listdir(path)
            if not name.startswith('.') and name != '__pycache__'}


class TestDocsLayout(testtools.TestCase):

    def test_nothing_loose_at_the_top(self):
        found = entries(DOCS)
        self.assertEqual(set(), found - READERS - BUILD)
        self.assertEqual(READERS, READERS & found)


class TestReadmeLinks(testtools.TestCase):

    def test_every_link_of_the_readmes_leads_somewhere(self):
        readmes = ['README.md',
                   os.path.join('examples', 'ntcli-hello-plugin', 'README.md')]
        broken = []
        count = 0
        for readme in readmes:
            with open(os.path.join(ROOT, readme), encoding='utf-8') as f:
                text = f.read()
            for target in re.findall(r'\]\(([^)\s]+)\)', text):
                if re.match(r'^[a-z]+:', target) or target.startswith('#'):
                    continue
                count += 1
                path = os.path.join(ROOT, os.path.dirname(readme),
                                    target.split('#')[0])
                if not os.path.exists(path):
                    broken.append(f'{readme}: {target}')
        self.assertEqual([], broken)
        self.assertGreater(count, 5)


class TestTestsLayout(testtools.TestCase):

    def test_unit_tests_sit_in_their_package_folder(self):
        self.assertEqual({'__init__.py'}, entries(UNIT) - PACKAGES)
        self.assertEqual(PACKAGES, entries(UNIT) & PACKAGES)

    def test_their_folders_mirror_the_packages(self):
        # tests/unit/ntcli_authority/storage/ tests ntcli_authority.storage
        misplaced = []
        for directory, folders, _ in os.walk(UNIT):
            folders[:] = [f for f in folders if f != '__pycache__']
            relative = os.path.relpath(directory, UNIT)
            if relative == '.':
                continue
            if not os.path.isdir(os.path.join(ROOT, relative)):
                misplaced.append(relative)
            if not os.path.isfile(os.path.join(directory, '__init__.py')):
                misplaced.append(f'{relative} (no __init__.py: stestr '
                                 'would not find its tests)')
        self.assertEqual([], misplaced)
