"""The watch-folder daemon: inbox in, audiobooks out, unattended.

One main thread does everything that changes state: it takes settled entries
from the watcher (``InboxWatcher``), decides what each becomes (``Intake``),
runs jobs on the shared worker pool (``JobRunner``), writes status files
(``JobStore``) and moves sources (``SourceDisposal``).  Signal handlers only
set a flag; watchdog's threads only record paths; workers only return audio;
books are read and planned by the book reader's process (``BookReader``), so no
book, however it is built, holds up the main loop.  Every entry is handled in
its own try/except: one odd file fails alone, the daemon never stops because of
a file, and an entry that could not be handled is offered again later.

A job's state changes through its record's methods (daemon/job_life.py), each of
which writes its status file; a job that is the same book as another (a
*follower*) is a view of that job and ends with it.  The service says what
happens around a job's life: its source leaves the inbox before an ending is
written (``_leave_inbox``), and a start, completion or failure is logged and
announced.
"""

from __future__ import annotations

import logging
import signal
import time
from pathlib import Path
from typing import Callable

from daemon.config import Config
from daemon.converter import ConversionResult, discard_leftovers, job_fingerprint
from daemon.errors import Cancelled, InboxError, ModelMissing, StartupError, TryLater
from daemon.files import ignore_lease_breaks, shown_name, transient
from daemon.mailbox import DaemonLock, Mailbox
from daemon.notify import Notifications, page_link
from daemon.status import Job, JobStatus, JobStore, journal_path
from daemon.synth.backends import describe, make_executor
from daemon.synth.engine import EngineKind
from daemon.synth.executors import SegmentExecutor
from daemon.watcher import InboxWatcher

from .disposal import SourceDisposal
from .health import DaemonState, HealthReporter, SystemdNotifier
from .intake import Admitted, AlreadyKnown, Decision, Follower, Intake, Leftover, NewJob, Refused, Retry
from .planner import BookReader, ReadOutcome
from .retention import RetentionPolicy
from .runner import JobRunner
from .scheduler import Scheduler

log = logging.getLogger(__name__)

TICK = 0.5  # seconds the main loop waits for work before looking around again
LOOK_AGAIN = 15.0  # seconds before an entry that could not be read now is offered again
AFTER_A_BUG = 300.0  # seconds before an entry whose handling failed unexpectedly is offered again


class Service:
    def __init__(self, config: Config, executor: SegmentExecutor) -> None:
        self.config = config
        self.paths = config.paths
        self.mailbox = Mailbox(self.paths.processing)
        self.lock = DaemonLock(self.paths.processing)
        self.store = JobStore(self.paths.outbox, journal_path(self.paths.processing))
        self.store.before_ending = self._leave_inbox
        self.watcher = InboxWatcher(self.paths.inbox, config.watch_mode, config.settle_seconds,
                                    config.rescan_seconds, config.poll_seconds, config.patience_seconds)
        self.intake = Intake(config, self.store, self.mailbox)
        self.reader = BookReader(config.read_seconds)
        self._reading: dict[tuple[str, str], Admitted | Job] = {}  # reader key -> what it reads for
        self._resume_at: dict[str, tuple[float, Job]] = {}  # jobs to resume once a share answers again
        self.disposal = SourceDisposal(self.paths, config.after_success, self.watcher.forget,
                                       config.patience_seconds)
        self.disposal.on_moved = Job.save
        self.disposal.on_taken_back = self._taken_back
        self.runner = JobRunner(Scheduler(executor), self.paths.outbox, self.paths.processing,
                                self._started, self._ended)
        self.retention = RetentionPolicy(config.retention, self.paths, self.store)
        self.notifications = Notifications(config.notify_urls, config.notify_events, page_link(
            config.api_public_url, config.api_host, config.api_port, config.api_enabled))
        self.health = HealthReporter(self.mailbox, SystemdNotifier(), self.paths)
        self.api = None
        self.stopping = False
        self._next_ticket_sweep = 0.0

    # ------------------------------------------------------------------ life cycle

    def run(self) -> int:
        started = time.monotonic()
        try:
            self._start()
        except BaseException as error:
            self._undo_start()
            raise _startup_error(error) from None
        log.info("ready in %.1f s: %d jobs known, %d to do, reading on %s", time.monotonic() - started,
                 len(self.store.jobs), len(self.runner.queue), describe(self.runner.scheduler.executor))
        try:
            while not self.stopping:
                self._tick()
        finally:
            self._shut_down()
        return 0

    def _start(self) -> None:
        """Everything before READY=1; any failure is one sentence (StartupError, exit 2)."""
        for folder in (self.paths.inbox, self.paths.outbox, self.paths.archive, self.paths.failed,
                       self.paths.processing):
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StartupError(f"cannot create the folder {folder}: {error.strerror or error}") from None
        self.lock.acquire()
        self.store.load()
        self.runner.scheduler.executor.start()  # every worker has loaded the model
        self._resume_jobs()
        self.watcher.start()
        self.notifications.start()
        if self.config.api_enabled:
            self._start_api()
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)
        ignore_lease_breaks()  # the watcher asks Linux whether a copy is still being written
        self.health.report(self._state())  # /health answers 200 from the moment we say READY
        self.health.systemd.send("READY=1")

    def _start_api(self) -> None:
        from daemon.api.app import ApiServer, create_app  # the HTTP layer only when it is wanted

        try:
            self.api = ApiServer(create_app(self.config), self.config.api_host, self.config.api_port)
            self.api.start()
        except OSError as error:
            raise StartupError(f"cannot listen on {self.config.api_host}:{self.config.api_port}: "
                               f"{error.strerror or error} (another program on that port? "
                               "set api.port)") from None

    def _undo_start(self) -> None:
        for stop in (self.watcher.stop, lambda: self.api and self.api.stop(), self.reader.close,
                     self.runner.scheduler.close, self.lock.release):
            try:
                stop()
            except Exception:
                log.debug("while undoing a failed start", exc_info=True)

    def _request_stop(self, signum: int, frame: object) -> None:
        self.stopping = True  # the main loop does the work

    def _shut_down(self) -> None:
        self.health.systemd.send("STOPPING=1")
        log.info("stopping: finished segments are kept, unfinished books resume at the next start")
        self.watcher.stop()
        if self.api is not None:
            self.api.stop()
        self.health.stopped()
        self.reader.close()
        self.runner.shut_down()
        self.notifications.close()
        self.lock.release()

    def _tick(self) -> None:
        self.watcher.check()
        for entry in self.watcher.poll():
            if not _guarded(self._take, entry):
                self.watcher.look_again(entry, AFTER_A_BUG)
        for job_id in self.mailbox.take_cancel_requests():
            _guarded(self.cancel, job_id)
        self._sweep_tickets()
        busy = self.runner.scheduler.busy
        self.runner.step(timeout=TICK if busy else 0)
        for outcome in self.reader.wait(0 if busy else TICK):
            _guarded(self._read, outcome)
        self.disposal.retry_due()
        self._resume_due()
        _guarded(self.retention.run_if_due, None)
        self.health.report(self._state())
        if self.api is not None and not self.api.alive():
            raise RuntimeError("the API server thread died")  # systemd restarts the service

    # ------------------------------------------------------------------ intake

    def _take(self, entry: Path) -> None:
        """A settled entry: decided at once, or handed to the book reader."""
        admitted = self.intake.admit(entry)
        if not isinstance(admitted, Admitted):
            self._apply(entry, admitted)
            return
        key = ("take", str(entry))
        if key in self._reading:
            return  # being read already (it changed, settled again; the reader's answer decides)
        shape = self.runner.scheduler.executor.shape()
        self._reading[key] = admitted
        self.reader.submit(key, self.intake.read_request(admitted, shape.parallelism, shape.segment_chars))

    def _read(self, outcome: ReadOutcome) -> None:
        """The book reader's answer: a job for an entry taken, or a resumed job's book."""
        subject = self._reading.pop(outcome.key, None)
        if isinstance(subject, Admitted):
            self._apply(subject.book, self.intake.decide(subject, outcome.book, outcome.error))
        elif isinstance(subject, Job):
            self._resumed(subject, outcome)

    def _apply(self, entry: Path, decision: Decision) -> None:
        if isinstance(decision, Retry):
            if not decision.quiet:
                log.warning("%s: %s; trying again in %.0f s", shown_name(str(entry.relative_to(self.paths.inbox))),
                            decision.reason, LOOK_AGAIN)
            self.watcher.look_again(entry, LOOK_AGAIN if not decision.quiet else self.config.settle_seconds)
            return
        if isinstance(decision, AlreadyKnown):
            log.debug("job %s: %s is already %s", decision.job.job_id, shown_name(decision.job.source),
                      decision.job.status)
            return
        if isinstance(decision, Leftover):
            log.info("job %s: %s is still in the inbox though its job ended; it leaves now",
                     decision.job.job_id, shown_name(decision.job.source))
            if self._dispose(decision.job):
                decision.job.save()
            return
        job = decision.job
        if isinstance(decision, Refused):
            self._fail(job, decision.error)
        elif isinstance(decision, Follower):
            self._follow(job, decision.original)
        elif isinstance(decision, NewJob):
            job.save()
            self.runner.enqueue(job, decision.prepared, decision.segments)
            log.info("job %s: queued %s (%d characters, voice %s)", job.job_id, shown_name(job.source),
                     job.chars_total, decision.prepared.settings.voice)
        self.mailbox.close_upload(job.job_id)  # its status file exists now

    def _dispose(self, job: Job) -> bool:
        """A job's source leaves the inbox as its ending says (archive/ or failed/); whether
        it was moved now."""
        if job.status is JobStatus.COMPLETED:
            return self.disposal.completed(job)
        return self.disposal.failed(job, InboxError(job.error or ""))

    def _taken_back(self, job: Job) -> None:
        """A source failed as incomplete was still being copied: its failure is forgotten,
        and the book is read again once the copy ends."""
        self.store.remove(job)

    def _follow(self, job: Job, original: Job) -> None:
        log.info("job %s: %s is the same book and settings as job %s (%s); it shares that audiobook",
                 job.job_id, shown_name(job.source), original.job_id, original.output_file or original.status)
        job.follow(original)

    def _resume_jobs(self) -> None:
        """Jobs left queued or processing by a stop or a crash go on from their checkpoints."""
        for job in self.store.active():
            _guarded(self._resume, job)

    def _resume(self, job: Job) -> None:
        if job.duplicate_of:
            original = self.store.get(job.duplicate_of)
            if original is not None and original.status is not JobStatus.CANCELLED:
                self._mark_taken(job)
                self._follow(job, original)
                return
            job.duplicate_of = None  # its original is gone: it becomes a job of its own
        shape = self.runner.scheduler.executor.shape()
        try:
            request = self.intake.resume_request(job, shape.parallelism, shape.segment_chars)
        except InboxError as error:
            self._not_resumed(job, error)
            return
        except OSError as error:
            if not transient(error):
                raise
            self._resume_later(job, error.strerror or str(error))
            return
        self._mark_taken(job)
        self._reading[("resume", job.job_id)] = job
        self.reader.submit(("resume", job.job_id), request)

    def _resume_later(self, job: Job, why: str) -> None:
        log.warning("job %s: cannot read %s now (%s); trying again in %.0f s", job.job_id,
                    shown_name(job.source), why, LOOK_AGAIN)
        self._resume_at[job.job_id] = (time.monotonic() + LOOK_AGAIN, job)

    def _resume_due(self) -> None:
        now = time.monotonic()
        for job_id, (when, job) in list(self._resume_at.items()):
            if when <= now:
                del self._resume_at[job_id]
                _guarded(self._resume, job)

    def _resumed(self, job: Job, outcome: ReadOutcome) -> None:
        """A resumed job's book, read again: it goes back in the queue, if it is still that book."""
        if isinstance(outcome.error, TryLater):
            self._resume_later(job, outcome.error.message)
            return
        if outcome.error is not None or outcome.book is None:
            self._not_resumed(job, outcome.error or InboxError("the book could not be read again"))
            return
        prepared = outcome.book.prepared
        if job.source_sha256 and prepared.source_sha256 != job.source_sha256:
            self._not_resumed(job, InboxError(
                f"{shown_name(job.source)} was replaced by another file before it was converted; the new "
                "file is converted as a book of its own"))
            self.watcher.forget(self.paths.inbox / job.source)
            return
        job.source_identity = outcome.book.identity  # a network mount may have renumbered it
        job.describe(prepared, job_fingerprint(prepared))  # with the settings it is read with now
        self.runner.enqueue(job, prepared, outcome.book.segments)
        job.requeue()
        log.info("job %s: resuming %s", job.job_id, shown_name(job.source))

    def _not_resumed(self, job: Job, error: InboxError) -> None:
        discard_leftovers(self.paths.outbox, job.job_id)
        self._fail(job, error)

    def _mark_taken(self, job: Job) -> None:
        self.watcher.mark_taken(self.paths.inbox / job.source)

    def _sweep_tickets(self) -> None:
        now = time.monotonic()
        if now < self._next_ticket_sweep:
            return
        self._next_ticket_sweep = now + self.config.rescan_seconds
        for job_id in self.mailbox.drop_stale_tickets(self.paths.inbox):
            log.warning("job %s: the upload never reached the inbox; its ticket was dropped", job_id)

    # ------------------------------------------------------------------ endings

    def _started(self, job: Job) -> None:
        self.notifications.announce("started", job.record())

    def _ended(self, job: Job, result: ConversionResult | None, error: InboxError | None) -> None:
        """The runner's word on a book: completed (the record says so already), or failed."""
        if error is not None:
            self._fail(job, error)
            return
        assert result is not None
        log.info("job %s: completed %s (%.0f s of audio in %.0f s)", job.job_id, job.output_file,
                 result.audio_seconds, result.seconds)
        self.notifications.announce("completed", job.record())

    def _fail(self, job: Job, error: InboxError) -> None:
        """A job fails (or is cancelled), with a log line and, for a failure, a notification."""
        job.fail(error)
        log.error("job %s: %s %s: %s", job.job_id, job.status, job.source, error.message)
        if job.status is JobStatus.FAILED:  # a cancel is the user's own doing: nobody needs telling
            self.notifications.announce("failed", job.record())

    def _leave_inbox(self, job: Job, error: InboxError | None) -> None:
        """An ending job's source leaves the inbox as its ending says (archive/ or failed/),
        before its status says so (``JobStore.before_ending``)."""
        if error is None:
            self.disposal.completed(job)
        else:
            self.disposal.failed(job, error)

    # ------------------------------------------------------------------ cancel

    def cancel(self, job_id: str) -> bool:
        """Cancel a queued or processing job: its checkpoints go, its source to failed/."""
        job = self.runner.cancel(job_id) or self._active_follower(job_id) or self._unread(job_id)
        if job is None:
            if self.mailbox.cancel_upload(job_id):
                log.info("job %s: cancelled before its upload was taken", job_id)
                return True
            log.info("job %s: nothing to cancel (not queued or processing)", job_id)
            return False
        self._fail(job, Cancelled("cancelled at the user's request"))
        self._promote_followers(job)
        return True

    def _unread(self, job_id: str) -> Job | None:
        """A resumed job whose book has not been read again yet: taken from the reader."""
        job = self._reading.pop(("resume", job_id), None)
        if isinstance(job, Job):
            self.reader.cancel(("resume", job_id))
            return job
        waiting = self._resume_at.pop(job_id, None)
        return waiting[1] if waiting else None

    def _active_follower(self, job_id: str) -> Job | None:
        job = self.store.get(job_id)
        return job if job is not None and job.duplicate_of and job.status.active else None

    def _promote_followers(self, cancelled: Job) -> None:
        """Someone cancelled a book others are waiting for: the first of them now converts it."""
        followers = [f for f in self.store.followers(cancelled.job_id) if f.status.active]
        if not followers:
            return
        first, *rest = followers
        first.lead()
        for follower in rest:
            follower.follow(first)
        self._resume(first)
        first.save()

    # ------------------------------------------------------------------ reporting

    def _state(self) -> DaemonState:
        current = self.runner.current()
        run = current.run if current else None
        return DaemonState(
            watcher=f"paused: {self.watcher.paused_reason}" if self.watcher.paused_reason
            else ("alive" if self.watcher.alive() else "stopped"),
            pool=self.runner.scheduler.problem() or "alive",
            workers=self.runner.scheduler.executor.shape().parallelism, queue=len(self.runner.queue),
            waiting=self.runner.waiting(),
            current_job=current.job.job_id if current else None,
            current_source=current.job.source if current else None,
            current_progress=current.job.progress if current else 0.0,
            chars_per_second=run.tracker.rate() if run else 0.0,
            paused_reason=self.watcher.paused_reason,
        )


def _startup_error(error: BaseException) -> BaseException:
    """Every start-up failure as one sentence (exit 2), the model's absence as exit 3."""
    if isinstance(error, (StartupError, ModelMissing, KeyboardInterrupt, SystemExit)):
        return error
    if isinstance(error, InboxError):
        return StartupError(error.message)
    if isinstance(error, OSError):
        where = f" ({error.filename})" if error.filename else ""
        return StartupError(f"cannot start: {error.strerror or error}{where}")
    log.debug("start-up failed", exc_info=error)
    return StartupError(f"cannot start: internal error {error!r}; run with -v for details")


def _guarded(handle: Callable[[object], None], item: object) -> bool:
    """One entry's trouble is logged and stays that entry's: the loop goes on.  False when it
    failed, so the caller can offer the entry again later."""
    try:
        handle(item)
    except Exception:
        log.exception("unexpected error handling %s; going on with the others", item)
        return False
    return True


def run_service(config: Config, engine_kind: EngineKind = EngineKind.KOKORO) -> int:
    """The daemon on the executor the config names: local worker processes or a Dask scheduler."""
    return Service(config, make_executor(config, engine_kind)).run()
