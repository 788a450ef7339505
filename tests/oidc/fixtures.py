"""Fixtures for sign-in tests against a real OpenID Provider.

:class:`OpenIDProvider` starts ``tests/oidc/provider.mjs`` (oidc-provider,
installed by ``npm ci`` in this directory from its lockfile; .ci/run does
it) on 127.0.0.1 and stops it afterwards. :class:`Person` is someone at a
browser, acting on the provider's own pages over HTTP (the device flow's
verification page, login and consent). :class:`Chromium` is a real
headless browser (Debian's chromium and chromium-driver, through Selenium).

Tests skip, saying why, only where Node.js or Chromium is not installed;
under CI (``CI`` set) a missing ``npm ci`` is a failure, not a skip.
"""

from __future__ import annotations

import html.parser
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse

import fixtures
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT_ID = 'ntcli'
CHROMIUM = '/usr/bin/chromium'
CHROMEDRIVER = '/usr/bin/chromedriver'


def node_missing() -> str | None:
    """Why the provider cannot run here, or None."""
    if shutil.which('node') is None:
        return 'Node.js is not installed (the OpenID Provider needs it)'
    if not os.path.isdir(os.path.join(HERE, 'node_modules',
                                      'oidc-provider')):
        if os.environ.get('CI'):
            raise RuntimeError('tests/oidc has no node_modules: .ci/run '
                               'must run npm ci there')
        return ('oidc-provider is not installed: run npm ci in tests/oidc')
    return None


def chromium_missing() -> str | None:
    """Why no headless browser can run here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return f'{path} is not installed (apt-get install chromium ' \
                   'chromium-driver)'
    try:
        import selenium  # noqa: F401
    except ImportError:
        return 'selenium is not installed (pip install ntcli[test])'
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class OpenIDProvider(fixtures.Fixture):
    """oidc-provider on 127.0.0.1; ``issuer`` is its URL. ``device_ttl``
    is the lifetime of a device code, in seconds."""

    def __init__(self, device_ttl: int = 600) -> None:
        super().__init__()
        self.device_ttl = device_ttl

    def _setUp(self) -> None:
        self.port = free_port()
        self.issuer = f'http://127.0.0.1:{self.port}'
        self.log = tempfile.TemporaryFile(mode='w+')  # noqa: SIM115
        self.addCleanup(self.log.close)
        self.process = subprocess.Popen(
            ['node', os.path.join(HERE, 'provider.mjs'), str(self.port)],
            cwd=HERE, stdout=subprocess.PIPE, stderr=self.log,
            stdin=subprocess.DEVNULL, text=True,
            env={**os.environ, 'OIDC_DEVICE_CODE_TTL': str(self.device_ttl)})
        self.addCleanup(self.stop)
        line = self.process.stdout.readline()    # 'listening', or EOF
        if line.strip() != 'listening':
            self.log.seek(0)
            raise RuntimeError(f'the OpenID Provider did not start: '
                               f'{line}{self.log.read()}')

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()

    def metadata(self) -> dict:
        return requests.get(self.issuer + '/.well-known/openid-'
                            'configuration', timeout=10).json()


class _Forms(html.parser.HTMLParser):
    """The forms of a page: action, method and their inputs' values."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = dict(attrs)
        if tag == 'form':
            self.forms.append({'id': attributes.get('id'),
                               'action': attributes.get('action'),
                               'fields': {}})
        elif tag == 'input' and self.forms and attributes.get('name'):
            self.forms[-1]['fields'][attributes['name']] = \
                attributes.get('value') or ''
        elif tag == 'a' and attributes.get('href'):
            self.links.append(attributes['href'])


def forms_of(page: str) -> _Forms:
    parser = _Forms()
    parser.feed(page)
    return parser


class Person:
    """Someone at a browser on another device, on the provider's pages
    (its development login: any password; the login is the account)."""

    def __init__(self, provider: OpenIDProvider, login: str) -> None:
        self.provider = provider
        self.login = login
        self.http = requests.Session()

    def _submit(self, response: requests.Response, form_index: int = 0,
                **fields: str) -> requests.Response:
        forms = forms_of(response.text).forms
        if not forms:
            raise AssertionError(f'no form on {response.url}:\n'
                                 f'{response.text[:2000]}')
        form = forms[form_index]
        data = {**form['fields'], **fields}
        action = urllib.parse.urljoin(response.url, form['action'])
        return self.http.post(action, data=data, timeout=10)

    def approve_device(self, verification_uri_complete: str, *,
                       consent: bool = True) -> requests.Response:
        """Open the verification page, confirm the code, sign in, and give
        (or refuse) consent; return the last page."""
        page = self.http.get(verification_uri_complete, timeout=10)
        return self.answer(page, consent=consent)

    def answer(self, page: requests.Response, *,
               consent: bool = True) -> requests.Response:
        """Fill in each form the provider shows until it shows none."""
        for _ in range(8):
            page.raise_for_status()
            forms = forms_of(page.text).forms
            if not forms:
                return page
            prompt = forms[0]['fields'].get('prompt')
            if prompt == 'login':
                page = self._submit(page, login=self.login, password='any')
            elif prompt == 'consent' and not consent:
                return self.abort(page)
            elif prompt == 'consent' or 'user_code' in forms[0]['fields']:
                page = self._submit(page)
            else:
                return page
        raise AssertionError(f'the provider kept asking: {page.url}')

    def abort(self, page: requests.Response) -> requests.Response:
        links = [link for link in forms_of(page.text).links
                 if 'abort' in link]
        if not links:
            raise AssertionError(f'no abort link on {page.url}')
        return self.http.get(urllib.parse.urljoin(page.url, links[0]),
                             timeout=10)


class Chromium(fixtures.Fixture):
    """A headless Chromium driven by Selenium, with a fresh profile."""

    def _setUp(self) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        profile = self.useFixture(fixtures.TempDir()).path
        for argument in ('--headless', '--no-sandbox', '--disable-gpu',
                         '--disable-background-networking',
                         '--disable-component-update', '--disable-sync',
                         '--no-first-run', '--disable-dev-shm-usage',
                         f'--user-data-dir={profile}'):
            options.add_argument(argument)
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER),
                                       options=options)
        self.addCleanup(self.driver.quit)
        self.driver.set_page_load_timeout(30)

    def wait_for(self, condition, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not condition(self.driver):
            if time.monotonic() > deadline:
                raise AssertionError(f'timed out at {self.driver.current_url}'
                                     f':\n{self.driver.page_source[:2000]}')
            time.sleep(0.1)
