"""CI installs against the constraints kept in the repository, so that a
dependency's new release cannot turn it red; ``tox -e latest`` tries the
newest versions."""

from __future__ import annotations

import configparser
import os
import re

import testtools
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
PYTHONS = ('3.10', '3.11', '3.12', '3.13')


def read(name: str) -> str:
    with open(os.path.join(TOP, name), encoding='utf-8') as f:
        return f.read()


def pinned() -> dict[str, set[str]]:
    """Each constrained distribution -> the Pythons it is pinned for."""
    found: dict[str, set[str]] = {}
    for line in read('upper-constraints.txt').splitlines():
        if not line.strip() or line.startswith('#'):
            continue
        requirement = Requirement(line)
        specifiers = list(requirement.specifier)
        assert len(specifiers) == 1 and specifiers[0].operator == '==', line
        pythons = {v for v in PYTHONS if requirement.marker is None
                   or requirement.marker.evaluate({'python_version': v})}
        found.setdefault(canonicalize_name(requirement.name),
                         set()).update(pythons)
    return found


class TestConstraints(testtools.TestCase):

    def setUp(self) -> None:
        super().setUp()
        if not os.path.exists(os.path.join(TOP, '.ci', 'run')):
            self.skipTest('not run from a source tree (no .ci/run)')

    def test_every_dependency_is_pinned_for_every_python(self) -> None:
        config = configparser.ConfigParser()
        config.read_string(read('setup.cfg'))
        options = config['options']
        names = options['install_requires'].split('\n')
        for extra in ('test', 'lint', 'docs', 'server', 'testing'):
            names += config['options.extras_require'][extra].split('\n')
        constrained = pinned()
        for line in filter(None, (n.strip() for n in names)):
            if line.startswith('#'):
                continue
            name = canonicalize_name(Requirement(line).name)
            self.assertEqual(set(PYTHONS), constrained.get(name, set()),
                             f'{name} is not pinned for every Python')

    def test_ci_and_tox_install_with_them(self) -> None:
        run = read('.ci/run')
        installs = re.findall(r"pip\"? install [^;&|\n]*'\.\[[a-z,]+\]'", run)
        self.assertGreaterEqual(len(installs), 4, installs)
        for install in installs:
            self.assertIn('-c upper-constraints.txt', install)
        tox = configparser.ConfigParser(interpolation=None)
        tox.read_string(read('tox.ini'))
        self.assertIn('PIP_CONSTRAINT = {toxinidir}/upper-constraints.txt',
                      tox['testenv']['setenv'])
        self.assertNotIn('upper-constraints',
                         tox['testenv:latest']['setenv'])
