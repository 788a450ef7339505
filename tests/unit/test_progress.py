"""The spinner shown on terminals while a remote call is slow."""

import io
import time

import testtools

from ntcli import progress


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


class SlowEndpoint:
    embedded = False
    url = 'http://example.invalid'

    def list_workspaces(self, credential):
        time.sleep(0.7)
        return ['ws']


class TestSpinner(testtools.TestCase):

    def test_slow_call_shows_and_clears_spinner(self):
        stream = FakeTerminal()
        spinner = progress.Spinner(stream, delay=0.05)
        with spinner:
            time.sleep(0.3)
        self.assertIn('waiting for the endpoint', stream.getvalue())
        self.assertTrue(stream.getvalue().endswith('\r\033[K'))

    def test_endpoint_proxy_spins_around_calls(self):
        stream = FakeTerminal()
        endpoint = progress.SpinningEndpoint(SlowEndpoint(), stream)
        self.assertEqual(['ws'], endpoint.list_workspaces(None))
        self.assertIn('waiting for the endpoint', stream.getvalue())
        self.assertEqual('http://example.invalid', endpoint.url)

    def test_fast_call_shows_nothing(self):
        stream = FakeTerminal()
        with progress.Spinner(stream, delay=0.5):
            pass
        self.assertEqual('', stream.getvalue())
