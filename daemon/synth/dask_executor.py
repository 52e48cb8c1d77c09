"""Segments on a Dask cluster: the daemon's side of ``executor.address``.

``DaskExecutor`` is a ``SegmentExecutor`` (executors.py) over a
``distributed.Client``: each segment is one task, ``dask_worker.read_segment``,
run by whichever ``kokoro-inbox worker`` process the Dask scheduler picks, and
its audio (FLAC bytes) comes back in the result.  Workers share no folder with
the daemon; only the daemon writes files.

- **Capacity** is twice the cluster's thread count, asked of the scheduler once
  a second: a worker that joins mid-book gets segments within a second.
- **A worker that dies** is reported by its nanny (``dask_worker.ReportingNanny``)
  on the scheduler's event topic, with the signal and the segment it was reading.
  That segment becomes ``Outcome(death=...)`` (its Dask task is cancelled; the
  daemon's scheduler resubmits it and counts the strike); the segments only
  queued on that worker are re-run elsewhere by Dask, without blame.  A worker
  lost without a word (its machine switched off) costs no strike at all.
- **A worker with other model files** refuses a segment (``ModelMismatch``,
  naming its address).  That worker is kept out: one warning names it and both
  files, the segment is sent elsewhere without a strike, and from then on every
  segment is submitted restricted to the other workers (Dask has no "anywhere
  but there").  A segment restricted to workers that have all left (a
  restarted worker comes back at a new address) is submitted again.  With no
  worker left that can read, books wait, as with no worker at all, and
  ``problem()`` says why: a person fixes a worker's files or starts another,
  and the books go on without being dropped again.
- **A lost scheduler** pauses the books, fails none: ``problem()`` says why (the
  daemon's STATUS= and ``/health``) and every segment in flight is kept.  The
  client reconnects by itself for a while, then new clients are tried in the
  background; when the scheduler is back (restarted: it knows nothing), the
  kept segments are submitted anew.  Dask keys are never reused, so a late
  answer to an old submission is simply ignored.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Hashable

from distributed import Client, as_completed

from daemon.errors import InboxError, ModelMismatch, StartupError, SynthesisFailed

from .dask_worker import DEATHS_TOPIC, ModelIdentity, read_segment
from .engine import SegmentAudio, SegmentTask
from .executors import Outcome, Shape, WorkerDeath

log = logging.getLogger(__name__)

QUEUE_PER_THREAD = 2  # one segment read, one waiting, on every worker thread
RECONNECT_SECONDS = 5.0  # each later attempt
TEND_EVERY = 1.0  # seconds between questions to the scheduler (its thread count)
POLL = 0.02  # how often wait() looks for arrivals


@dataclass
class _Submitted:
    key: Hashable
    task: SegmentTask
    future: Any  # distributed.Future
    workers: frozenset[str] | None = None  # the only workers it may run on; None: any


class DaskExecutor:
    """Segments on the workers of a Dask scheduler."""

    def __init__(self, address: str, identity: ModelIdentity, security: Any = None) -> None:
        self.address = address
        self.identity = identity
        self.security = security  # distributed.Security for a tls:// cluster (dask_security.py)
        self.read_by: Counter[str] = Counter()  # worker -> segments it read, for the log
        self._client: Any = None  # distributed.Client, perhaps reconnecting by itself
        self._connected = False
        self._completed: Any = None  # as_completed over this client's futures
        self._live: dict[str, _Submitted] = {}  # Dask key -> submission
        self._dask_key: dict[Hashable, str] = {}  # our key -> Dask key
        self._waiting: dict[Hashable, SegmentTask] = {}  # for the scheduler, or for a worker that can read
        self._workers: dict[str, int] = {}  # worker address -> threads, as the scheduler said last
        self._refused: dict[str, str] = {}  # worker address -> why it refused (other model files)
        self._rescued: dict[str, Hashable] = {}  # Dask key of a stranded submission -> our key
        self._deaths: queue.SimpleQueue = queue.SimpleQueue()  # (client, event) from the nannies
        self._threads = 0
        self._next_tend = 0.0
        self._lost_since = 0.0
        self._reported: str | None = None  # the last problem logged
        self._handover: Any = None  # a client the reconnecting thread made
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._cancels = ThreadPoolExecutor(1, thread_name_prefix="dask-cancel")  # never block the loop

    # ------------------------------------------------------------------ SegmentExecutor

    @property
    def capacity(self) -> int:
        self._tend()
        return QUEUE_PER_THREAD * self._threads if self._connected else 0

    def shape(self) -> Shape:
        self._tend()
        return Shape(max(1, self._threads))

    def start(self) -> None:
        if self._client is not None:
            return
        try:  # waits up to Dask's distributed.comm.timeouts.connect (30 s unless configured)
            client = Client(self.address, security=self.security, set_as_default=False)
        except (OSError, TimeoutError) as error:
            certificate = ", and executor.tls a certificate of the cluster's CA" if self.security else ""
            raise StartupError(f"cannot reach the Dask scheduler at {self.address} ({error}); is "
                               f"'kokoro-inbox scheduler' running there, its port open{certificate}?") from None
        self._adopt(client)
        log.info("connected to the Dask scheduler at %s: %d worker threads", self.address, self._threads)

    def submit(self, key: Hashable, task: SegmentTask) -> None:
        if not self._connected:
            self._waiting[key] = task  # submitted when the scheduler is back
        else:
            self._submit(key, task)

    def wait(self, timeout: float) -> list[Outcome]:
        deadline = time.monotonic() + timeout
        while True:
            outcomes = self._look()
            left = deadline - time.monotonic()
            if outcomes or left <= 0:
                return outcomes
            time.sleep(min(POLL, left))

    def forget(self, key: Hashable) -> None:
        self._waiting.pop(key, None)
        dask_key = self._dask_key.pop(key, None)
        if dask_key is not None:
            self._cancel(self._live.pop(dask_key).future)

    def problem(self) -> str | None:
        self._tend()
        return self._problem_text()

    def close(self) -> None:
        self._closing.set()
        with self._lock:
            clients = [c for c in (self._client, self._handover) if c is not None]
            self._client = self._handover = None
            self._connected = False
        for client in clients:
            if client.status != "connecting":  # one reconnecting ends with the process instead
                _close_quietly(client)
        self._cancels.shutdown(wait=False, cancel_futures=True)
        if self.read_by:
            log.info("segments read per worker: %s",
                     ", ".join(f"{name}: {count}" for name, count in sorted(self.read_by.items())))

    # ------------------------------------------------------------------ connection
    #
    # A client that loses its scheduler tries to reconnect by itself for as long as Dask's
    # connect timeout (distributed's own loop, not to be interrupted: closing a client while
    # it reconnects logs a traceback as an error).  Back in that time, it is taken again;
    # once it has given up, a background thread makes new clients until one connects.

    def _adopt(self, client: Any) -> None:
        """A connected client: listen for deaths, learn the cluster's size, resubmit what was lost."""
        self._client = client
        self._connected = True
        self._completed = as_completed(loop=client.loop, with_results=True, raise_errors=False)
        client.subscribe_topic(DEATHS_TOPIC, lambda event, c=client: self._deaths.put((c, event)))
        self._next_tend = 0.0
        self._refresh_workers()
        self._submit_waiting()

    def _tend(self) -> None:
        """Notice a lost scheduler, take a connection back, and refresh the thread count."""
        if self._connected and self._client.status != "running":
            self._lose()
        if not self._connected:
            self._find_scheduler()
        if self._connected and time.monotonic() >= self._next_tend:
            self._refresh_workers()
        self._log_problem()

    def _find_scheduler(self) -> None:
        with self._lock:
            handed, self._handover = self._handover, None
        client = self._client
        if handed is None and client is not None and client.status == "running":
            handed = client  # it reconnected by itself
        if handed is not None:
            log.info("the Dask scheduler at %s is back; resubmitting %d segments", self.address, len(self._waiting))
            self._adopt(handed)
        elif client is not None and client.status in ("closing", "closed"):
            self._client = None  # it gave up: new clients from now on, in the background
            threading.Thread(target=self._reconnect, name="dask-reconnect", daemon=True).start()

    def _refresh_workers(self) -> None:
        """Ask the scheduler which workers it has; rescue what waits on workers that are gone."""
        self._next_tend = time.monotonic() + TEND_EVERY
        try:
            self._workers = dict(self._client.nthreads(callback_timeout=TEND_EVERY * 5))
        except Exception as error:  # a scheduler going away: the client's status says so next time
            log.debug("asking the scheduler for its workers: %r", error)
            return
        for gone in self._refused.keys() - self._workers.keys():
            del self._refused[gone]  # started again it has a new address, and is asked anew
        self._count_threads()
        self._resubmit_stranded()
        self._submit_waiting()

    def _count_threads(self) -> None:
        self._threads = sum(n for worker, n in self._workers.items() if worker not in self._refused)

    def _lose(self) -> None:
        """The scheduler is gone: keep every segment in flight for when it is back."""
        self._connected = False
        self._completed = None
        for submitted in self._live.values():
            self._waiting[submitted.key] = submitted.task
        self._live.clear()
        self._dask_key.clear()
        self._workers = {}
        self._threads = 0
        self._lost_since = time.time()
        log.info("%d segments in flight wait for the Dask scheduler at %s", len(self._waiting), self.address)

    def _reconnect(self) -> None:
        """In the background: try a new client until one connects, and hand it over."""
        while not self._closing.is_set():
            try:
                client = Client(self.address, security=self.security, timeout=RECONNECT_SECONDS,
                                set_as_default=False)
            except Exception as error:  # refused, timed out, unresolvable: all mean "not yet"
                log.debug("the Dask scheduler at %s is still away: %s", self.address, error)
                self._closing.wait(1.0)
                continue
            with self._lock:
                if not self._closing.is_set():
                    self._handover, client = client, None
            if client is not None:
                _close_quietly(client)
            return

    def _problem_text(self) -> str | None:
        if not self._connected:
            since = time.strftime("%H:%M:%S", time.localtime(self._lost_since))
            return (f"lost the Dask scheduler at {self.address} at {since}; books are paused and "
                    "go on when it is back")
        if self._threads == 0 and self._refused:
            return (f"no Dask worker at {self.address} can read for this daemon, so books wait: "
                    + next(iter(self._refused.values())))
        if self._threads == 0:
            return (f"no Dask workers are connected to {self.address}; start 'kokoro-inbox worker "
                    f"{self.address}' on a machine with the model files")
        return None

    def _log_problem(self) -> None:
        """One line when something goes wrong, one when it is right again."""
        now = self._problem_text()
        if now != self._reported:
            if now is not None:
                log.warning("%s", now)
            else:
                log.info("Dask workers are reading: %d threads at %s", self._threads, self.address)
            self._reported = now

    # ------------------------------------------------------------------ segments

    def _submit(self, key: Hashable, task: SegmentTask) -> None:
        allowed = self._allowed_workers()
        if allowed is not None and not allowed:
            self._waiting[key] = task  # every worker refused: wait for one that can read
            return
        dask_key = f"kokoro-segment-{uuid.uuid4().hex}"  # never reused: late answers are ignored
        try:
            future = self._client.submit(read_segment, task, self.identity, dask_key, key=dask_key,
                                         workers=sorted(allowed) if allowed else None,
                                         allow_other_workers=False)
        except Exception as error:  # the client closed this instant: keep it for the next one
            log.debug("submitting a segment: %r", error)
            self._waiting[key] = task
            return
        self._live[dask_key] = _Submitted(key, task, future, allowed)
        self._dask_key[key] = dask_key
        self._completed.add(future)

    def _allowed_workers(self) -> frozenset[str] | None:
        """None while no worker has refused (Dask picks any, and queues); else those that have not."""
        if not self._refused:
            return None
        return frozenset(self._workers.keys() - self._refused.keys())

    def _submit_waiting(self) -> None:
        if not self._waiting or self._allowed_workers() == frozenset():
            return
        waiting, self._waiting = self._waiting, {}
        for key, task in waiting.items():
            self._submit(key, task)

    def _resubmit_stranded(self) -> None:
        """Segments restricted to workers that have all left would wait on the scheduler for
        ever (their names are addresses): submit them again, to the workers there are now."""
        present = self._workers.keys() - self._refused.keys()
        for dask_key, submitted in list(self._live.items()):
            if submitted.workers is not None and not submitted.workers & present:
                self._drop(dask_key)
                self._rescued[dask_key] = submitted.key  # its worker's nanny may yet say it died reading it
                self._submit(submitted.key, submitted.task)
        in_flight = self._dask_key.keys() | self._waiting.keys()
        self._rescued = {dask_key: key for dask_key, key in self._rescued.items() if key in in_flight}

    def _keep_out(self, refused: ModelMismatch) -> None:
        """A worker with other model files: named once, and sent nothing more."""
        if refused.worker not in self._refused:
            log.warning("%s. Until then it gets no segments from this daemon", refused.message)
            self._refused[refused.worker] = refused.message
            self._count_threads()

    def _drop(self, dask_key: str) -> _Submitted:
        submitted = self._live.pop(dask_key)
        self._dask_key.pop(submitted.key, None)
        self._cancel(submitted.future)
        return submitted

    def _look(self) -> list[Outcome]:
        self._tend()
        if not self._connected:
            return []
        return self._deaths_reported() + self._arrivals()

    def _deaths_reported(self) -> list[Outcome]:
        outcomes = []
        while True:
            try:
                client, event = self._deaths.get_nowait()
            except queue.Empty:
                return outcomes
            _, message = event
            if client is not self._client or not isinstance(message, dict):
                continue
            worker, cause = str(message.get("worker", "a worker")), str(message.get("cause", "cause unknown"))
            reading = [key for key in map(self._blamed, message.get("reading") or ()) if key is not None]
            if not reading:
                log.warning("%s died (%s) between segments; what it held is read elsewhere", worker, cause)
            outcomes += [Outcome(key, death=WorkerDeath(worker, cause)) for key in reading]

    def _blamed(self, dask_key: Any) -> Hashable | None:
        """The segment a dead worker was reading, taken back (Dask would re-run it; the daemon's
        scheduler decides), even if it was stranded and sent elsewhere meanwhile; None if gone."""
        if not isinstance(dask_key, str):
            return None  # the nanny's message, checked like anything that comes over the network
        if dask_key in self._live:
            return self._drop(dask_key).key
        key = self._rescued.pop(dask_key, None)
        if key is None or not (key in self._dask_key or key in self._waiting):
            return None
        self._waiting.pop(key, None)
        if key in self._dask_key:
            self._drop(self._dask_key[key])
        return key

    def _arrivals(self) -> list[Outcome]:
        outcomes = []
        for future, result in self._completed.next_batch(block=False):
            submitted = self._live.pop(future.key, None)
            if submitted is None:
                continue  # forgotten, blamed for a death, or from before a reconnection
            self._dask_key.pop(submitted.key, None)
            if isinstance(result, BaseException):  # cancelled, not by us: submit it again
                self.submit(submitted.key, submitted.task)
                continue
            refused = _refusal(result)
            if refused is not None:  # the segment did nothing wrong: elsewhere, and no strike
                self._keep_out(refused)
                self.submit(submitted.key, submitted.task)
                continue
            outcomes.append(self._outcome(submitted.key, result))
        return outcomes

    def _outcome(self, key: Hashable, result: Any) -> Outcome:
        """From what as_completed brings: (audio, worker) for a result, (type, error, traceback)
        for an error.  Told apart by shape: a future's status may already say "lost" again
        (its worker died after finishing) while its result is in hand."""
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], SegmentAudio):
            audio, worker = result
            self.read_by[str(worker).split(" (")[0]] += 1
            return Outcome(key, audio=audio)
        error = result[1] if isinstance(result, tuple) and len(result) == 3 else result
        if type(error).__name__ == "KilledWorker":  # Dask gave up on it after its own retries
            worker = getattr(getattr(error, "last_worker", None), "address", None) or "a Dask worker"
            return Outcome(key, death=WorkerDeath(str(worker), "its workers died reading it, again and again"))
        if isinstance(error, InboxError):
            return Outcome(key, error=error)
        return Outcome(key, error=SynthesisFailed(
            f"reading a segment failed on a Dask worker: {type(error).__name__}: {str(error)[:300]}"))

    def _cancel(self, future: Any) -> None:
        try:
            self._cancels.submit(future.cancel)
        except RuntimeError:  # closing
            pass


def _refusal(result: Any) -> ModelMismatch | None:
    """The refusal of a worker with other model files, from an erred task's (type, error, traceback)."""
    error = result[1] if isinstance(result, tuple) and len(result) == 3 else None
    return error if isinstance(error, ModelMismatch) and error.worker else None


def _close_quietly(client: Any) -> None:
    try:
        client.close(timeout=5)
    except Exception as error:  # it may be half-closed already; nothing left to save
        log.debug("closing a Dask client: %r", error)
