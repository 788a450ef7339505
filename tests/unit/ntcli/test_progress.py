"""The spinner shown on terminals while a remote call is slow."""

import io
import time

import testtools

from ntcli import progress

SHOWN = 'waiting for the endpoint'


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def wait_for_spinner(stream, limit=60.0):
    """Wait until the spinner shows on ``stream`` (as a slow call would),
    for at most ``limit`` seconds: no fixed sleep that a loaded machine
    could outlast."""
    deadline = time.monotonic() + limit
    while SHOWN not in stream.getvalue():
        if time.monotonic() > deadline:
            raise AssertionError(f'no spinner within {limit} s')
        time.sleep(0.01)


class SlowEndpoint:
    """An endpoint whose call lasts until the spinner has shown."""

    embedded = False
    url = 'http://example.invalid'

    def __init__(self, stream):
        self.stream = stream

    def list_workspaces(self, credential):
        wait_for_spinner(self.stream)
        return ['ws']


class TestSpinner(testtools.TestCase):

    def test_slow_call_shows_and_clears_spinner(self):
        stream = FakeTerminal()
        spinner = progress.Spinner(stream, delay=0.05)
        with spinner:
            wait_for_spinner(stream)
        self.assertIn(SHOWN, stream.getvalue())
        self.assertTrue(stream.getvalue().endswith('\r\033[K'))

    def test_endpoint_proxy_spins_around_calls(self):
        stream = FakeTerminal()
        endpoint = progress.SpinningEndpoint(SlowEndpoint(stream), stream)
        self.assertEqual(['ws'], endpoint.list_workspaces(None))
        self.assertTrue(stream.getvalue().endswith('\r\033[K'))
        self.assertEqual('http://example.invalid', endpoint.url)

    def test_fast_call_shows_nothing(self):
        stream = FakeTerminal()
        with progress.Spinner(stream, delay=60):   # ends long before
            pass
        self.assertEqual('', stream.getvalue())
