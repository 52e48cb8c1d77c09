"""Where segments are synthesised: one small interface, and the local process pool.

The scheduler sees only ``SegmentExecutor``: submit a segment under a key, wait
for outcomes, forget a segment, say what is wrong, close.  An outcome is the
segment's audio, the error it raised, or the death of the worker that was
reading it, with the signal that killed it.  Nothing outside an executor
touches its processes, so another executor (a Dask cluster) fits the same seam.

``LocalPool`` runs spawned worker processes that it owns, one pipe each.  A
worker loads the model once when it starts and says "ready"; it says "started"
before each segment, so when a worker dies the pool knows exactly which
segment it was reading (the one to blame) and which were only queued behind it
(handed to another worker, no blame).  A dead worker is replaced on its own;
the others keep their loaded model.  Workers die with the daemon: the kernel
kills them when their parent goes (PR_SET_PDEATHSIG), and a worker whose pipe
closes exits.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Hashable, Protocol

from daemon.errors import InboxError, SynthesisFailed
from daemon.speech.spoken import SEGMENT_CHARS

from .engine import EngineSettings, SegmentAudio, SegmentTask, load_engine, synthesize_segment

log = logging.getLogger(__name__)

QUEUE_PER_WORKER = 2  # one segment read, one waiting, so no worker waits on the parent
LOAD_FAILURES_TO_GIVE_UP = 3  # workers dying while loading the model: the pool is broken


@dataclass(frozen=True)
class WorkerDeath:
    worker: str  # "worker 2 (pid 1234)"
    cause: str  # "signal 9, SIGKILL" or "exit code 1"


@dataclass(frozen=True)
class Shape:
    """How books are cut for an executor: segments read at once (the tail of a book is cut
    finer so that they finish together) and the size a segment aims at."""

    parallelism: int
    segment_chars: int = SEGMENT_CHARS


@dataclass(frozen=True)
class Outcome:
    key: Hashable
    audio: SegmentAudio | None = None
    error: InboxError | None = None
    death: WorkerDeath | None = None  # the worker reading this segment died


class SegmentExecutor(Protocol):
    """What the scheduler needs of anything that runs segments."""

    @property
    def capacity(self) -> int:
        """How many segments to keep submitted so that no worker waits."""

    def shape(self) -> Shape:
        """How to cut a book that starts now (a cluster's size may change between books)."""

    def start(self) -> None:
        """Start the workers and wait until each has the model loaded (raises SynthesisFailed).
        Starting a started executor does nothing."""

    def submit(self, key: Hashable, task: SegmentTask) -> None: ...

    def wait(self, timeout: float) -> list[Outcome]:
        """Outcomes that arrived within ``timeout`` seconds (perhaps none)."""

    def forget(self, key: Hashable) -> None:
        """The segment is no longer wanted (its book was cancelled): drop its outcome."""

    def problem(self) -> str | None:
        """None while the executor can run segments, else why not, in a sentence."""

    def close(self) -> None:
        """Stop now; segments in flight are lost (their books resume from checkpoints)."""


# --------------------------------------------------------------------------- the worker process

def die_with_parent(parent_pid: int) -> None:
    """In a child process: the kernel kills it when ``parent_pid`` (its parent) dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: the kernel kills us when the parent dies
    except (OSError, AttributeError):
        pass  # not Linux: the closed pipe still ends us after the segment in hand
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def _worker_main(conn: multiprocessing.connection.Connection, settings: EngineSettings,
                 parent_pid: int) -> None:
    """A worker's whole life: load the model, then read segments until told to stop."""
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    try:
        engine = load_engine(settings)
    except Exception as error:  # the model would not load: say why, then stop
        conn.send(("failed", f"{type(error).__name__}: {error}"))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        if message is None:
            return
        key, task = message
        conn.send(("started", key))
        try:
            conn.send(("done", key, synthesize_segment(engine, task)))
        except InboxError as error:
            conn.send(("error", key, error))
        except Exception as error:  # a bug: report it as this segment's failure, keep serving
            conn.send(("error", key, SynthesisFailed(f"reading a segment failed: "
                                                     f"{type(error).__name__}: {error}")))


# --------------------------------------------------------------------------- the pool

@dataclass
class _Worker:
    slot: int
    process: Any  # multiprocessing.Process
    conn: multiprocessing.connection.Connection
    ready: bool = False
    assigned: dict = field(default_factory=dict)  # key -> task sent, oldest first
    running: Hashable | None = None  # the key it said it started

    @property
    def name(self) -> str:
        return f"worker {self.slot} (pid {self.process.pid})"


class LocalPool:
    """Worker processes on this machine, each with the model loaded once."""

    def __init__(self, engine: EngineSettings, workers: int, segment_chars: int = SEGMENT_CHARS) -> None:
        self.engine = engine
        self.size = workers
        self.segment_chars = segment_chars
        self._context = multiprocessing.get_context("spawn")  # never fork a threaded parent
        self._workers: dict[int, _Worker] = {}
        self._pending: deque[tuple[Hashable, SegmentTask]] = deque()
        self._forgotten: set[Hashable] = set()
        self._respawn_at: dict[int, float] = {}
        self._load_failures = 0
        self._last_load_failure = ""

    @property
    def capacity(self) -> int:
        return QUEUE_PER_WORKER * self.size

    def shape(self) -> Shape:
        return Shape(self.size, self.segment_chars)

    def worker_pids(self) -> list[int]:
        return [w.process.pid for w in self._workers.values()]

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        if self._workers:
            return
        for slot in range(self.size):
            self._spawn(slot)
        while not all(w.ready for w in self._workers.values()):
            for outcome in self.wait(1.0):  # no segments yet: only deaths could come back
                log.debug("outcome before start: %s", outcome)
            if self._load_failures:
                self.close()
                raise SynthesisFailed(f"the worker processes could not load the voice model "
                                      f"({self._last_load_failure}); run 'kokoro-inbox models check'")

    def _spawn(self, slot: int) -> None:
        parent_end, child_end = self._context.Pipe(duplex=True)
        process = self._context.Process(target=_worker_main, name=f"kokoro-worker-{slot}",
                                         args=(child_end, self.engine, os.getpid()), daemon=True)
        process.start()
        child_end.close()
        self._workers[slot] = _Worker(slot, process, parent_end)

    def close(self) -> None:
        for worker in self._workers.values():
            if worker.process.is_alive():
                worker.process.terminate()
        deadline = time.monotonic() + 5
        for worker in self._workers.values():
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(1)
            worker.conn.close()
        self._workers.clear()
        self._pending.clear()

    def problem(self) -> str | None:
        if self._load_failures >= LOAD_FAILURES_TO_GIVE_UP:
            return (f"worker processes die while loading the voice model "
                    f"({self._last_load_failure}); is the machine out of memory?")
        return None

    # ------------------------------------------------------------------ segments

    def submit(self, key: Hashable, task: SegmentTask) -> None:
        self._forgotten.discard(key)
        self._pending.append((key, task))
        self._dispatch()

    def forget(self, key: Hashable) -> None:
        self._forgotten.add(key)
        self._pending = deque(item for item in self._pending if item[0] != key)

    def wait(self, timeout: float) -> list[Outcome]:
        self._respawn_due()
        handles: list[Any] = []
        for worker in self._workers.values():
            handles += [worker.conn, worker.process.sentinel]
        ready = multiprocessing.connection.wait(handles, timeout) if handles else []
        if not handles:
            time.sleep(timeout)
        outcomes: list[Outcome] = []
        for worker in list(self._workers.values()):
            if worker.conn in ready or worker.process.sentinel in ready:
                outcomes += self._drain(worker)
            if worker.process.sentinel in ready or not worker.process.is_alive():
                outcomes += self._buried(worker)
        self._dispatch()
        return [o for o in outcomes if not self._dropped(o.key)]

    def _dropped(self, key: Hashable) -> bool:
        if key in self._forgotten:
            self._forgotten.discard(key)
            return True
        return False

    def _dispatch(self) -> None:
        for worker in sorted(self._workers.values(), key=lambda w: len(w.assigned)):
            while self._pending and worker.ready and len(worker.assigned) < QUEUE_PER_WORKER:
                key, task = self._pending.popleft()
                try:
                    worker.conn.send((key, task))
                except OSError:  # it died this instant; wait() buries it and requeues
                    self._pending.appendleft((key, task))
                    break
                worker.assigned[key] = task

    def _drain(self, worker: _Worker) -> list[Outcome]:
        """Every message the worker sent (a dying worker's last results still count)."""
        outcomes = []
        try:
            while worker.conn.poll():
                outcomes += self._message(worker, worker.conn.recv())
        except (EOFError, OSError):
            pass
        return outcomes

    def _message(self, worker: _Worker, message: tuple) -> list[Outcome]:
        kind = message[0]
        if kind == "ready":
            worker.ready = True
            self._load_failures = 0
        elif kind == "failed":
            self._last_load_failure = message[1]
        elif kind == "started":
            worker.running = message[1]
        elif kind in ("done", "error"):
            key = message[1]
            worker.assigned.pop(key, None)
            worker.running = None
            if kind == "done":
                return [Outcome(key, audio=message[2])]
            return [Outcome(key, error=message[2])]
        return []

    def _buried(self, worker: _Worker) -> list[Outcome]:
        """A worker died: blame the segment it was reading, requeue the rest, replace it."""
        worker.process.join(1)
        cause = exit_cause(worker.process.exitcode)
        del self._workers[worker.slot]
        worker.conn.close()
        outcomes = []
        for key, task in reversed(worker.assigned.items()):
            if key == worker.running:
                outcomes.append(Outcome(key, death=WorkerDeath(worker.name, cause)))
            else:
                self._pending.appendleft((key, task))
        if not worker.ready:
            self._load_failures += 1
            self._last_load_failure = self._last_load_failure or cause
            log.warning("%s died while loading the voice model (%s)", worker.name, cause)
            delay = min(30.0, 2.0 ** self._load_failures)
        else:
            log.warning("%s died (%s); starting another", worker.name, cause)
            delay = 0.0
        self._respawn_at[worker.slot] = time.monotonic() + delay
        self._respawn_due()
        return outcomes

    def _respawn_due(self) -> None:
        now = time.monotonic()
        for slot, when in list(self._respawn_at.items()):
            if now >= when and (self._load_failures < LOAD_FAILURES_TO_GIVE_UP or now >= when + 60):
                del self._respawn_at[slot]
                self._spawn(slot)


def exit_cause(code: int | None) -> str:
    """A process's end as people read it: "signal 9, SIGKILL" or "exit code 1"."""
    if code is None:
        return "cause unknown"
    if code >= 0:
        return f"exit code {code}"
    try:
        return f"signal {-code}, {signal.Signals(-code).name}"
    except ValueError:
        return f"signal {-code}"
