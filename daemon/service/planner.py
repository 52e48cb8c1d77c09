"""Reading books off the main thread: a process of its own, with a time budget per book.

Reading a book (unzipping, parsing, turning printed text into the words a narrator
says, cutting them into segments) is pure CPU work on input anyone with write access
to the share controls.  In the daemon's main thread a book built to be slow would
stop everything while it lasted: ``/health``, new books' status files, SIGTERM, the
systemd watchdog, which then restarts the daemon into the same book.  So the main
thread only hands a book's path to the reader process and goes on.  A book that takes
longer than its budget is stopped (the process killed and a new one started for the
next book) and fails with a sentence; a reader that dies fails only the book it was
reading.

Books are read one at a time, in the order they were handed over, so books dropped
together are queued in that order.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import time
import traceback
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Hashable, Mapping

from daemon.config import Config
from daemon.converter import PlannedBook, read_and_plan
from daemon.errors import InboxError, TooSlowToRead
from daemon.synth.executors import die_with_parent, exit_cause

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReadRequest:
    """What the reader needs to read one book (all of it pickles)."""

    config: Config
    source: Path
    upload: Mapping[str, Any] | None  # an upload's form settings, in place of a sidecar
    workers: int  # how the executor reads at once: the tail of the book is cut finer for it
    segment_chars: int


@dataclass(frozen=True)
class ReadOutcome:
    key: Hashable
    book: PlannedBook | None = None
    error: InboxError | None = None


def _reader_main(conn: multiprocessing.connection.Connection, parent_pid: int) -> None:
    """The reader process: read books until the pipe closes."""
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C and SIGTERM are the daemon's to handle
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        key, request = message
        conn.send(("reading", key, None))  # the budget starts now, not while the process starts
        started = time.monotonic()
        try:
            book = read_and_plan(request.config, request.source, request.upload, request.workers,
                                 request.segment_chars)
            conn.send(("done", key, (book, time.monotonic() - started)))
        except InboxError as error:
            conn.send(("error", key, error))
        except Exception:  # a bug: the daemon logs it whole and fails this book alone
            conn.send(("bug", key, traceback.format_exc()))


class BookReader:
    """Reads books in one spawned process, one at a time, each within ``budget`` seconds."""

    def __init__(self, budget: float) -> None:
        self.budget = budget
        self._context = multiprocessing.get_context("spawn")  # never fork a threaded parent
        self._process: Any = None
        self._conn: multiprocessing.connection.Connection | None = None
        self._waiting: deque[tuple[Hashable, ReadRequest]] = deque()
        self._current: tuple[Hashable, ReadRequest] | None = None
        self._started: float | None = None  # when the reader began the current book

    # ------------------------------------------------------------------ interface

    def submit(self, key: Hashable, request: ReadRequest) -> None:
        self._waiting.append((key, request))
        self._dispatch()

    def cancel(self, key: Hashable) -> bool:
        """Drop a book that is waiting or being read; True if it was here."""
        if self._current is not None and self._current[0] == key:
            self._stop_process()
            self._current = None
            self._dispatch()
            return True
        before = len(self._waiting)
        self._waiting = deque(item for item in self._waiting if item[0] != key)
        return len(self._waiting) != before

    def pending(self) -> list[Hashable]:
        """Keys of the books waiting or being read, in order."""
        current = [self._current[0]] if self._current else []
        return current + [key for key, _ in self._waiting]

    def wait(self, timeout: float) -> list[ReadOutcome]:
        """Books read within ``timeout`` seconds (perhaps none); never longer than that."""
        if self._conn is not None and self._current is not None:
            left = (self._started or time.monotonic()) + self.budget - time.monotonic()
            multiprocessing.connection.wait([self._conn, self._process.sentinel],
                                            max(0.0, min(timeout, left)))
        elif timeout > 0:
            time.sleep(timeout)
        return self.results()

    def results(self) -> list[ReadOutcome]:
        """Books read since the last call (never blocks)."""
        outcomes = []
        while self._current is not None:
            outcome = self._finished()
            if outcome is None:
                break
            outcomes.append(outcome)
            self._current = None
            self._dispatch()
        return outcomes

    def close(self) -> None:
        self._stop_process()
        self._waiting.clear()
        self._current = None

    # ------------------------------------------------------------------ internals

    def _finished(self) -> ReadOutcome | None:
        """The current book's outcome if it has one: read, refused, over budget, or its reader dead."""
        assert self._current is not None and self._conn is not None
        key, request = self._current
        try:
            while self._conn.poll():
                message = self._conn.recv()
                if message[0] != "reading":
                    return self._outcome(key, request, message)
                self._started = time.monotonic()
        except (EOFError, OSError):
            pass  # the reader died: its exit code tells how
        if not self._process.is_alive():
            self._process.join(1)
            cause = exit_cause(self._process.exitcode)
            self._forget_process()
            log.error("the process reading %s died (%s)", request.source, cause)
            return ReadOutcome(key, error=InboxError(
                f"the process reading the book died ({cause}); the book may need more memory "
                "than this machine has"))
        if self._started is not None and time.monotonic() - self._started > self.budget:
            self._stop_process()
            return ReadOutcome(key, error=self._too_slow())
        return None

    def _too_slow(self) -> TooSlowToRead:
        return TooSlowToRead(
            f"reading the book took longer than {self.budget:g} seconds (watch.read_seconds), so it "
            "was stopped; a book made to be slow to read looks like this. If it is a real book, "
            "raise watch.read_seconds and drop it again")

    def _outcome(self, key: Hashable, request: ReadRequest, message: tuple) -> ReadOutcome:
        kind, _, payload = message
        if kind == "done":
            book, seconds = payload
            if seconds > self.budget:  # done, but later than allowed: the main loop was busy
                return ReadOutcome(key, error=self._too_slow())
            return ReadOutcome(key, book=book)
        if kind == "error":
            return ReadOutcome(key, error=payload)
        log.error("unexpected error reading %s:\n%s", request.source, payload)
        last = payload.strip().splitlines()[-1] if payload.strip() else "unknown"
        return ReadOutcome(key, error=InboxError(f"internal error while reading the book: {last}"))

    def _dispatch(self) -> None:
        if self._current is not None or not self._waiting:
            return
        key, request = self._waiting.popleft()
        if self._process is None:
            self._spawn()
        assert self._conn is not None
        try:
            self._conn.send((key, request))
        except OSError:  # it died this instant: start another and hand the book to it
            self._stop_process()
            self._spawn()
            self._conn.send((key, request))
        self._current, self._started = (key, request), None

    def _spawn(self) -> None:
        parent_end, child_end = self._context.Pipe(duplex=True)
        process = self._context.Process(target=_reader_main, name="kokoro-book-reader",
                                        args=(child_end, os.getpid()), daemon=True)
        process.start()
        child_end.close()
        self._process, self._conn = process, parent_end

    def _stop_process(self) -> None:
        if self._process is not None and self._process.is_alive():
            self._process.kill()  # a book stuck in a regular expression ignores anything gentler
            self._process.join(5)
        self._forget_process()

    def _forget_process(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._process = self._conn = None
