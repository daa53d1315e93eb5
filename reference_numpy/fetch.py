"""Download one URL into an open file with urllib, under a total deadline.

urllib's own ``timeout`` bounds each socket operation, not the transfer: a server sending a
byte every second never trips a 2-second timeout.  Here one deadline covers the whole
exchange - connecting, the TLS handshake, the response headers and every read of the body,
redirects included - in two ways:

* every socket operation is given what remains of the deadline as its timeout (the connect,
  and each read of the body, which reads with ``read1``: at most one ``recv`` per call);
* a watchdog timer shuts the connection's sockets down when the deadline passes, which wakes
  a ``recv`` blocked anywhere inside http.client (the header parser reads line by line).

What is not covered: the host-name lookup (``getaddrinfo`` cannot be interrupted), so a
hanging DNS resolver can still hold the call beyond the deadline.

Standard library and tqdm only; framework-neutral.
"""

from __future__ import annotations

import http.client
import math
import socket
import threading
import time
import urllib.error
import urllib.request
from typing import Any, BinaryIO

from tqdm import tqdm

__all__ = ["DownloadTimeout", "check_timeout", "fetch_url"]

_CHUNK = 1 << 16
_USER_AGENT = "nnparity (python urllib)"


class DownloadTimeout(TimeoutError):
    """The transfer did not finish within its total deadline."""


class _Deadline:
    """A point in time, plus the sockets to shut down when it passes."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._fired = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def passed(self) -> bool:
        return self._fired or time.monotonic() >= self._end

    def remaining(self) -> float:
        """Seconds left; raises DownloadTimeout when none are."""
        left = self._end - time.monotonic()
        if left <= 0 or self._fired:
            raise DownloadTimeout(f"the {self.seconds:g} s deadline passed")
        return left

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            fired = self._fired
        if fired:
            _shutdown(sock)

    def tighten(self) -> None:
        """Give every watched socket what remains of the deadline as its timeout."""
        left = self.remaining()
        with self._lock:
            socks = list(self._sockets)
        for s in socks:
            try:
                s.settimeout(left)
            except OSError:
                pass  # already closed: nothing to bound

    def _fire(self) -> None:
        with self._lock:
            self._fired = True
            socks = list(self._sockets)
        for s in socks:
            _shutdown(s)


def _shutdown(sock: socket.socket) -> None:
    # The plain socket's shutdown, also for an SSLSocket: its own shutdown() drops the SSL
    # object under the reading thread; the OS-level shutdown just makes the blocked recv return.
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass  # not connected yet, or already closed


def _connection_class(base: type[http.client.HTTPConnection], deadline: _Deadline) -> Any:
    class _Connection(base):  # type: ignore[valid-type, misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # http.client's hook for making the TCP socket (present since Python 3.2, though
            # not documented); without it only the socket after connect() is watched.
            create = getattr(self, "_create_connection", None)
            if create is None:  # pragma: no cover - a future http.client
                return

            def create_watched(*a: Any, **k: Any) -> socket.socket:
                sock = create(*a, **k)
                deadline.watch(sock)  # the raw socket: covers a TLS handshake too
                return sock

            self._create_connection = create_watched

        def connect(self) -> None:
            self.timeout = deadline.remaining()
            super().connect()
            if self.sock is not None:
                deadline.watch(self.sock)  # for https, the SSL socket that now owns the fd

    return _Connection


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self._conn = _connection_class(http.client.HTTPConnection, deadline)

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._conn, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self._conn = _connection_class(http.client.HTTPSConnection, deadline)

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._conn, req)


def check_timeout(timeout: object, name: str = "timeout") -> float:
    """``timeout`` as a float number of seconds, finite and > 0, or a TypeError/ValueError."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(
            f"{name}: expected a number of seconds (int or float), got "
            f"{type(timeout).__name__} {timeout!r}"
        )
    t = float(timeout)
    if not (math.isfinite(t) and t > 0):
        raise ValueError(f"{name}: expected a finite number of seconds > 0, got {timeout!r}")
    return t


def fetch_url(
    url: str, out: BinaryIO, *, timeout: float, progress: bool = False, desc: str = ""
) -> int:
    """Stream ``url`` into the open binary file ``out`` within ``timeout`` seconds in total.

    Returns the number of bytes written.  Raises :class:`DownloadTimeout` when the deadline
    passes (at any stage: connect, headers, body), ``OSError`` when the body is shorter than
    its ``Content-Length`` or the connection fails, ``urllib.error.HTTPError`` for an HTTP error
    status.  Proxies from the environment are honoured as by ``urllib.request.urlopen``.
    """
    seconds = check_timeout(timeout)
    written = 0
    total: int | None = None
    with _Deadline(seconds) as deadline:
        opener = urllib.request.build_opener(_HTTPHandler(deadline), _HTTPSHandler(deadline))
        req = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
        try:
            with opener.open(req, timeout=deadline.remaining()) as resp:
                length = resp.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                read = getattr(resp, "read1", resp.read)  # one recv per call, so each is bounded
                with tqdm(
                    total=total,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=desc,
                    disable=not progress,
                    leave=False,
                ) as bar:
                    while True:
                        deadline.tighten()
                        chunk = read(_CHUNK)
                        if not chunk:
                            break
                        out.write(chunk)
                        written += len(chunk)
                        bar.update(len(chunk))
        except (OSError, http.client.HTTPException) as e:
            # Every socket timeout is set to what remains of the deadline, so a socket timeout
            # (bare, or wrapped by urllib) means the deadline passed, even if by a rounding hair.
            timed_out = isinstance(e, TimeoutError) or isinstance(
                getattr(e, "reason", None), TimeoutError
            )
            if isinstance(e, urllib.error.HTTPError) or not (timed_out or deadline.passed()):
                raise
            failed = True
        else:
            failed = False
        complete = total is not None and written == total
        if failed or (deadline.passed() and not complete):
            # The watchdog's shutdown reads as an early end of the stream: say what happened.
            of = f" of {total}" if total is not None else ""
            raise DownloadTimeout(
                f"no complete response within the {seconds:g} s deadline (connect, headers and "
                f"body together): got {written}{of} bytes"
            )
    if total is not None and written != total:
        raise OSError(f"incomplete download: got {written} of {total} bytes")
    return written
