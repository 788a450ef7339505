"""Render the server's OpenAPI document as the API reference.

``.. openapi-reference:: module:callable`` imports the callable, which returns
the OpenAPI document (a dict), and renders every route: its parameters, its
request body and each response with its schema. The document is the one the
server serves at ``/openapi.json``, so the reference cannot drift from it.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

from docutils import nodes
from docutils.parsers.rst import Directive
from docutils.statemachine import StringList

_METHODS = ('get', 'head', 'post', 'put', 'patch', 'delete', 'options')


def _load(spec: str) -> dict[str, Any]:
    module_name, _, attr = spec.partition(':')
    target = getattr(importlib.import_module(module_name), attr)
    return target() if callable(target) else target


def _ref_name(schema: dict[str, Any]) -> str | None:
    ref = schema.get('$ref')
    return ref.rsplit('/', 1)[-1] if isinstance(ref, str) else None


def _schema_text(schema: dict[str, Any]) -> str:
    name = _ref_name(schema)
    if name:
        return f'`{name}`_'
    if schema.get('type') == 'array' and isinstance(schema.get('items'), dict):
        inner = _ref_name(schema['items'])
        if inner:
            return f'array of `{inner}`_'
    return '``' + json.dumps(schema, sort_keys=True) + '``'


def _block(data: Any) -> list[str]:
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)
    return ['.. code-block:: json', ''] + \
        ['   ' + line for line in text.splitlines()] + ['']


def _prose(text: str) -> str:
    """A description of the document as reStructuredText: its words are
    plain text (a ``*`` is a star, not emphasis)."""
    return text.replace('\\', '\\\\').replace('*', '\\*')


def _operation(path: str, method: str, op: dict[str, Any]) -> list[str]:
    title = f'{method.upper()} {path}'
    lines = [title, '-' * len(title), '']
    for key in ('summary', 'description'):
        if op.get(key):
            lines += [_prose(op[key]), '']
    params = op.get('parameters') or []
    if params:
        lines += ['**Parameters**', '']
        for p in params:
            required = ' (required)' if p.get('required') else ''
            desc = p.get('description', '')
            schema = _schema_text(p.get('schema', {}))
            lines.append(f"- ``{p['name']}`` in {p.get('in')}{required}: "
                         f'{schema} {desc}'.rstrip())
        lines.append('')
    body = op.get('requestBody')
    if body:
        content = body.get('content', {})
        for media, item in sorted(content.items()):
            lines += [f'**Request body** ({media}): '
                      f"{_schema_text(item.get('schema', {}))}", '']
    responses = op.get('responses') or {}
    if responses:
        lines += ['**Responses**', '']
        for status, resp in sorted(responses.items()):
            if '$ref' in resp:
                lines.append(f'- {status}: `{_ref_name(resp)}`_')
                continue
            desc = resp.get('description', '')
            schemas = [_schema_text(item.get('schema', {}))
                       for item in (resp.get('content') or {}).values()]
            tail = f" — {', '.join(schemas)}" if schemas else ''
            lines.append(f'- {status}: {desc}{tail}')
        lines.append('')
    return lines


def render(document: dict[str, Any]) -> list[str]:
    """The reStructuredText lines of the reference for ``document``."""
    info = document.get('info', {})
    lines = [f"OpenAPI {document.get('openapi', '')}, "
             f"{info.get('title', '')} {info.get('version', '')}.", '']
    if info.get('description'):
        lines += [info['description'], '']
    lines += ['Routes', '======', '']
    for path, item in document.get('paths', {}).items():
        for method in _METHODS:
            if method in item:
                lines += _operation(path, method, item[method])
    components = document.get('components', {})
    for section in ('schemas', 'responses'):
        entries = components.get(section) or {}
        if not entries:
            continue
        heading = section.capitalize()
        lines += [heading, '=' * len(heading), '']
        for name, value in sorted(entries.items()):
            lines += [f'.. _{name}:', '', name, '-' * len(name), '']
            if value.get('description'):
                lines += [_prose(value['description']), '']
            lines += _block(value)
    return lines


class OpenAPIReference(Directive):
    """``.. openapi-reference:: module:callable``."""

    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        try:
            document = _load(self.arguments[0])
        except Exception as exc:  # a broken document must fail the build
            raise self.error(f'cannot load the OpenAPI document '
                             f'{self.arguments[0]}: {exc}') from exc
        source = f'<openapi {self.arguments[0]}>'
        content = StringList()
        for line in render(document):
            content.append(line, source)
        section = nodes.section()
        section.document = self.state.document
        self.state.nested_parse(content, 0, section, match_titles=True)
        return section.children


def setup(app: Any) -> dict[str, Any]:
    app.add_directive('openapi-reference', OpenAPIReference)
    return {'parallel_read_safe': True, 'parallel_write_safe': True}
