"""The watch-folder daemon: inbox in, audiobooks out, unattended.

One main thread does everything that changes state: it takes settled books
from the watcher, turns them into jobs, feeds their segments to the shared
process pool through the scheduler, writes status files, and moves sources.
Signal handlers only set a flag; watchdog's threads only record paths.  Every
book is handled in its own try/except: a bad book fails alone, the daemon
never exits because of a file.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import models
from .config import Config
from .converter import BookRun, PreparedBook, Progress, RunEvent, Scheduler, job_fingerprint, prepare
from .engine import EngineSettings, start_pool, warm_up
from .errors import InboxError, OutputError
from .files import free_name, sha256_of
from .settings import BookSettings, load_sidecar
from .api import HEARTBEAT, REQUESTS, ApiServer, create_app
from .status import (CANCELLED, COMPLETED, FAILED, PROCESSING, QUEUED, Job, JobStore,
                     atomic_write_json, utc_now)
from .watcher import InboxWatcher, sidecar_of

log = logging.getLogger(__name__)

TICK = 0.5  # seconds the main loop waits for work before looking around again


class Notifier:
    """sd_notify from the main process only; silent when not under systemd."""

    def __init__(self) -> None:
        self.enabled = bool(os.environ.get("NOTIFY_SOCKET"))
        self.watchdog = bool(os.environ.get("WATCHDOG_USEC"))
        self._status = ""
        if self.enabled:
            import sdnotify
            self._notifier = sdnotify.SystemdNotifier()

    def send(self, message: str) -> None:
        if self.enabled:
            self._notifier.notify(message)

    def status(self, text: str) -> None:
        if text != self._status:
            self._status = text
            self.send(f"STATUS={text}")

    def alive(self) -> None:
        if self.watchdog:
            self.send("WATCHDOG=1")


@dataclass
class _Active:
    job: Job
    prepared: PreparedBook
    run: BookRun | None = None


class Service:
    def __init__(self, config: Config, engine: EngineSettings,
                 executor_factory: Callable[[], Executor] | None = None) -> None:
        self.config = config
        self.engine = engine
        self.paths = config.paths
        self.store = JobStore(self.paths.outbox)
        self.watcher = InboxWatcher(self.paths.inbox, config.watch_mode, config.settle_seconds,
                                    config.rescan_seconds)
        self.executor_factory = executor_factory or (lambda: start_pool(engine, config.workers))
        self.scheduler: Scheduler | None = None
        self.queue: dict[str, _Active] = {}  # job id -> queued or processing, in arrival order
        self.notifier = Notifier()
        self.stopping = False
        self.api: ApiServer | None = None
        self.next_heartbeat = 0.0

    # ------------------------------------------------------------------ life cycle

    def run(self) -> int:
        started = time.monotonic()
        for folder in (self.paths.inbox, self.paths.outbox, self.paths.archive, self.paths.failed,
                       self.paths.processing / REQUESTS):
            folder.mkdir(parents=True, exist_ok=True)
        count = self.store.load()
        self.scheduler = Scheduler(self.executor_factory, self.config.workers)
        warm_up(self.scheduler.executor, self.config.workers)  # the model is loaded in every worker
        self._resume_jobs()
        self.watcher.start()
        if self.config.api_enabled:
            self.api = ApiServer(create_app(self.config), self.config.api_host, self.config.api_port)
            self.api.start()
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)
        self._heartbeat()  # /health answers 200 from the first moment we say READY
        self.notifier.send("READY=1")
        log.info("ready in %.1f s: %d jobs known, %d to do, %d workers", time.monotonic() - started,
                 count, len(self.queue), self.config.workers)
        try:
            while not self.stopping:
                self._tick()
        finally:
            self._shut_down()
        return 0

    def _request_stop(self, signum: int, frame: object) -> None:
        self.stopping = True  # the main loop does the work

    def _shut_down(self) -> None:
        self.notifier.send("STOPPING=1")
        log.info("stopping: finished segments are kept, unfinished books resume at the next start")
        self.watcher.stop()
        if self.api is not None:
            self.api.stop()
        try:  # an API left running on its own must not report this daemon as healthy
            atomic_write_json(self.paths.processing / HEARTBEAT,
                              {"pid": os.getpid(), "time": time.time(), "state": "stopped"})
        except OSError:
            pass
        if self.scheduler is not None:
            for active in self.queue.values():
                if active.run is not None:
                    self.scheduler.remove(active.run)
                    active.run.abort(keep_checkpoints=True)
            _stop_workers(self.scheduler.executor)
            self.scheduler.close(wait=False)

    def _tick(self) -> None:
        self.watcher.check()
        for book in self.watcher.poll():
            _guarded(self._intake, book)
        self._handle_requests()
        self._start_next()
        assert self.scheduler is not None
        for event in self.scheduler.step(timeout=TICK if self.scheduler.busy else 0):
            _guarded(self._ended, event)
        if not self.scheduler.busy:
            time.sleep(TICK)
        self._notify()
        self._heartbeat()
        if self.api is not None and not self.api.alive():
            raise RuntimeError("the API server thread died")  # systemd restarts the service

    # ------------------------------------------------------------------ intake

    def _intake(self, book: Path) -> None:
        """A settled book becomes a job (or a failed job saying why); never raises."""
        relative = book.relative_to(self.paths.inbox)
        ticket = self._ticket(relative)  # an upload through the API, waiting for its job
        try:
            requested = self._requested_settings(book)
            prepared = prepare(book, requested, self.config.default_lang, self.config.default_voice,
                               keep_boilerplate=not self.config.skip_boilerplate)
        except InboxError as error:
            self._reject(book, error, ticket)
            return
        except Exception as error:  # a bug, not the user's fault: log it whole, fail the book
            log.exception("unexpected error reading %s", relative)
            self._reject(book, InboxError(f"internal error while reading the book: {error}"), ticket)
            return
        key = job_fingerprint(prepared)
        existing = self.store.by_key(key, (QUEUED, PROCESSING, COMPLETED))
        # A second upload of a book still being read is a job of its own (only a finished
        # book is never read twice); a second copy dropped in the folder is just a copy.
        if existing is not None and (existing.status == COMPLETED or not ticket):
            self._duplicate(book, existing, ticket)
            return
        sidecar = sidecar_of(book)
        job = self._new_job(relative, prepared.source_sha256, key, prepared.settings.as_record(), ticket)
        job.sidecar = sidecar.relative_to(self.paths.inbox).as_posix() if sidecar else None
        job.title, job.author = prepared.title, prepared.author
        job.chars_total = prepared.chars_total
        job.chapters = [{"index": c.index, "title": c.title, "chars": c.chars, "status": "queued"}
                        for c in prepared.chapters]
        self._save(job)
        _close_ticket(ticket)
        self.queue[job.job_id] = _Active(job, prepared)
        log.info("job %s: queued %s (%d characters, voice %s)", job.job_id, relative,
                 prepared.chars_total, prepared.settings.voice)

    def _requested_settings(self, book: Path) -> BookSettings:
        """Config defaults, then every folder.yaml from the inbox down, then the sidecar."""
        settings = BookSettings(speed=self.config.default_speed, bitrate=self.config.default_bitrate)
        folder = book.parent
        chain = [folder, *folder.parents]
        for level in reversed(chain[: len(chain) - len(self.paths.inbox.parents)]):
            defaults = level / "folder.yaml"
            if defaults.is_file():
                settings = settings.merged(load_sidecar(defaults))
        sidecar = sidecar_of(book)
        if sidecar is not None:
            settings = settings.merged(load_sidecar(sidecar))
        return settings

    def _new_job(self, relative: Path, sha256: str, key: str, settings: dict,
                 ticket: dict | None) -> Job:
        """A job record; an upload through the API keeps the id it was promised."""
        stem = self.store.allocate_stem(relative.with_suffix("").as_posix())
        return self.store.create(job_id=ticket.get("job_id") if ticket else None,
                                 source=relative.as_posix(), source_sha256=sha256, settings=settings,
                                 status_file=f"{stem}.json", job_key=key)

    def _ticket(self, relative: Path) -> dict | None:
        """The API's upload ticket for this book, if it came that way (tickets are few)."""
        for path in (self.paths.processing / REQUESTS).glob("upload-*.json"):
            try:
                ticket = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if ticket.get("source") == relative.as_posix():
                ticket["path"] = str(path)
                return ticket
        return None

    def _reject(self, book: Path, error: InboxError, ticket: dict | None) -> None:
        relative = book.relative_to(self.paths.inbox)
        sha256 = _sha256_or_empty(book)
        self._fail(self._new_job(relative, sha256, f"rejected:{sha256}", {}, ticket), error)
        _close_ticket(ticket)

    def _duplicate(self, book: Path, existing: Job, ticket: dict | None) -> None:
        relative = book.relative_to(self.paths.inbox)
        if ticket:  # an upload was promised a job: it gets one, already done
            self._promised_duplicate(book, relative, existing, ticket)
            return
        if existing.status == COMPLETED and self.config.after_success != "keep":
            log.info("job %s: %s was already converted to %s; archiving the copy", existing.job_id,
                     relative, existing.output_file)
            self._move_source(relative, self.paths.archive, sidecar=None)
        else:
            log.debug("job %s: %s is already %s", existing.job_id, relative, existing.status)

    def _promised_duplicate(self, book: Path, relative: Path, existing: Job, ticket: dict) -> None:
        job = self._new_job(relative, existing.source_sha256, existing.job_key, existing.settings, ticket)
        for name in ("status", "progress", "output_file", "title", "author", "chapters", "chars_total",
                     "chars_done", "audio_seconds", "eta_seconds", "started_at", "finished_at"):
            setattr(job, name, getattr(existing, name))
        sidecar = sidecar_of(book)
        job.sidecar = sidecar.relative_to(self.paths.inbox).as_posix() if sidecar else None
        self._save(job)
        _close_ticket(ticket)
        log.info("job %s: %s was already converted by job %s", job.job_id, relative, existing.job_id)
        self._after_success(job)

    def _resume_jobs(self) -> None:
        """Jobs left queued or processing by a stop or a crash go on from their checkpoints."""
        for job in self.store.active():
            book = self.paths.inbox / job.source
            try:
                prepared = prepare(book, self._requested_settings(book), self.config.default_lang,
                                   self.config.default_voice,
                                   keep_boilerplate=not self.config.skip_boilerplate)
            except InboxError as error:
                self._fail(job, error if book.exists() else InboxError(
                    f"the source {job.source} disappeared from the inbox before it was converted"))
                continue
            self.queue[job.job_id] = _Active(job, prepared)
            self.watcher.mark_taken(book)
            log.info("job %s: resuming %s", job.job_id, job.source)

    # ------------------------------------------------------------------ running

    def _start_next(self) -> None:
        """Keep two books running: the current one and the next, so no worker idles between."""
        assert self.scheduler is not None
        running = sum(1 for a in self.queue.values() if a.run is not None)
        for active in list(self.queue.values()):
            if running >= 2:
                return
            if active.run is None:
                self._start(active)
                running += 1

    def _start(self, active: _Active) -> None:
        job = active.job
        try:
            output = self.paths.outbox / f"{job.stem}.mp3"
            active.run = BookRun(active.prepared, output, self.engine,
                                 self.paths.processing / job.job_id, self.config.workers,
                                 on_progress=lambda progress: self._progress(active, progress),
                                 label=f"job {job.job_id}")
        except InboxError as error:
            del self.queue[job.job_id]
            self._fail(job, error)
            return
        job.status, job.started_at = PROCESSING, job.started_at or utc_now()
        self._save(job)
        assert self.scheduler is not None
        self.scheduler.add(active.run)
        log.info("job %s: converting %s", job.job_id, job.source)

    def _progress(self, active: _Active, progress: Progress) -> None:
        job = active.job
        job.chars_done, job.chars_total = progress.chars_done, progress.chars_total
        job.progress = round(min(progress.percent, 99.9), 1)
        job.audio_seconds = round(progress.audio_seconds, 1)
        job.eta_seconds = round(progress.eta_seconds) if progress.eta_seconds is not None else None
        if active.run is not None:
            job.chapters = active.run.tracker.chapter_states()
        self._save(job, progress_only=True)

    def _ended(self, event: RunEvent) -> None:
        active = next((a for a in self.queue.values() if a.run is event.run), None)
        if active is None:
            return
        job = active.job
        del self.queue[job.job_id]
        if event.error is not None:
            self._fail(job, event.error)
            return
        result = event.result
        assert result is not None and active.run is not None
        job.status, job.progress, job.finished_at = COMPLETED, 100.0, utc_now()
        job.output_file = result.output.relative_to(self.paths.outbox).as_posix()
        job.chars_done, job.eta_seconds = job.chars_total, 0
        job.audio_seconds = round(result.audio_seconds, 1)
        job.chapters = active.run.tracker.chapter_states()  # every chapter written: all done
        self._save(job)
        log.info("job %s: completed %s (%.0f s of audio in %.0f s)", job.job_id, job.output_file,
                 result.audio_seconds, result.seconds)
        self._after_success(job)

    def _after_success(self, job: Job) -> None:
        relative = Path(job.source)
        sidecar = Path(job.sidecar) if job.sidecar else None
        if self.config.after_success == "archive":
            self._move_source(relative, self.paths.archive, sidecar)
        elif self.config.after_success == "delete":
            for path in filter(None, (relative, sidecar)):
                (self.paths.inbox / path).unlink(missing_ok=True)
                self.watcher.forget(self.paths.inbox / path)

    def _fail(self, job: Job, error: InboxError, status: str = FAILED) -> None:
        job.status, job.error, job.error_code = status, error.message, error.code
        job.finished_at, job.eta_seconds = utc_now(), None
        self._save(job)
        log.error("job %s: %s %s: %s", job.job_id, status, job.source, error.message)
        if isinstance(error, OutputError):
            return  # the outbox is the problem, not the book: the source stays where it is
        self._move_source(Path(job.source), self.paths.failed,
                          Path(job.sidecar) if job.sidecar else sidecar_relative(self.paths.inbox, job))

    def _save(self, job: Job, progress_only: bool = False) -> None:
        try:
            self.store.save(job, progress_only=progress_only)
        except OSError as error:
            log.error("job %s: cannot write its status file in %s: %s", job.job_id,
                      self.paths.outbox, error.strerror or error)

    def _move_source(self, relative: Path, destination_root: Path, sidecar: Path | None) -> None:
        """Move a source (and sidecar) out of the inbox, keeping its subfolder; never overwrite."""
        for path in filter(None, (relative, sidecar)):
            source = self.paths.inbox / path
            if not source.exists():
                continue
            target = free_name(destination_root / path)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(source), str(target))
            except OSError as error:
                log.error("cannot move %s to %s: %s", source, target.parent, error.strerror or error)
                continue
            self.watcher.forget(source)

    # ------------------------------------------------------------------ cancel

    def _handle_requests(self) -> None:
        folder = self.paths.processing / REQUESTS
        try:
            names = os.listdir(folder)
        except OSError:
            return
        for name in names:
            if name.startswith("cancel-"):
                (folder / name).unlink(missing_ok=True)
                self.cancel(name[len("cancel-"):])

    def cancel(self, job_id: str) -> bool:
        """Cancel a queued or processing job: its checkpoints go, its source to failed/."""
        active = self.queue.pop(job_id, None)
        if active is None:
            log.info("job %s: nothing to cancel (not queued or processing)", job_id)
            return False
        if active.run is not None:
            assert self.scheduler is not None
            self.scheduler.remove(active.run)
            active.run.abort(keep_checkpoints=False)
        self._fail(active.job, InboxError("cancelled at the user's request"), status=CANCELLED)
        return True

    # ------------------------------------------------------------------ systemd, health

    def _heartbeat(self) -> None:
        """What /health and /metrics read: written every couple of seconds by the main loop."""
        now = time.monotonic()
        if now < self.next_heartbeat:
            return
        self.next_heartbeat = now + 2.0
        current = next((a for a in self.queue.values() if a.run is not None), None)
        rate = current.run.tracker.rate() if current and current.run else 0.0
        assert self.scheduler is not None
        beat = {
            "pid": os.getpid(), "time": time.time(), "state": "running",
            "watcher": f"paused: {self.watcher.paused_reason}" if self.watcher.paused_reason
            else ("alive" if self.watcher.alive() else "stopped"),
            "pool": "alive" if self.scheduler.pool_alive() else "broken",
            "workers": self.config.workers, "queue": len(self.queue),
            "current_job": current.job.job_id if current else None, "chars_per_second": rate,
        }
        try:
            atomic_write_json(self.paths.processing / HEARTBEAT, beat)
        except OSError as error:
            log.warning("cannot write the heartbeat file: %s", error.strerror or error)

    def _notify(self) -> None:
        self.notifier.alive()
        if self.watcher.paused_reason:
            self.notifier.status(f"paused: {self.watcher.paused_reason}")
            return
        current = next((a.job for a in self.queue.values() if a.run is not None), None)
        waiting = sum(1 for a in self.queue.values() if a.run is None)
        if current is None:
            self.notifier.status("idle, watching the inbox")
        else:
            self.notifier.status(f"converting {current.source} ({current.progress:.0f}%), "
                                 f"{waiting} queued")


def _close_ticket(ticket: dict | None) -> None:
    """Once the job's status file exists, the upload ticket has done its work."""
    if ticket:
        Path(ticket["path"]).unlink(missing_ok=True)


def _guarded(handle: Callable[[object], None], item: object) -> None:
    """One book's trouble is logged and stays that book's: the loop goes on."""
    try:
        handle(item)
    except Exception:
        log.exception("unexpected error handling %s; going on with the others", item)


def sidecar_relative(inbox: Path, job: Job) -> Path | None:
    sidecar = sidecar_of(inbox / job.source)
    return sidecar.relative_to(inbox) if sidecar else None


def request_cancel(processing: Path, job_id: str) -> None:
    """Ask a running daemon (this process or another) to cancel a job."""
    folder = processing / REQUESTS
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"cancel-{job_id}").write_text(utc_now())


def _sha256_or_empty(path: Path) -> str:
    try:
        return sha256_of(path)
    except OSError:
        return ""


def _stop_workers(executor: Executor) -> None:
    """Stop pool workers now: a segment in flight is redone at the next start."""
    for process in list((getattr(executor, "_processes", None) or {}).values()):
        if process.is_alive():
            process.terminate()


def run_service(config: Config, engine_kind: str = "kokoro") -> int:
    model, voices = models.resolve(config.models_dir, config.models_variant)
    engine = EngineSettings(str(model), str(voices), config.threads_per_worker, config.models_provider,
                            kind=engine_kind)
    return Service(config, engine).run()
