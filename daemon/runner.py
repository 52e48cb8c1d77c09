"""The jobs being converted: a queue in arrival order, on the one shared scheduler.

Two books run at a time (the current one and the next), so no worker idles
while one book's last segments finish.  Progress, ETA and chapter times go to
the status file at most once a second.  When a book ends, ``on_end`` hears of
it; the runner itself never fails or moves anything.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .converter import BookRun, ConversionResult, PreparedBook, Progress
from . import library
from .errors import InboxError
from .library import Placement
from .scheduler import RunEvent, Scheduler
from .status import Job, JobStatus, utc_now

log = logging.getLogger(__name__)

RUNNING_BOOKS = 2

SaveJob = Callable[[Job, bool], None]  # (job, progress_only)
OnEnd = Callable[[Job, "ConversionResult | None", "InboxError | None"], None]


@dataclass
class ActiveBook:
    job: Job
    prepared: PreparedBook
    run: BookRun | None = None
    placement: Placement | None = None  # where its audio is written (daemon/library.py)


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

    def enqueue(self, job: Job, prepared: PreparedBook) -> None:
        self.queue[job.job_id] = ActiveBook(job, prepared)

    def step(self, timeout: float) -> None:
        self._start_next()
        for event in self.scheduler.step(timeout):
            self._ended(event)

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
        running = sum(1 for a in self.queue.values() if a.run is not None)
        for active in list(self.queue.values()):
            if running >= RUNNING_BOOKS:
                return
            if active.run is None:
                self._start(active)
                running += 1

    def _start(self, active: ActiveBook) -> None:
        job = active.job
        shape = self.scheduler.executor.shape()  # a cluster's size when this book starts
        active.placement = library.place(self.outbox, job.stem, active.prepared, job.job_id)
        try:
            active.run = BookRun(active.prepared, active.placement.audio(".mp3"),
                                 self.processing / job.job_id, shape.parallelism,
                                 on_progress=lambda progress: self._progress(active, progress),
                                 label=f"job {job.job_id}", segment_chars=shape.segment_chars,
                                 own_folder=active.placement.staged)
        except InboxError as error:
            del self.queue[job.job_id]
            library.discard(active.placement)
            self.on_end(job, None, error)
            return
        job.status, job.started_at = JobStatus.PROCESSING, job.started_at or utc_now()
        self.save(job, False)
        self.scheduler.add(active.run)
        log.info("job %s: converting %s", job.job_id, job.source)
        if self.on_start is not None:
            self.on_start(job)

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
