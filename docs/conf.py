"""Sphinx configuration for ntcli's documentation.

Built with ``tox -e docs`` or ``sphinx-build -W -b html docs doc-build/html``;
``-b man`` builds the man pages ntcli(1) and ntcli-server(1) from the same
sources.
"""

import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '_ext'))

import ntcli  # noqa: E402  (after the path set-up above)

project = 'ntcli'
copyright = 'the ntcli authors'
version = release = ntcli.__version__

extensions = [
    'sphinx.ext.autodoc',
    'cliff.sphinxext',
    'myst_parser',
    'reno.sphinxext',
    'reno_merges',
    'openapi_reference',
    'sphinxcontrib.programoutput',
    'reference_check',
    'columns_table',
]

# Every command of each application must have a section in its reference.
reference_apps = [
    ('reference/ntcli', 'ntcli.application:NtcliApp'),
    ('reference/ntcli-server', 'ntcli_server.cli:ServerApp'),
]

# The examples in the user guide are run when the documentation is built
# (``command-output``), in a private HOME on the embedded endpoint, with the
# ntcli of the interpreter that builds the docs: the output shown is what
# this release prints.
_home = tempfile.mkdtemp(prefix='ntcli-docs-home-')
for _name in list(os.environ):
    if _name.startswith(('NTCLI_', 'XDG_')):
        del os.environ[_name]
os.environ['HOME'] = _home
os.environ['PATH'] = (os.path.dirname(sys.executable) + os.pathsep
                      + os.environ.get('PATH', ''))
os.environ['COLUMNS'] = '100'
programoutput_use_ansi = False


def _reading_order(app, env, docnames):
    """Read the pages in the order of the index, a reader's order: the
    examples of each page continue from what those before it left in that
    HOME (the quick start makes the first token, the automation page finds
    it valid). Sphinx reads them in this list's order when it reads them
    serially, as the documented build commands do (no -j)."""
    with open(os.path.join(app.srcdir, 'index.rst'), encoding='utf-8') as f:
        listed = [line.strip() for line in f
                  if line.startswith('   ') and line.strip()[:1] not in ':.']
    position = {name: index for index, name in enumerate(listed)}
    docnames.sort(key=lambda name: (position.get(name, len(listed)), name))


def setup(app):
    app.connect('env-before-read-docs', _reading_order)

# Markdown pages (operator notes, the plugin guide) sit beside the
# reStructuredText ones; both are first-class sources.
source_suffix = {'.rst': 'restructuredtext', '.md': 'markdown'}
myst_heading_anchors = 3
exclude_patterns = ['_build', 'doc-build']

# The command reference is generated from the parsers; the application name
# is given per directive (ntcli or ntcli-server).
autoprogram_cliff_application = 'ntcli'
autodoc_member_order = 'bysource'
autodoc_typehints = 'description'

html_theme = 'alabaster'
html_title = f'ntcli {release}'

man_pages = [
    ('man/ntcli', 'ntcli', 'rotate, issue, list and revoke workspace tokens',
     ['the ntcli authors'], 1),
    ('man/ntcli-server', 'ntcli-server',
     'serve and administer the ntcli token authority',
     ['the ntcli authors'], 1),
]
man_show_urls = False
