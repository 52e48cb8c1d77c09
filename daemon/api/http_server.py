"""Serving the API: cheroot's threaded WSGI server, guarded against slow clients.

cheroot hands every accepted connection straight to one of its worker threads,
which then blocks reading the request line and headers (10 s per ``recv``, so a
client that sends a byte every few seconds holds the thread for ever).  Sixteen
such clients are the whole pool.  ``ConnectionGuard`` changes two things:

- **Heads are read before a thread is given.**  A new (or kept-alive) connection
  goes to the pool only once its request line and headers are all in the
  kernel's buffer (looked at with ``MSG_PEEK``, so cheroot reads them as usual):
  at once when they are (a poll's head comes in one packet), else after waiting
  in the guard's epoll set.  A head not complete within
  ``header_timeout`` is answered 408 and closed, like Apache's mod_reqtimeout.
- **Deadlines in the threads.**  The same guard thread watches requests being
  served: a head still being read (a pipelined request) past its deadline, and a
  body arriving slower than ``body_min_rate`` bytes/s over any window of
  ``body_grace`` seconds, get their socket shut down; the blocked ``recv`` then
  returns end-of-file and the thread is free.

A request whose body was not read (a refused upload) is closed instead of
drained, because cheroot would otherwise read the whole unread body to keep the
connection alive; the guard reads and discards what is still in flight for a
moment before closing, so the client sees the answer rather than a reset.

Every dropped client is one INFO line; no client fault is logged with a traceback.
"""

from __future__ import annotations

import _pyio
import dataclasses
import enum
import errno
import logging
import select
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from cheroot import server as cheroot_server
from cheroot import wsgi
from cheroot.makefile import StreamReader

from daemon.errors import StartupError

log = logging.getLogger(__name__)

MAX_HEAD = 64 << 10  # bytes of request line and headers; cheroot answers 413/414 beyond
HEAD_END = b"\r\n\r\n"
KEEP_ALIVE_CONNECTIONS = 128  # idle connections kept open for the next request
CLIENT_ERRNOS = {errno.EPIPE, errno.ECONNRESET, errno.ECONNABORTED, errno.ENOTCONN, errno.ETIMEDOUT,
                 errno.EBADF, errno.ESHUTDOWN}


@dataclass(frozen=True)
class Limits:
    """How long and how slowly a client may talk before it is dropped."""

    header_timeout: float = 5.0  # seconds for the request line and all headers
    body_grace: float = 10.0  # seconds: the window over which the body rate is measured
    body_min_rate: float = 500.0  # bytes/s a body must average over each window
    threads: int = 16
    max_waiting_heads: int = 512  # connections whose head is still arriving
    linger: float = 2.0  # seconds to discard an unread body before closing


# --------------------------------------------------------------------------- connections

class _CountingSocketIO(socket.SocketIO):
    """The socket's raw reader, counting bytes as they arrive (not as the app reads them),
    so a body's rate is seen even while the app waits for a whole 64 KB block."""

    received = 0

    def readinto(self, buffer: Any) -> int | None:
        count = super().readinto(buffer)
        if count:
            self.received += count
        return count


class _Reader(StreamReader):
    def __init__(self, sock: socket.socket, bufsize: int) -> None:  # noqa: D107 - cheroot's reader, counted
        self.raw_io = _CountingSocketIO(sock, "rb")
        _pyio.BufferedReader.__init__(self, self.raw_io, bufsize)
        self.bytes_read = 0


class GuardedRequest(cheroot_server.HTTPRequest):
    """cheroot's request, with its head and body under the guard's deadlines."""

    def parse_request(self) -> None:
        guard = self.server.guard
        guard.watch_head(self.conn)
        try:
            super().parse_request()
        finally:
            guard.unwatch(self.conn)
        if self.ready:
            self.conn.label = f"{self.method.decode('latin-1')} {self.path.decode('latin-1')[:80]}"

    def respond(self) -> None:
        has_body = self.chunked_read or _content_length(self.inheaders) > 0
        if has_body:
            # cheroot sets self.rfile to the body's reader first thing in respond(); once the
            # app has read all of it, the time it takes to answer is ours, not the client's.
            self.server.guard.watch_body(self.conn, lambda: getattr(self.rfile, "remaining", 1) == 0)
        try:
            super().respond()
        finally:
            if has_body:
                self.server.guard.unwatch(self.conn)

    def send_headers(self) -> None:
        # cheroot reads an unread body to the end before keeping a connection alive: a
        # refused 200 MB upload would hold the thread while it arrives.  Close instead.
        if self.chunked_read or getattr(self.rfile, "remaining", 0) > 0:
            self.close_connection = True
            self.conn.linger_on_close = True
        super().send_headers()


class GuardedConnection(cheroot_server.HTTPConnection):
    RequestHandlerClass = GuardedRequest

    def __init__(self, server: "GuardedServer", sock: socket.socket, makefile: Any = None) -> None:
        super().__init__(server, sock)
        self.rfile = _Reader(sock, self.rbufsize)
        self.linger_on_close = False
        self.dropped: str | None = None  # why the guard cut this client off, once it has
        self.label = "-"  # the request being served, for log lines

    @property
    def received(self) -> int:
        return self.rfile.raw_io.received

    @property
    def peer(self) -> str:
        return f"{self.remote_addr}:{self.remote_port}"

    def close(self) -> None:
        if self.linger_on_close and self.server.guard.linger(self):
            return
        super().close()


class _Gateway(wsgi.Gateway_10):
    def get_environ(self) -> dict[str, Any]:
        env = super().get_environ()
        env["kokoro.connection"] = self.req.conn  # so a handler can tell a dropped client
        return env


def _content_length(headers: dict[bytes, bytes]) -> int:
    try:
        return int(headers.get(b"Content-Length", b"0") or 0)
    except ValueError:
        return 0


# --------------------------------------------------------------------------- the guard

@dataclass
class _Waiting:
    """A connection whose request head is still arriving (no thread holds it)."""

    conn: GuardedConnection
    deadline: float
    seen: int = 0


@dataclass
class _Watch:
    """A request a worker thread is serving: its head or its body is being read."""

    phase: str  # "head" or "body"
    deadline: float  # head: drop after; body: end of the current rate window
    window_bytes: int = 0  # bytes received when the current window began
    body_read: Callable[[], bool] | None = None  # body: True once the app has read all of it


@dataclass
class _Lingering:
    sock: socket.socket
    deadline: float


@dataclass
class _State:
    waiting: dict[int, _Waiting] = field(default_factory=dict)
    lingering: dict[int, _Lingering] = field(default_factory=dict)
    watched: dict[GuardedConnection, _Watch] = field(default_factory=dict)


class HeadState(enum.Enum):
    COMPLETE = "complete"  # the request line and headers are all in the kernel's buffer
    PARTIAL = "partial"  # some of them, or nothing yet
    GONE = "gone"  # the client closed the connection (or it failed)


def peek_head(sock: socket.socket) -> tuple[HeadState, int]:
    """How much of a request head has arrived (and its bytes), looked at without reading it.
    The socket must be non-blocking (timeout 0): with a timeout, Python waits for data."""
    try:
        data = sock.recv(MAX_HEAD + 1, socket.MSG_PEEK)
    except BlockingIOError:
        return HeadState.PARTIAL, 0
    except OSError:
        return HeadState.GONE, 0
    if not data:
        return HeadState.GONE, 0
    if HEAD_END in data or b"\n\n" in data or len(data) > MAX_HEAD:
        return HeadState.COMPLETE, len(data)  # (cheroot answers a malformed or huge head itself)
    return HeadState.PARTIAL, len(data)


class ConnectionGuard:
    """One thread that holds connections until their head is complete and enforces
    every deadline (see the module's docstring)."""

    TICK = 0.25  # seconds between deadline checks

    def __init__(self, server: "GuardedServer", limits: Limits) -> None:
        self.server = server
        self.limits = limits
        self.dropped = 0
        self._epoll = select.epoll()
        self._lock = threading.Lock()
        self._state = _State()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="api-guard", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(5)
        with self._lock:
            waiting, lingering = list(self._state.waiting.values()), list(self._state.lingering.values())
            self._state.waiting.clear()
            self._state.lingering.clear()
        for item in waiting:
            item.conn.close()
        for linger in lingering:
            linger.sock.close()
        self._epoll.close()

    # ------------------------------------------------------------------ heads

    def admit(self, conn: GuardedConnection) -> None:
        """Hold a connection until its request head has arrived, then give it to a thread."""
        sock = conn.socket
        with self._lock:
            full = len(self._state.waiting) >= self.limits.max_waiting_heads or self._stopping.is_set()
            if not full:
                sock.settimeout(0)  # only peeked at while waiting; the timeout comes back with a thread
                fd = sock.fileno()
                self._state.waiting[fd] = _Waiting(conn, time.monotonic() + self.limits.header_timeout)
                self._epoll.register(fd, select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLET)
        if full:
            log.info("dropped client %s: %d connections are already waiting to send a request",
                     conn.peer, self.limits.max_waiting_heads)
            conn.close()

    def _on_readable(self, fd: int, waiting: _Waiting) -> None:
        head, seen = peek_head(waiting.conn.socket)
        if head is HeadState.GONE:  # gone before asking anything (a browser's spare connection, a port probe)
            self._release(fd)
            waiting.conn.close()
        elif head is HeadState.COMPLETE:
            self._release(fd)  # cheroot reads it (and answers a malformed or huge head itself)
            waiting.conn.socket.settimeout(self.server.timeout)
            self.server.dispatch(waiting.conn)
        else:
            waiting.seen = seen  # a peek sees all that is buffered; the next event brings more

    def _release(self, fd: int) -> None:
        with self._lock:
            self._state.waiting.pop(fd, None)
            self._unregister(fd)

    def _expire_heads(self, now: float) -> None:
        with self._lock:
            late = [(fd, w) for fd, w in self._state.waiting.items() if w.deadline <= now]
            for fd, _ in late:
                self._state.waiting.pop(fd)
                self._unregister(fd)
        for _, waiting in late:
            if waiting.seen:  # an idle spare connection is closed without a word
                self._drop_log(waiting.conn, "-", f"no complete request line and headers within "
                               f"{self.limits.header_timeout:g} s ({waiting.seen} bytes)")
                _send_quietly(waiting.conn.socket, b"HTTP/1.1 408 Request Timeout\r\n"
                              b"Content-Length: 0\r\nConnection: close\r\n\r\n")
            waiting.conn.close()

    # ------------------------------------------------------------------ requests in threads

    def watch_head(self, conn: GuardedConnection) -> None:
        with self._lock:
            self._state.watched[conn] = _Watch("head", time.monotonic() + self.limits.header_timeout)

    def watch_body(self, conn: GuardedConnection, body_read: Callable[[], bool]) -> None:
        with self._lock:
            self._state.watched[conn] = _Watch("body", time.monotonic() + self.limits.body_grace,
                                               conn.received, body_read)

    def unwatch(self, conn: GuardedConnection) -> None:
        with self._lock:
            self._state.watched.pop(conn, None)

    def _check_watched(self, now: float) -> None:
        window, rate = self.limits.body_grace, self.limits.body_min_rate
        with self._lock:  # held while shutting down, so the thread cannot close the socket meanwhile
            for conn, watch in list(self._state.watched.items()):
                if watch.deadline > now:
                    continue
                if watch.phase == "head":
                    self._drop(conn, f"no complete request line and headers within "
                                     f"{self.limits.header_timeout:g} s")
                    continue
                got = conn.received - watch.window_bytes
                if watch.body_read is not None and watch.body_read():
                    del self._state.watched[conn]
                elif got < rate * window:
                    self._drop(conn, f"{got} bytes of the body in the last {window:g} s, below the "
                                     f"minimum of {rate:g} bytes/s")
                else:
                    watch.deadline, watch.window_bytes = now + window, conn.received

    def _drop(self, conn: GuardedConnection, reason: str) -> None:
        """Cut a client off (lock held): the thread's blocked read returns end-of-file."""
        self._state.watched.pop(conn, None)
        conn.dropped = reason
        self._drop_log(conn, conn.label, reason)
        try:
            conn.socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _drop_log(self, conn: GuardedConnection, label: str, reason: str) -> None:
        self.dropped += 1
        log.info("dropped client %s (%s): %s", conn.peer, label, reason)

    # ------------------------------------------------------------------ closing gently

    def linger(self, conn: GuardedConnection) -> bool:
        """Close a connection whose request body was not read: stop sending, then discard
        what the client still sends for a moment, so it reads our answer instead of a reset."""
        sock = conn.socket
        try:
            conn.rfile.close()
            sock.shutdown(socket.SHUT_WR)
            sock.settimeout(0)
            fd = sock.fileno()
        except OSError:
            return False
        with self._lock:
            if len(self._state.lingering) >= self.limits.max_waiting_heads or self._stopping.is_set():
                return False
            self._state.lingering[fd] = _Lingering(sock, time.monotonic() + self.limits.linger)
            self._epoll.register(fd, select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLET)
        return True

    def _discard(self, fd: int, linger: _Lingering) -> None:
        while True:
            try:
                if not linger.sock.recv(1 << 16):
                    break  # the client closed its side: done
            except BlockingIOError:
                return  # all read for now; edge-triggered, so wait for the next event
            except OSError:
                break
        self._end_linger(fd)

    def _end_linger(self, fd: int) -> None:
        with self._lock:
            linger = self._state.lingering.pop(fd, None)
            if linger is not None:
                self._unregister(fd)
        if linger is not None:
            linger.sock.close()

    def _expire_lingering(self, now: float) -> None:
        with self._lock:
            late = [fd for fd, item in self._state.lingering.items() if item.deadline <= now]
        for fd in late:
            self._end_linger(fd)

    # ------------------------------------------------------------------ the loop

    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                events = self._epoll.poll(self.TICK)
            except OSError:  # closed by stop()
                return
            # Every connection passes through here: a bug in one step must not stop the rest.
            for fd, _mask in events:
                self._safely(self._on_event, fd)
            now = time.monotonic()
            for step in (self._expire_heads, self._check_watched, self._expire_lingering):
                self._safely(step, now)

    @staticmethod
    def _safely(step: Callable[..., None], *args: Any) -> None:
        try:
            step(*args)
        except Exception:
            log.exception("the API's connection guard hit an error (it keeps running)")

    def _on_event(self, fd: int) -> None:
        with self._lock:
            waiting = self._state.waiting.get(fd)
            linger = self._state.lingering.get(fd)
        if waiting is not None:
            self._on_readable(fd, waiting)
        elif linger is not None:
            self._discard(fd, linger)

    def _unregister(self, fd: int) -> None:
        try:
            self._epoll.unregister(fd)
        except (OSError, ValueError):
            pass


def _send_quietly(sock: socket.socket, data: bytes) -> None:
    try:
        sock.send(data)
    except OSError:
        pass


# --------------------------------------------------------------------------- the server

class GuardedServer(wsgi.Server):
    ConnectionClass = GuardedConnection

    def __init__(self, bind_addr: tuple[str, int], app: Any, limits: Limits) -> None:
        super().__init__(bind_addr, app, numthreads=limits.threads, request_queue_size=128,
                         server_name="kokoro-inbox")
        self.gateway = _Gateway
        self.max_request_header_size = MAX_HEAD
        # Idle kept-alive connections cost a file descriptor in cheroot's selector and are
        # closed after ``timeout``; with cheroot's 10, the eleventh poller reconnected every time.
        self.keep_alive_conn_limit = KEEP_ALIVE_CONNECTIONS
        self.guard = ConnectionGuard(self, limits)

    def process_conn(self, conn: GuardedConnection) -> None:
        """A connection with something to read: new, or kept alive and readable again."""
        if conn.rfile.has_data():
            self.dispatch(conn)  # a pipelined request already buffered: its thread reads it under a deadline
        else:
            conn.socket.settimeout(0)  # looked at, never waited on, in cheroot's one selector thread
            if peek_head(conn.socket)[0] is HeadState.COMPLETE:
                conn.socket.settimeout(self.timeout)
                self.dispatch(conn)  # a poll's whole head came in one packet: no need to hold it
            else:
                self.guard.admit(conn)

    def dispatch(self, conn: GuardedConnection) -> None:
        super().process_conn(conn)

    def error_log(self, msg: str = "", level: int = logging.INFO, traceback: bool = False) -> None:
        """cheroot's log: a client's fault (timed out, reset, gone) is one INFO line."""
        error = sys.exc_info()[1] if traceback else None
        if error is not None and _client_fault(error):
            log.info("client connection ended: %s", error)
        elif error is not None:
            log.log(max(level, logging.ERROR), "%s", msg, exc_info=error)
        else:
            log.log(level, "%s", msg)

    def stop(self) -> None:
        super().stop()
        self.guard.stop()


def _client_fault(error: BaseException) -> bool:
    if isinstance(error, (TimeoutError, ConnectionError)):
        return True
    return isinstance(error, OSError) and error.errno in CLIENT_ERRNOS


class ApiServer:
    """The guarded server on its own thread, bound before the daemon says READY=1.

    ``limits`` default to what ``create_app`` put in ``app.config["kokoro.limits"]``,
    so the daemon's ``ApiServer(create_app(config), host, port)`` honours the config.
    """

    def __init__(self, app: Any, host: str, port: int, threads: int | None = None,
                 limits: Limits | None = None) -> None:
        limits = limits or _app_limits(app)
        if threads is not None:
            limits = dataclasses.replace(limits, threads=threads)
        self.host, self.port = host, port
        self.server = GuardedServer((host, port), app, limits)
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        try:
            self.server.prepare()  # binds now, so a port in use fails start-up
        except OSError as error:
            raise StartupError(f"the API cannot listen on {self.host}:{self.port}: "
                               f"{_bind_reason(error)}; set api.host/api.port to a free address, "
                               "or api.enabled: false") from None
        self.server.guard.start()
        self.thread = threading.Thread(target=self.server.serve, name="api", daemon=True)
        self.thread.start()
        log.info("API listening on http://%s:%d/", *self.server.bind_addr[:2])

    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive() and self.server.guard.alive()

    def stop(self) -> None:
        self.server.stop()


def _app_limits(app: Any) -> Limits:
    try:
        limits = app.config.get("kokoro.limits")
    except AttributeError:
        return Limits()
    return limits if isinstance(limits, Limits) else Limits()


def _bind_reason(error: OSError) -> str:
    text = str(error)
    if "Address already in use" in text or error.errno == errno.EADDRINUSE:
        return "the address is already in use (another kokoro-inbox, or another program, has it)"
    if "Cannot assign requested address" in text or error.errno == errno.EADDRNOTAVAIL:
        return "this machine has no such address"
    if "Permission denied" in text or error.errno == errno.EACCES:
        return "permission denied (ports below 1024 need privileges)"
    return text.rsplit("(", 1)[-1].rstrip(")") or text
