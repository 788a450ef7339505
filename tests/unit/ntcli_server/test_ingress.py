"""Tests of ntcli_server.ingress: reading the request an ingress asks about.
"""

from __future__ import annotations

import testtools

from ntcli_authority import errors
from ntcli_authority.access import Target
from ntcli_core import scopes
from ntcli_server import ingress

WS = '0f0e0d0c-0b0a-4908-8706-050403020100'


class TestTarget(testtools.TestCase):

    def assertTarget(self, expected, url, method='GET'):
        self.assertEqual(expected, ingress.target(url, method), url)

    def assertRefused(self, url, method='GET'):
        error = self.assertRaises(errors.Forbidden, ingress.target, url,
                                  method)
        self.assertEqual(403, error.http_status)
        return error

    def test_no_headers_means_no_target(self):
        self.assertIsNone(ingress.target(None, None))

    def test_one_header_alone_is_refused(self):
        for url, method in (('/v1/workspaces', None), (None, 'GET')):
            error = self.assertRaises(errors.Forbidden, ingress.target, url,
                                      method)
            self.assertIn('together', error.message)

    def test_workspace_and_resource(self):
        read = scopes.READ
        for url, expected in (
                (f'/v1/workspaces/{WS}/servers', Target(WS, 'servers', read)),
                (f'/workspaces/{WS}/secrets/API_KEY',
                 Target(WS, 'secrets', read)),
                (f'/v1/workspaces/{WS}', Target(WS, 'workspace', read)),
                (f'/v1/workspaces/{WS}/', Target(WS, 'workspace', read)),
                ('/v1/workspaces', Target(None, 'workspace', read)),
                ('/v1/registry/servers', Target(None, 'workspace', read)),
                ('/', Target(None, 'workspace', read)),
                (f'/v1/workspaces/{WS}/tokens?limit=5&x=/../y',
                 Target(WS, 'tokens', read))):
            self.assertTarget(expected, url)

    def test_absolute_urls(self):
        for url in (f'https://api.example/v1/workspaces/{WS}/servers',
                    f'HTTP://api.example:8443/workspaces/{WS}/servers?q=1',
                    f'http://user@api.example/workspaces/{WS}/servers/'):
            self.assertTarget(Target(WS, 'servers', 'read'), url)
        self.assertTarget(Target(None, 'workspace', 'read'),
                          'https://api.example')
        # an authority that looks like a path is still the authority
        self.assertTarget(Target(None, 'workspace', 'read'),
                          f'https://api.example?/workspaces/{WS}/servers')
        for url in ('ftp://h/workspaces/x', '*', 'api.example/workspaces',
                    'javascript:alert(1)', ''):
            self.assertRefused(url)

    def test_methods(self):
        for method in ('GET', 'HEAD', 'OPTIONS'):
            self.assertEqual('read', ingress.target('/', method).action)
        # only those exact names read: anything else needs write
        for method in ('POST', 'PUT', 'PATCH', 'DELETE', 'get', 'Head',
                       'PROPFIND', 'CONNECT'):
            self.assertEqual('write', ingress.target('/', method).action)
        for method in ('', 'GET POST', 'GE\nT', 'G' * 33, 'GÉT'):
            self.assertRefused('/', method)

    def test_names_are_folded(self):
        upper = WS.upper()
        self.assertTarget(Target(WS, 'servers', 'read'),
                          f'/V1/WorkSpaces/{upper}/SERVERS')
        # full-width letters, percent-encoded: NFKC makes them ASCII
        fullwidth = ''.join(f'%EF%BC%{0xA1 + ord(c) - ord("A"):02X}'
                            for c in 'WORKSPACES')
        self.assertTarget(Target(WS, 'servers', 'read'),
                          f'/{fullwidth}/{WS}/servers')
        self.assertTarget(Target(WS, 'servers', 'read'),
                          f'/v1/%77orkspaces/{WS}/%73ervers')

    def test_ambiguous_paths_are_refused(self):
        for url in (
                f'/v1/workspaces//{WS}/servers',         # empty segment
                f'//workspaces/{WS}/servers',
                f'/v1/workspaces/{WS}//servers',
                f'/v1/workspaces/{WS}/servers//',
                f'/v1/workspaces/x/../{WS}/servers',       # dot segments
                f'/v1/workspaces/{WS}/./servers',
                f'/v1/workspaces/x/%2e%2e/{WS}/servers',
                f'/v1/workspaces/x/%2E./{WS}/servers',
                '/v1/workspaces/x/%E2%80%A5/y',           # U+2025 is '..'
                f'/v1/workspaces/x%2F..%2F{WS}/servers',   # encoded slash
                f'/v1/workspaces/x%2f{WS}/servers',
                f'/v1/workspaces/x%5C..%5C{WS}/servers',  # backslash
                f'/v1/workspaces/{WS}\\servers',
                '/v1/workspaces/%252e%252e/servers',       # double encoding
                f'/v1/workspaces;x=1/{WS}/servers',        # path parameters
                f'/v1/workspaces/{WS};/servers',
                f'/v1/workspaces/{WS}/servers%3Bx',
                f'/v1/workspaces/{WS}/serv%00ers',         # control chars
                f'/v1/workspaces/{WS}/servers%0d%0aX: y',
                f'/v1/workspaces/{WS}/%C2%85',             # C1 control
                f'/v1/workspaces/%20{WS}/servers',         # white space
                f'/v1/workspaces/{WS}/servers%09',
                f'/v1/workspaces/{WS}/%3F/servers',        # encoded ? and #
                f'/v1/workspaces/{WS}/%23/servers',
                f'/v1/workspaces/{WS}/servers#frag',       # raw #: nginx
                f'/v1/workspaces/{WS}/servers#/../../WB/secrets',
                f'/v1/workspaces/{WS}/servers?q=1#x',
                f'https://api.example#/v1/workspaces/{WS}',
                f'/v1/workspaces/{WS}/%',                  # bad escapes
                f'/v1/workspaces/{WS}/%zz',
                f'/v1/workspaces/{WS}/%4',
                f'/v1/workspaces/{WS}/%ff',               # not UTF-8
                f'/v1/workspaces/{WS}/%C0%AE',            # overlong '.'
                f'/v1/workspaces/{WS}/%EF%BC%8F',         # full-width '/'
                f'/v1/workspaces/{WS}/ servers',          # raw space
                f'/v1/workspaces/{WS}/sérvers',           # raw non-ASCII
                '/' + 'a' * ingress.MAX_URL):
            self.assertRefused(url)

    def test_non_ascii_text_may_be_percent_encoded(self):
        self.assertTarget(Target(WS, 'secrets', 'write'),
                          f'/v1/workspaces/{WS}/secrets/%C3%A9t%C3%A9',
                          'PUT')

    def test_the_first_workspaces_segment_counts(self):
        other = '00000000-0000-4000-8000-000000000000'
        self.assertTarget(Target(WS, 'servers', 'read'),
                          f'/v1/workspaces/{WS}/servers/workspaces/{other}')
