"""Dask workers that read segments: ``kokoro-inbox worker tcp://host:8786``.

Any machine with this package and the model files can lend its cores to a daemon
elsewhere.  It starts real ``distributed`` workers, each under a Nanny that
restarts it when it dies, one segment at a time per worker process:

- The model is loaded once per worker process, by ``ReaderPlugin.setup``, before
  the worker joins the scheduler, from this machine's own models folder (its own
  ``--config``); the daemon never sends a path.
- Every task carries the identity (size and SHA-256) of the daemon's model files
  and the English reader it has; a worker whose files differ refuses the task
  (``ModelMismatch``) instead of reading the book in another voice.
- Before a worker reads a segment it leaves a marker (a file named after the
  task, in a folder of its nanny's).  When the worker process dies, its nanny
  reads the markers and tells the daemon, through the scheduler's event topic
  ``DEATHS_TOPIC``, which worker died, of what (the signal) and which segment
  it was reading, so the daemon can blame that one segment.
- Workers leave when the scheduler goes away (``distributed`` has no worker
  reconnection); ``serve`` starts them again and they wait until it is back.
- Workers and nannies show the cluster's certificate (``executor.tls``), listen
  on one address (``executor.interface``, else the one that reaches the
  scheduler) and serve no HTTP pages: dask_security.py.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import signal
import socket
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import dask
from distributed import Nanny, Security, Worker, WorkerPlugin, get_worker
from distributed.core import Status

from daemon import models
from daemon.config import Config
from daemon.errors import ModelMismatch, ModelMissing, SynthesisFailed

from .dask_security import WithoutHttpPages
from .engine import (
    CUDA,
    EngineKind,
    EngineSettings,
    SegmentAudio,
    SegmentTask,
    load_engine,
    resolve_provider,
    synthesize_segment,
)
from .executors import exit_cause

log = logging.getLogger(__name__)

DEATHS_TOPIC = "kokoro-inbox-worker-deaths"
PLUGIN_NAME = "kokoro-inbox-reader"
START_FAILURES_TO_GIVE_UP = 3  # a worker that cannot load the model three times running: stop
MARKER = re.compile(r"[A-Za-z0-9_-]{1,100}")  # a task's marker name comes from the daemon: check it


# --------------------------------------------------------------------------- what a worker reads with

@dataclass(frozen=True)
class FileId:
    name: str
    size: int
    sha256: str
    what: str = field(default="", compare=False)  # "kokoro-onnx model-files-v1.0", for messages

    def describe(self) -> str:
        return f"{self.name} ({self.size:,} bytes, SHA-256 {self.sha256[:16]}…, {self.what or 'unknown'})"


@dataclass(frozen=True)
class ModelIdentity:
    """What decides the voice a segment is read in: the engine, the model files, the
    English reader (misaki with its tagger, or espeak-ng)."""

    kind: str
    model: FileId | None = None
    voices: FileId | None = None
    english: str = ""


def model_identity(engine: EngineSettings) -> ModelIdentity:
    if engine.kind is not EngineKind.KOKORO:
        return ModelIdentity(str(engine.kind))
    model, voices = Path(engine.model_path), Path(engine.voices_path)
    english = "misaki" if models.misaki_installed() and models.english_tagger(model.parent) else "espeak-ng"
    return ModelIdentity(str(engine.kind), _file_id(model), _file_id(voices), english)


def _file_id(path: Path) -> FileId:
    identity = models.file_identity(path)
    return FileId(path.name, identity.size, identity.sha256, identity.what)


def refusal(have: ModelIdentity, wanted: ModelIdentity, worker: str) -> str | None:
    """Why ``worker`` must not read for a daemon that wants ``wanted``, or None."""
    if have == wanted:
        return None
    if have.kind != wanted.kind:
        return (f"{worker} reads with the {have.kind} engine but the daemon asks for {wanted.kind}; "
                "start the worker with the daemon's engine")
    differences = [f"its {mine.describe()} is not the daemon's {theirs.describe()}"
                   for mine, theirs in ((have.model, wanted.model), (have.voices, wanted.voices))
                   if mine != theirs and mine is not None and theirs is not None]
    if have.english != wanted.english:
        differences.append(f"it reads English with {have.english}, the daemon with {wanted.english}")
    return (f"{worker} would read in another voice than the daemon: " + "; ".join(differences)
            + ". Copy the daemon's model files into that machine's models folder (or run "
            "'kokoro-inbox models fetch' there) and restart its worker")


def worker_engine(config: Config, kind: EngineKind) -> EngineSettings:
    """The engine this machine reads with, from its own models folder.

    Missing files stop the worker (exit 3).  A file that is not a known release
    is only warned about: the daemon decides, task by task, whether it is the
    file it wants (a worker with other files refuses its segments).
    """
    if kind is not EngineKind.KOKORO:  # the hidden --engine flag: a stand-in needs no model
        from .stand_ins import stand_in_settings
        return stand_in_settings(kind)
    model = config.models_dir / models.model_name(config.models_variant)
    if not model.is_file() and config.models_variant == "fp32":
        model = config.models_dir / models.INT8_MODEL
    voices = config.models_dir / models.VOICES
    for path in (model, voices):
        if not path.is_file():
            raise ModelMissing(f"{path} is missing; run 'kokoro-inbox models fetch' on this machine")
        if models.identify(path, path.name) is None:
            log.warning("%s is not a known release of the file (size or SHA-256 differ): a daemon "
                        "with the released files gets its segments refused by this worker; "
                        "'kokoro-inbox models fetch' replaces it", path)
    provider = resolve_provider(config.models_provider)
    return EngineSettings(str(model), str(voices), config.threads_per_worker, provider, kind)


def default_worker_count(config: Config, engine: EngineSettings) -> int:
    """One worker process per core; on a GPU one (a second would share the same GPU)."""
    if engine.provider == CUDA and config.workers_auto:
        return 1
    return config.workers


# --------------------------------------------------------------------------- inside a worker process

class ReaderPlugin(WorkerPlugin):
    """The voice model of one worker process, loaded once before the worker joins."""

    name = PLUGIN_NAME

    def __init__(self, engine: EngineSettings, identity: ModelIdentity, reading_dir: str) -> None:
        self.engine_settings = engine
        self.identity = identity
        self.reading_dir = reading_dir
        self.engine: Any = None
        self.worker_name = ""

    def setup(self, worker: Any) -> None:
        self.engine = load_engine(self.engine_settings)
        self.worker_name = f"worker {worker.name} ({worker.address}, pid {os.getpid()})"

    @contextmanager
    def reading(self, marker: str) -> Iterator[None]:
        """The marker the nanny finds if this process dies while reading the segment."""
        if not MARKER.fullmatch(marker):
            raise SynthesisFailed(f"refused a task with the odd marker {marker[:40]!r}")
        path = Path(self.reading_dir) / marker
        path.write_text(str(os.getpid()))
        try:
            yield
        finally:
            path.unlink(missing_ok=True)


def read_segment(task: SegmentTask, wanted: ModelIdentity, marker: str) -> tuple[SegmentAudio, str]:
    """The task a daemon submits: one segment's audio (FLAC bytes) and who read it."""
    worker = get_worker()
    reader = worker.plugins.get(PLUGIN_NAME)
    if not isinstance(reader, ReaderPlugin) or reader.engine is None:
        raise SynthesisFailed(f"the Dask worker {worker.address} has no voice model loaded; start "
                              "workers with 'kokoro-inbox worker', not 'dask worker'")
    why = refusal(reader.identity, wanted, reader.worker_name)
    if why:
        raise ModelMismatch(why, worker=worker.address)
    with reader.reading(marker):
        return synthesize_segment(reader.engine, task), reader.worker_name


# --------------------------------------------------------------------------- the nanny

class QuietWorker(WithoutHttpPages, Worker):
    """A Dask worker with no HTTP server (its metrics and state pages are not needed here)."""


class ReportingNanny(Nanny):
    """A Nanny that, when its worker process dies, says what it was reading and why it died."""

    def __init__(self, *args: Any, reading_dir: Path, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reading_dir = reading_dir
        self.worker_pid: int | None = None

    async def instantiate(self) -> Status:
        status = await super().instantiate()
        self.worker_pid = self.process.pid if self.process is not None else None
        return status

    async def _on_worker_exit(self, exitcode: int) -> None:
        # distributed's hook for a worker process that ended, called before the nanny
        # restarts it (stable since 2019; tests/test_dask.py fails if it stops being called)
        reading = self._take_markers()
        if exitcode != 0 and self.status == Status.running:
            await self._report_death(exitcode, reading)
        await super()._on_worker_exit(exitcode)

    def _take_markers(self) -> dict[str, int]:
        found = {}
        for path in self.reading_dir.iterdir():
            try:
                found[path.name] = int(path.read_text() or 0)
            except (OSError, ValueError):
                found[path.name] = 0
            path.unlink(missing_ok=True)
        return found

    async def _report_death(self, exitcode: int, reading: dict[str, int]) -> None:
        pid = next(iter(reading.values()), 0) or self.worker_pid
        cause = exit_cause(exitcode)
        name = f"worker {self.name} ({self.worker_address}, pid {pid})"
        log.warning("%s died (%s) while reading %d segment(s); starting it again", name, cause, len(reading))
        event = {"worker": name, "cause": cause, "reading": sorted(reading)}
        try:
            await asyncio.wait_for(self.scheduler.log_event(topic=DEATHS_TOPIC, msg=event), 10)
        except Exception as error:  # the scheduler is gone too: the daemon resubmits everything anyway
            log.info("could not tell the scheduler that %s died: %s", name, error)


# --------------------------------------------------------------------------- the command

@dataclass(frozen=True)
class Membership:
    """How this machine's workers join: the scheduler, their TLS (None: unencrypted), and
    where they listen (Nanny keywords: host or interface)."""

    address: str
    security: Security | None
    listen: dict[str, str]


def serve(cluster: Membership, count: int, engine: EngineSettings) -> int:
    """Run ``count`` worker processes for the cluster until SIGTERM or Ctrl-C."""
    # Dask's statistical profiler samples each worker's stack every 10 ms for a dashboard that
    # nobody looks at here; the cores are the model's.  The nannies pass this on to the workers.
    dask.config.set({"distributed.worker.profile.enabled": False,
                     "distributed.worker.http.routes": []})  # no HTTP server either: dask_security.py
    identity = model_identity(engine)
    log.info("%d worker process(es) for %s, reading with %s%s, listening on %s", count, cluster.address,
             engine.kind, f" on {engine.provider}" if engine.kind is EngineKind.KOKORO else "",
             next(iter(cluster.listen.values())))
    return asyncio.run(_serve(cluster, count, engine, identity))


async def _serve(cluster: Membership, count: int, engine: EngineSettings, identity: ModelIdentity) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    base = Path(tempfile.mkdtemp(prefix="kokoro-inbox-worker-"))
    try:
        results = await asyncio.gather(*(_keep_worker(slot, cluster, engine, identity, base, stop)
                                         for slot in range(count)), return_exceptions=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return 0


async def _keep_worker(slot: int, cluster: Membership, engine: EngineSettings, identity: ModelIdentity,
                       base: Path, stop: asyncio.Event) -> None:
    """One worker process, started again whenever it leaves, until told to stop."""
    reading_dir = base / f"worker-{slot}"
    reading_dir.mkdir()
    name = f"{socket.gethostname()}-{os.getpid()}-{slot}"
    failures = 0
    while not stop.is_set():
        nanny = ReportingNanny(
            cluster.address, nthreads=1, name=name, reading_dir=reading_dir,
            memory_limit=0,  # a worker holds no data, only the model: dask's memory limits would pause it
            plugins={ReaderPlugin(engine, identity, str(reading_dir))},
            security=cluster.security, worker_class=QuietWorker, **cluster.listen,
        )
        started = await unless_stopped(nanny.start(), stop)  # waits for the scheduler if need be
        if started is None:
            await nanny.close(reason="kokoro-inbox-worker-stopped")
            return
        if started.exception() is not None:
            failures += 1
            await nanny.close(reason="kokoro-inbox-worker-start-failed")
            why = _start_failure(started.exception(), cluster)
            if failures >= START_FAILURES_TO_GIVE_UP:
                raise SynthesisFailed(f"worker {name} could not start {failures} times: {why}")
            log.error("worker %s could not start (%s); trying again", name, why)
            await unless_stopped(asyncio.sleep(2.0 ** failures), stop)
            continue
        failures = 0
        log.info("worker %s joined %s", name, cluster.address)
        if await unless_stopped(nanny.finished(), stop) is None:
            await nanny.close(reason="kokoro-inbox-worker-stopped")
            return
        log.warning("worker %s left %s (the scheduler went away?); joining again when it is back",
                    name, cluster.address)
        await unless_stopped(asyncio.sleep(1.0), stop)


def _start_failure(error: BaseException, cluster: Membership) -> str:
    """Why a nanny did not start: distributed says only "failed to start"; the cause (a refused
    certificate, a port in use) is what a person can act on."""
    cause = error.__cause__ or error
    why = f"{type(cause).__name__}: {cause}"
    if cluster.security is not None and "SSL" in why:
        why += "; is executor.tls a certificate of the cluster's CA (made by 'kokoro-inbox cluster-certs')?"
    return why


async def unless_stopped(awaitable: Any, stop: asyncio.Event) -> asyncio.Future | None:
    """``awaitable`` run to its end (as a done future), or None if the stop signal came first."""
    work = asyncio.ensure_future(awaitable)
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({work, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not work.done():
        work.cancel()
        return None
    return work
