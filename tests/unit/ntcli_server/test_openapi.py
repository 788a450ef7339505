"""Tests of ntcli_server.openapi: a valid OpenAPI 3.1 document that names
every route of the app, every method and nothing else. (The live check of
answers against it is tests/contract/test_openapi.py.)"""

from __future__ import annotations

import testtools
from falcon import inspect

from ntcli_server import openapi, wsgi
from tests.unit.ntcli_authority import base

METHODS = ('get', 'put', 'post', 'delete', 'options', 'head', 'patch')


def app_routes(app) -> dict[str, set[str]]:
    """Each route template of a Falcon app and its methods (lower case),
    without the ones Falcon answers by itself."""
    routes = {}
    for route in inspect.inspect_app(app).routes:
        methods = {m.method.lower() for m in route.methods
                   if not m.internal}
        routes[route.path] = methods
    return routes


class TestDocument(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.document = openapi.document()

    def test_is_a_valid_openapi_3_1_document(self):
        from openapi_spec_validator import validate
        validate(self.document)
        self.assertEqual('3.1.0', self.document['openapi'])

    def test_covers_every_route_and_method_of_the_app(self):
        authority = self.useFixture(base.AuthorityFixture()).authority
        routes = app_routes(wsgi.create_app(lambda: authority).app)
        documented = {path: {m for m in item if m in METHODS}
                      for path, item in self.document['paths'].items()}
        self.assertEqual(routes, documented)

    def test_every_operation_documents_its_errors(self):
        responses = self.document['components']['responses']
        for path, item in self.document['paths'].items():
            for method in set(item) & set(METHODS):
                answers = item[method]['responses']
                for status in ('429', '500', '503'):
                    self.assertIn(status, answers, (path, method))
                if item[method]['security']:
                    self.assertLessEqual({'401', '403'}, set(answers))
                body = item[method].get('requestBody', {})
                if 'application/json' in body.get('content', {}):
                    self.assertLessEqual({'400', '413', '415', '422'},
                                         set(answers))
                elif body:      # a form (RFC 6749): its errors are 400s
                    self.assertLessEqual({'400', '413'}, set(answers))
                for status, answer in answers.items():
                    if status.startswith(('4', '5')):
                        name = answer['$ref'].rsplit('/', 1)[1]
                        self.assertIn(name, responses)

    def test_a_copy_each_time(self):
        self.document['paths'].clear()
        self.assertTrue(openapi.document()['paths'])
