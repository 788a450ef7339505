"""What the distributions hold: the wheel only the product's packages, the
sdist what its own tests and documentation need.

Both are built offline by setuptools' build backend (the one named in
pyproject.toml, installed by the ``test`` extra) from a copy of the source
tree, so that the tree itself is left as it was.
"""

from __future__ import annotations

import configparser
import glob
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile

import fixtures
import testtools

import ntcli

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
# What a copy of the tree leaves behind: local environments and outputs.
NOT_SOURCE = shutil.ignore_patterns(
    '.git', '.venv', 'venv', '.ci-venv', '.stestr', '.tox', 'build',
    'dist', '*.egg-info', '__pycache__', '.mypy_cache', '.ruff_cache')


def product_packages() -> list[str]:
    """The top-level packages that setup.cfg says the wheel installs."""
    config = configparser.ConfigParser()
    config.read(os.path.join(TOP, 'setup.cfg'))
    include = config['options.packages.find']['include'].split()
    return sorted({name.split('.')[0] for name in include})


def source_files(package: str) -> set[str]:
    """The .py files of ``package`` in the source tree, relative to it."""
    found = set()
    for dirpath, dirnames, filenames in os.walk(os.path.join(TOP, package)):
        dirnames[:] = [d for d in dirnames if d != '__pycache__']
        found.update(os.path.relpath(os.path.join(dirpath, name), TOP)
                     for name in filenames if name.endswith('.py'))
    return found


class TestDistributions(testtools.TestCase):

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        if not os.path.exists(os.path.join(TOP, 'setup.cfg')):
            raise testtools.TestCase.skipException(
                'not run from a source tree (no setup.cfg beside tests/)')
        cls._dirs = fixtures.TempDir()
        cls._dirs.setUp()
        tree = os.path.join(cls._dirs.path, 'tree')
        shutil.copytree(TOP, tree, ignore=NOT_SOURCE)
        out = os.path.join(cls._dirs.path, 'dist')
        os.mkdir(out)
        for hook in ('build_wheel', 'build_sdist'):
            # one process each: the backend keeps state between hooks
            proc = subprocess.run(
                [sys.executable, '-c',
                 'import sys; from setuptools import build_meta; '
                 f'build_meta.{hook}(sys.argv[1])', out],
                cwd=tree, capture_output=True, text=True, timeout=300)
            if proc.returncode != 0:
                cls._dirs.cleanUp()
                raise AssertionError(
                    f'{hook} failed:\n{proc.stdout}{proc.stderr}')
        [wheel] = glob.glob(os.path.join(out, '*.whl'))
        [sdist] = glob.glob(os.path.join(out, '*.tar.gz'))
        with zipfile.ZipFile(wheel) as zf:
            cls.wheel_files = set(zf.namelist())
            cls.metadata = zf.read(f'ntcli-{ntcli.__version__}.dist-info/'
                                   'METADATA').decode('utf-8')
        with tarfile.open(sdist) as tf:
            top = f'ntcli-{ntcli.__version__}/'
            cls.sdist_files = {m.name.removeprefix(top)
                               for m in tf.getmembers() if m.isfile()}

    @classmethod
    def tearDownClass(cls) -> None:
        cls._dirs.cleanUp()
        super().tearDownClass()

    def test_wheel_holds_only_the_product_packages(self) -> None:
        packages = product_packages()
        self.assertNotIn('tests', packages)
        self.assertIn('ntcli', packages)
        dist_info = f'ntcli-{ntcli.__version__}.dist-info'
        tops = {name.split('/')[0] for name in self.wheel_files}
        self.assertEqual({*packages, dist_info}, tops)

    def test_wheel_holds_every_module(self) -> None:
        for package in product_packages():
            missing = source_files(package) - self.wheel_files
            self.assertEqual(set(), missing, package)

    def test_the_plain_install_needs_no_pyjwt(self) -> None:
        # PyJWT verifies identity providers' tokens (server, the CLI's
        # sign-in) and is the tests' reference verifier: extras only.
        requires = [line.split(':', 1)[1].strip()
                    for line in self.metadata.splitlines()
                    if line.startswith('Requires-Dist:')]
        pyjwt = [r for r in requires if r.lower().startswith('pyjwt')]
        extras = [re.search(r'extra == "(\w+)"', r) for r in pyjwt]
        self.assertEqual(['oidc', 'server', 'test'],
                         sorted(m.group(1) for m in extras if m), pyjwt)
        self.assertEqual(len(pyjwt), len([m for m in extras if m]), pyjwt)

    def test_wheel_carries_the_license(self) -> None:
        dist_info = f'ntcli-{ntcli.__version__}.dist-info/'
        licenses = [name for name in self.wheel_files
                    if name.startswith(dist_info)
                    and name.endswith('/LICENSE')]
        self.assertEqual(1, len(licenses), sorted(self.wheel_files))

    def test_sdist_can_run_its_tests_and_build_its_docs(self) -> None:
        needed = {'LICENSE', 'README.md', 'docs/plugins/index.md',
                  'docs/conf.py',
                  '.stestr.conf',
                  'tox.ini', 'setup.cfg', 'pyproject.toml',
                  'tests/__init__.py', 'tests/repo/test_packaging.py',
                  'examples/ntcli-hello-plugin/setup.cfg'}
        self.assertEqual(set(), needed - self.sdist_files)
        for folder in ('docs/', 'tests/functional/', 'tests/contract/',
                       'examples/ntcli-hello-plugin/ntcli_hello/'):
            self.assertTrue(
                any(name.startswith(folder) for name in self.sdist_files),
                folder)
        for package in product_packages():
            self.assertEqual(set(), source_files(package) - self.sdist_files)

    def test_sdist_holds_no_build_leftovers(self) -> None:
        leftovers = [name for name in self.sdist_files
                     if '__pycache__' in name or name.endswith('.pyc')]
        self.assertEqual([], leftovers)
