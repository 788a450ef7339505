"""ntcli.paths: the default directories are the ones platformdirs gives."""

import os
import sys

import fixtures
import platformdirs
import testtools

from ntcli import paths


class TestDefaultsMatchPlatformdirs(testtools.TestCase):

    ENVIRONMENTS = [
        {},
        {'XDG_CONFIG_HOME': '/x/config', 'XDG_DATA_HOME': '/x/data'},
        {'XDG_CONFIG_HOME': '/x/config/', 'XDG_DATA_HOME': '/'},
        {'XDG_CONFIG_HOME': '', 'XDG_DATA_HOME': ''},
        {'XDG_CONFIG_HOME': 'relative', 'XDG_DATA_HOME': ' /padded '},
        {'HOME': '/home/someone/'},
        {'HOME': '/'},
        {'HOME': 'relative-home'},
        {'HOME': ''},
    ]

    def setUp(self):
        super().setUp()
        for name in ('NTCLI_CONFIG_DIR', 'NTCLI_DATA_DIR', 'XDG_CONFIG_HOME',
                     'XDG_DATA_HOME'):
            self.useFixture(fixtures.EnvironmentVariable(name))
        self.useFixture(fixtures.EnvironmentVariable('HOME', '/home/u'))

    def expected(self, function, **kwargs):
        try:
            return function(paths.APP_NAME, appauthor=False, **kwargs)
        except RuntimeError as exc:  # no usable home directory
            return type(exc)

    def actual(self, function):
        try:
            return function()
        except RuntimeError as exc:
            return type(exc)

    def test_same_directories(self):
        for env in self.ENVIRONMENTS:
            with fixtures.EnvironmentVariable('HOME', env.get('HOME',
                                                              '/home/u')):
                for name in ('XDG_CONFIG_HOME', 'XDG_DATA_HOME'):
                    os.environ.pop(name, None)
                    if name in env:
                        os.environ[name] = env[name]
                self.assertEqual(
                    self.expected(platformdirs.user_config_dir, roaming=True),
                    self.actual(paths.config_dir), env)
                self.assertEqual(self.expected(platformdirs.user_data_dir),
                                 self.actual(paths.data_dir), env)

    def test_platformdirs_is_not_imported_in_the_plain_case(self):
        if not sys.platform.startswith('linux'):
            self.skipTest('the shortcut is for Linux')
        code = ('import sys; from ntcli import paths; paths.config_dir(); '
                'paths.data_dir(); print("platformdirs" in sys.modules)')
        import subprocess
        env = dict(os.environ, HOME='/home/u')
        out = subprocess.run([sys.executable, '-c', code], env=env,
                             check=True, capture_output=True, text=True)
        self.assertEqual('False', out.stdout.strip())


class TestMissingHome(testtools.TestCase):
    """ntcli never creates a home directory."""

    def setUp(self):
        super().setUp()
        self.root = self.useFixture(fixtures.TempDir()).path
        self.useFixture(fixtures.EnvironmentVariable('XDG_CACHE_HOME'))

    def test_a_home_that_exists(self):
        self.useFixture(fixtures.EnvironmentVariable('HOME', self.root))
        self.assertIsNone(paths.missing_home(os.path.join(self.root, 'a')))
        self.assertEqual(os.path.join(self.root, '.cache'),
                         paths.cache_home())

    def test_a_home_that_does_not(self):
        home = os.path.join(self.root, 'gone', 'x')
        self.useFixture(fixtures.EnvironmentVariable('HOME', home))
        self.assertEqual(home, paths.missing_home(
            os.path.join(home, '.config', 'ntcli')))
        self.assertIsNone(paths.missing_home(os.path.join(self.root, 'b')))
        self.assertIsNone(paths.cache_home())
        cache = os.path.join(self.root, 'cache')
        self.useFixture(fixtures.EnvironmentVariable('XDG_CACHE_HOME', cache))
        self.assertEqual(cache, paths.cache_home())
