"""Generated requests against every route of a live ntcli-server: whatever
the body, query string or headers, the answer is never a 5xx and every
refusal is the API's error envelope."""

from __future__ import annotations

import base64
import json
import urllib.parse

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.functional import rawhttp

# Every route with the methods it answers.
ROUTES = {'/healthz': ['GET'], '/v1/token_auth': ['GET', 'POST'],
          '/v1/whoami': ['GET'], '/v1/workspaces': ['GET', 'POST'],
          '/v1/workspaces/{ws}': ['DELETE'],
          '/v1/workspaces/{ws}/tokens': ['GET', 'POST'],
          '/v1/workspaces/{ws}/tokens/{jti}': ['DELETE']}
FIELDS = ('name', 'description', 'expires_in', 'expires_at', 'scope',
          'cursor', 'limit', 'include_expired', 'include_revoked')
# Header values a client can put on the wire: visible Latin-1, no CR/LF.
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xff,
                                    blacklist_characters='\x7f'),
                      max_size=300)
# Any code point, lone surrogates included ("\ud800" is valid JSON).
TEXT = st.text(st.sampled_from('\ud800\udfff\x00\u00e9')
               | st.characters(blacklist_categories=()), max_size=300)
BIG = st.integers() | st.integers(min_value=-2 ** 80, max_value=2 ** 80)
JSON = st.recursive(
    st.none() | st.booleans() | BIG | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=5)
    | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=10),
                      inner, max_size=5),
    max_leaves=20)


def mostly(usual, other):
    """``usual`` three times in four, else ``other``."""
    return st.one_of(usual, usual, usual, other)


@st.composite
def requests(draw, server, token, spare):
    """One request: method, path, query, headers and body, all generated
    around the real names so that most get past routing."""
    # Mostly the real names, so that most requests reach the handlers.
    ws = draw(mostly(st.just(server.workspace_id),
                     st.text(min_size=1, max_size=80)))
    jti = draw(mostly(st.just('jti_' + '0' * 32),
                      st.text(min_size=1, max_size=80)))
    route = draw(st.sampled_from(sorted(ROUTES)))
    method = draw(mostly(st.sampled_from(ROUTES[route]), st.sampled_from(
        ['GET', 'POST', 'DELETE', 'PUT', 'PATCH', 'OPTIONS'])))
    if route == '/v1/workspaces/{ws}' and ws == server.workspace_id:
        ws = spare             # deleting the main one would end the run
    path = route.format(
        ws=urllib.parse.quote(ws, safe=''),
        jti=urllib.parse.quote(jti, safe=''))
    cursor = st.tuples(BIG, TEXT).map(
        lambda position: base64.urlsafe_b64encode(
            json.dumps(position).encode()).decode().rstrip('='))
    query = draw(st.lists(st.tuples(st.just('cursor'), cursor) | st.tuples(
        st.sampled_from(FIELDS) | st.text(max_size=10),
        st.text(max_size=100) | BIG.map(str)
        | st.binary(max_size=40).map(lambda b: b.decode('latin-1'))),
        max_size=4))
    if query:
        path += '?' + urllib.parse.urlencode(query, encoding='latin-1',
                                             errors='replace')
    credential = draw(mostly(st.sampled_from([server.credential] * 3
                                             + [token]),
                             st.sampled_from([token + '==', token + '!!!!',
                                              'wst_' + 'A' * 90, 'ntu_x'])
                             | HEADER_TEXT))
    headers = {'Authorization': draw(mostly(st.just('Bearer '),
                                            st.sampled_from(['bearer ', '',
                                                             'Basic '])))
               + credential}
    headers['Content-Type'] = draw(mostly(st.just('application/json'),
                                          st.sampled_from([
                                              'application/json; charset=x',
                                              'application/merge-patch+json',
                                              'text/plain']) | HEADER_TEXT))
    if draw(st.booleans()):
        headers['Idempotency-Key'] = draw(HEADER_TEXT)
    extra = draw(st.dictionaries(
        st.from_regex(r'X-[A-Za-z0-9-]{1,20}', fullmatch=True), HEADER_TEXT,
        max_size=3))
    headers.update(extra)
    body = draw(mostly(
        st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=4).map(
            lambda v: json.dumps(v).encode()),
        JSON.map(lambda v: json.dumps(v).encode())
        | st.binary(max_size=500)
        | st.integers(1, 40000).map(lambda n: b'[' * n)
        | TEXT.map(lambda t: t.encode('utf-8', 'surrogatepass'))))
    if draw(st.booleans()):
        headers['Transfer-Encoding'] = 'chunked'
        data = rawhttp.chunked(body, draw(st.integers(1, 64)))
    else:
        headers['Content-Length'] = str(len(body))
        data = body
    return method, path, rawhttp.request_bytes(method, path, headers, data)


class TestNoServerErrors(rawhttp.LiveServerTest):

    # Most generated credentials fail: without the limit they all reach
    # the handlers instead of a 429 after the twentieth.
    server_options = {'serve_args': ['--auth-failure-limit', '0']}

    def test_generated_requests(self):
        server = self.server
        token = self.call('POST', self.tokens_path).json()['access_token']
        spare = server.admin('workspace', 'create', 'spare',
                             '--owner', server.user).strip()

        # Bounded: a fixed number of requests, each with a socket timeout.
        @settings(max_examples=300, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(requests(server, token, spare))
        def check(request):
            method, path, data = request
            answer = rawhttp.exchange(server.port, data, timeout=30)
            self.assertLess(answer.status, 500, (method, path, answer))
            if answer.status >= 400:
                error = answer.json()['error']
                self.assertIsInstance(error['code'], str)
                self.assertIsInstance(error['message'], str)

        check()
