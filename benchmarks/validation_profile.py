#!/usr/bin/env python3
"""Where the time of one ``/v1/token_auth`` validation goes, in-process.

Usage (with the Python of the virtualenv ntcli[server] is installed in)::

    python benchmarks/validation_profile.py [--db DSN] [--repeat N]

It calls the token API's WSGI app directly (no sockets, no gunicorn) and
times, each as the median of ``--rounds`` rounds of ``--repeat`` calls, in
rotated order so that load on the machine hits them alike: the bare Falcon
app of benchmarks/server_load.py, the whole validation (the same token
again, a new token each time, and the same token with its row read from
the database each time, as before the rows were kept), and its parts one
by one (the JWS parse, the Ed25519 verification, the token digest that
replaces it for a token issued with one, the store's read, the records,
the change signal and the token row kept in memory, the JSON body).
The parts overlap the whole; the rest is Falcon, the middleware and the
resource.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_load  # noqa: E402  (the bare app, the token minting)


def environ(token: str) -> dict[str, Any]:
    return {'REQUEST_METHOD': 'GET', 'PATH_INFO': '/v1/token_auth',
            'QUERY_STRING': '', 'SERVER_NAME': '127.0.0.1',
            'SERVER_PORT': '8080', 'SERVER_PROTOCOL': 'HTTP/1.1',
            'wsgi.url_scheme': 'http', 'wsgi.input': io.BytesIO(b''),
            'wsgi.errors': sys.stderr, 'wsgi.version': (1, 0),
            'wsgi.multithread': False, 'wsgi.multiprocess': True,
            'wsgi.run_once': False, 'REMOTE_ADDR': '127.0.0.1',
            'HTTP_HOST': '127.0.0.1:8080',
            'HTTP_AUTHORIZATION': 'Bearer ' + token}


def wsgi_call(app: Any, token: str) -> None:
    statuses: list[str] = []
    body = app(environ(token), lambda status, headers, exc=None:
               statuses.append(status))
    b''.join(body)
    if not statuses[0].startswith('200'):
        raise RuntimeError(f'the app answered {statuses[0]}')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--db', help='a PostgreSQL DSN (default: a new '
                                     'SQLite file)')
    parser.add_argument('--repeat', type=int, default=2000)
    parser.add_argument('--rounds', type=int, default=7)
    args = parser.parse_args(argv)

    from cryptography.hazmat.primitives.asymmetric import ed25519

    from ntcli_authority import jws, signing
    from ntcli_authority.authority import Authority
    from ntcli_authority.models import ValidatedToken
    from ntcli_core import timefmt
    from ntcli_server import ratelimit, wsgi

    root = tempfile.mkdtemp(prefix='ntcli-validation-')
    db = args.db or os.path.join(root, 'server.db')
    if args.db and not os.environ.get('NTCLI_SERVER_SECRET'):
        # a PostgreSQL store keeps its signing keys sealed; the database is
        # a throwaway one, so is the key (inherited by the servers started)
        from cryptography.fernet import Fernet
        os.environ['NTCLI_SERVER_SECRET'] = Fernet.generate_key().decode()
    credential, workspace_id = server_load.setup(db)
    distinct = server_load.mint_tokens(db, 'bench', 'distinct',
                                       jws.VERIFIED_CACHE_SIZE * 4)
    token = distinct[0]
    raw = token[len('wst_'):]
    # as serve builds it by default: with the limit on failed
    # authentications per client address
    app = wsgi.create_app(db, auth_failures=ratelimit.FailureTable())
    # the same app reading every token's row, as before the rows were kept
    reading = wsgi.create_app(lambda: Authority.open(db, create=False),
                              auth_failures=ratelimit.FailureTable())
    bare = server_load.bare_app()
    failures = ratelimit.FailureTable()
    authority = Authority.open(db)
    # as a server worker keeps token rows (ntcli_authority.token_cache)
    kept = Authority.open(db, keep_tokens=True)
    feed = kept.store.token_changes()
    deadline = time.monotonic() + 10
    while feed.generation() is None and time.monotonic() < deadline:
        time.sleep(0.01)     # PostgreSQL: until the listener listens
    public = authority.keys.public_key(jws._parse(raw).header['kid'])
    parsed = jws._parse(raw)
    claims = signing.decode_token(token, authority.keys.public_key)[1]
    row = authority.store.get_token(claims['jti'])
    digest_key = authority.keys.digest_key(row.kid)
    if row.digest is None or digest_key is None:
        raise SystemExit('the tokens have no digest')
    turn = [0]

    def next_token() -> str:
        turn[0] = (turn[0] + 1) % len(distinct)
        return distinct[turn[0]]

    def uncached_parse() -> None:
        jws._parse.__wrapped__(raw)  # type: ignore[attr-defined]

    def verify() -> None:
        public.verify(parsed.signature, parsed.signing_input)

    def records() -> None:
        record = authority.store.get_token(claims['jti'])
        ValidatedToken(jti=record.jti, workspace_id=record.workspace_id,
                       issued_at=record.created_at,
                       expires_at=record.expires_at, scope=record.scope,
                       kid=record.kid)

    import json
    body = {'valid': True, 'workspace_id': workspace_id, 'jti': claims['jti'],
            'scope': claims['scope'], 'expires_at': claims.get('exp')}

    parts: dict[str, Callable[[], None]] = {
        'bare Falcon app (constant JSON)': lambda: wsgi_call(bare, token),
        'validation, the same token': lambda: wsgi_call(app, token),
        'validation, a new token each time':
            lambda: wsgi_call(app, next_token()),
        'validation, the same token, its row read each time':
            lambda: wsgi_call(reading, token),
        '  decode_token, signature remembered':
            lambda: signing.decode_token(token, authority.keys.public_key),
        '  JWS parse (split, base64url, JSON header)': uncached_parse,
        '  Ed25519 verification': verify,
        '  token digest (HMAC-SHA256, compared)':
            lambda: signing.digest_matches(digest_key, token, row.digest),
        '  store read (get_token)':
            lambda: authority.store.get_token(claims['jti']),
        '  store read + ValidatedToken': records,
        '  change signal (generation: SQLite counter read, PostgreSQL '
        'lease)': feed.generation,
        '  token row kept in memory (TokenCache.get_token)':
            lambda: kept.token_cache.get_token(claims['jti']),
        '  body: timefmt.iso + json.dumps': lambda: json.dumps(
            dict(body, expires_at=timefmt.iso(body['expires_at']))),
        '  failed-authentication limit (retry_after)':
            lambda: failures.retry_after('127.0.0.1'),
    }
    if not isinstance(public, ed25519.Ed25519PublicKey):
        raise SystemExit('the signing key is not an Ed25519 key')
    for call in parts.values():     # warm: caches, pages, connections
        for _ in range(50):
            call()
    times: dict[str, list[float]] = {name: [] for name in parts}
    names = list(parts)
    for round_ in range(args.rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            call = parts[name]
            begin = time.perf_counter()
            for _ in range(args.repeat):
                call()
            times[name].append((time.perf_counter() - begin)
                               / args.repeat * 1e6)
    authority.close()
    kept.close()
    print(f"{'(in-process, median of rounds)':<46} {'us/call':>8} "
          f"{'min':>7}")
    for name in names:
        print(f'{name:<46} {statistics.median(times[name]):8.1f} '
              f'{min(times[name]):7.1f}')
    load = ' '.join(f'{x:.1f}' for x in os.getloadavg())
    print(f'load average: {load}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
