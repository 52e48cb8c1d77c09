"""The jobs being converted: a queue in arrival order, on the one shared scheduler.

Two books run at a time (the current one and the next), so no worker idles
while one book's last segments finish; the next one says "processing" only once
its first segment is handed to a worker.  A book starts only when the disks have
room for its checkpoints and its audiobook (daemon/space.py); until then it
waits, and its status says why.  Progress, ETA and chapter times go to the
status file at most once a second.  When a book ends, ``on_end`` hears of it;
the runner itself never fails or moves anything.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .converter import BookRun, ConversionResult, PreparedBook, Progress
from . import library
from .errors import InboxError
from .files import shown_name
from .library import Placement
from .scheduler import RunEvent, Scheduler
from .space import Need, estimate, shortfall
from .spoken import Segment
from .status import Job, JobStatus, utc_now

log = logging.getLogger(__name__)

RUNNING_BOOKS = 2
SPACE_CHECK = 10.0  # seconds between looks at the disks while a book waits for space

SaveJob = Callable[[Job, bool], None]  # (job, progress_only)
OnEnd = Callable[[Job, "ConversionResult | None", "InboxError | None"], None]


@dataclass
class ActiveBook:
    job: Job
    prepared: PreparedBook
    segments: tuple[Segment, ...] = ()  # the speech cut by the book reader (empty: cut at start)
    run: BookRun | None = None
    placement: Placement | None = None  # where its audio is written (daemon/library.py)

    def need(self) -> Need:
        """What the rest of this book will take on disk."""
        settings = self.prepared.settings
        left = max(0, self.job.chars_total - self.job.chars_done) if self.run else self.prepared.chars_total
        return estimate(left, settings.speed, settings.bitrate)


class JobRunner:
    def __init__(self, scheduler: Scheduler, outbox: Path, processing: Path,
                 save: SaveJob, on_end: OnEnd) -> None:
        self.scheduler = scheduler
        self.outbox = outbox
        self.processing = processing
        self.save = save
        self.on_end = on_end
        self.queue: dict[str, ActiveBook] = {}  # job id -> queued or converting, in arrival order
        self.on_start: Callable[[Job], None] | None = None  # told when a book starts converting
        self._space_checked = float("-inf")

    def enqueue(self, job: Job, prepared: PreparedBook, segments: tuple[Segment, ...] = ()) -> None:
        self.queue[job.job_id] = ActiveBook(job, prepared, segments)

    def step(self, timeout: float) -> None:
        self._start_next()
        for event in self.scheduler.step(timeout):
            self._ended(event)
        self._mark_reading()

    def cancel(self, job_id: str) -> Job | None:
        """Take a job out of the queue, dropping its checkpoints; None if it is not here."""
        active = self.queue.pop(job_id, None)
        if active is None:
            return None
        if active.run is not None:
            self.scheduler.remove(active.run)
            active.run.abort(keep_checkpoints=False)
        library.discard_leftovers(self.outbox, job_id)  # started now or before a restart
        return active.job

    def shut_down(self) -> None:
        """Stop every book, keeping finished checkpoints, and stop the workers."""
        for active in self.queue.values():
            if active.run is not None:
                self.scheduler.remove(active.run)
                active.run.abort(keep_checkpoints=True)
        self.scheduler.close()

    def current(self) -> ActiveBook | None:
        return next((a for a in self.queue.values() if a.run is not None), None)

    def waiting(self) -> int:
        return sum(1 for a in self.queue.values() if a.run is None)

    # ------------------------------------------------------------------ internals

    def _start_next(self) -> None:
        running = [a for a in self.queue.values() if a.run is not None]
        for active in list(self.queue.values()):
            if len(running) >= RUNNING_BOOKS:
                return
            if active.run is None:
                if not self._room_for(active, running):
                    return  # books start in order: the next waits with this one
                self._start(active)
                running.append(active)

    def _room_for(self, active: ActiveBook, running: list[ActiveBook]) -> bool:
        """Whether the disks hold this book beside what the running ones still need; a book
        that does not fit waits, and its status says why (looked at every SPACE_CHECK s)."""
        if active.job.waiting and time.monotonic() - self._space_checked < SPACE_CHECK:
            return False
        self._space_checked = time.monotonic()
        problem = shortfall([active.need(), *(a.need() for a in running)], self.processing, self.outbox)
        if problem != active.job.waiting:
            active.job.waiting = problem
            if problem:
                log.warning("job %s: %s", active.job.job_id, problem)
            else:
                log.info("job %s: there is disk space for it now", active.job.job_id)
            self.save(active.job, False)
        return problem is None

    def _mark_reading(self) -> None:
        """A started book says "processing" once a worker has its first segment, not while it
        waits behind the book before it."""
        for active in self.queue.values():
            run = active.run
            if run is not None and active.job.status is JobStatus.QUEUED and \
                    (len(run.pending) < len(run.segments) - run.resumed or run.complete):
                job = active.job
                first_time = job.started_at is None  # not a book resumed after a restart
                job.status, job.started_at = JobStatus.PROCESSING, job.started_at or utc_now()
                self.save(job, False)
                log.info("job %s: converting %s", job.job_id, shown_name(job.source))
                if self.on_start is not None and first_time:
                    self.on_start(job)

    def _start(self, active: ActiveBook) -> None:
        job = active.job
        shape = self.scheduler.executor.shape()  # a cluster's size when this book starts
        active.placement = library.place(self.outbox, job.stem, active.prepared, job.job_id)
        try:
            active.run = BookRun(active.prepared, active.placement.audio(".mp3"),
                                 self.processing / job.job_id, shape.parallelism,
                                 on_progress=lambda progress: self._progress(active, progress),
                                 label=f"job {job.job_id}", segment_chars=shape.segment_chars,
                                 own_folder=active.placement.staged, planned=active.segments or None)
        except InboxError as error:
            del self.queue[job.job_id]
            library.discard(active.placement)
            self.on_end(job, None, error)
            return
        active.segments = ()  # the run has them now
        self.scheduler.add(active.run)

    def _progress(self, active: ActiveBook, progress: Progress) -> None:
        job = active.job
        job.chars_done, job.chars_total = progress.chars_done, progress.chars_total
        job.progress = round(min(progress.percent, 99.9), 1)
        job.audio_seconds = round(progress.audio_seconds, 1)
        job.eta_seconds = round(progress.eta_seconds) if progress.eta_seconds is not None else None
        if active.run is not None:
            job.chapters = active.run.tracker.chapter_states()
        self.save(job, True)

    def _ended(self, event: RunEvent) -> None:
        active = next((a for a in self.queue.values() if a.run is event.run), None)
        if active is None:
            return
        job = active.job
        del self.queue[job.job_id]
        result, error = self._published(active, event)
        if result is not None:
            job.status, job.progress, job.finished_at = JobStatus.COMPLETED, 100.0, utc_now()
            job.output_file = result.output.relative_to(self.outbox).as_posix()
            job.output_files = [path.relative_to(self.outbox).as_posix() for path in result.outputs]
            job.chars_done, job.eta_seconds = job.chars_total, 0
            job.audio_seconds = round(result.audio_seconds, 1)
            job.chapters = event.run.tracker.chapter_states()  # every chapter written: all done
        self.on_end(job, result, error)

    def _published(self, active: ActiveBook, event: RunEvent) -> tuple[ConversionResult | None,
                                                                         InboxError | None]:
        """The finished audio moved to where the layout puts it (a library folder gets its
        cover and metadata first); a failed book's staging folder goes."""
        assert active.placement is not None
        if event.result is None:
            library.discard(active.placement)
            return None, event.error
        try:
            result = library.publish(active.placement, active.prepared, event.result)
        except InboxError as error:
            library.discard(active.placement)
            return None, error
        if active.placement.staged:
            log.info("job %s: filed in the library as %s", active.job.job_id,
                     result.output.parent.relative_to(self.outbox))
        return result, None
