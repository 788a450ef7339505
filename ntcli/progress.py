"""A spinner on stderr while a remote endpoint call is slow."""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING, Any, TextIO, cast

if TYPE_CHECKING:
    from ntcli.endpoints import Endpoint

_FRAMES = '|/-\\'


class Spinner:
    """Shows a spinner after ``delay`` seconds until the block ends."""

    def __init__(self, stream: TextIO, delay: float = 0.4) -> None:
        self.stream = stream
        self.delay = delay
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._shown = False

    def _spin(self) -> None:
        if self._done.wait(self.delay):
            return
        i = 0
        while not self._done.is_set():
            self._shown = True
            self.stream.write(f'\r{_FRAMES[i % 4]} waiting for the endpoint')
            self.stream.flush()
            i += 1
            self._done.wait(0.1)

    def __enter__(self) -> Spinner:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
        if self._shown:
            self.stream.write('\r\033[K')
            self.stream.flush()


def spinning(endpoint: Endpoint, stream: TextIO) -> Endpoint:
    """``endpoint`` with a spinner around each call, for terminals.

    The proxy forwards every attribute, so it stands for the endpoint it
    wraps: typed as one (the only cast between the two).
    """
    return cast('Endpoint', SpinningEndpoint(endpoint, stream))


class SpinningEndpoint:
    """An endpoint proxy whose calls show a spinner (terminals only)."""

    def __init__(self, endpoint: Endpoint, stream: TextIO) -> None:
        self._endpoint = endpoint
        self._stream = stream

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._endpoint, name)
        if not callable(value) or name.startswith('_'):
            return value

        @functools.wraps(value)
        def call(*args: Any, **kwargs: Any) -> Any:
            with Spinner(self._stream):
                return value(*args, **kwargs)
        return call
