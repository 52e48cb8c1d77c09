"""The jobs being converted: a queue in arrival order, on the one shared scheduler.

Two books run at a time (the current one and the next), so no worker idles
while one book's last segments finish; the next one says "processing" only once
its first segment is handed to a worker.  A book starts only when the disks have
room for its checkpoints and its audiobook (daemon/service/space.py); until then it
waits, and its status says why.  Each book goes through the conversion pipeline
that ``kokoro-inbox convert`` uses too (``converter.Conversion``).  The runner
tells the job record what happens (``Job.start``, ``advance``, ``complete``);
``on_start`` and ``on_end`` hear of a start and an ending, and a failed book is
the service's to fail (it fails refused and cancelled books the same way).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from daemon.converter import (
    BookRun,
    Conversion,
    ConversionResult,
    PreparedBook,
    Progress,
    discard_leftovers,
    place,
)
from daemon.errors import InboxError
from daemon.files import shown_name
from daemon.speech.spoken import Segment
from daemon.status import Job, JobStatus

from .scheduler import RunEvent, Scheduler
from .space import Need, estimate, shortfall

log = logging.getLogger(__name__)

RUNNING_BOOKS = 2
SPACE_CHECK = 10.0  # seconds between looks at the disks while a book waits for space

OnStart = Callable[[Job], None]  # a book's first start ever
OnEnd = Callable[[Job, "ConversionResult | None", "InboxError | None"], None]


@dataclass
class ActiveBook:
    job: Job
    prepared: PreparedBook
    segments: tuple[Segment, ...] = ()  # the speech cut by the book reader (empty: cut at start)
    conversion: Conversion | None = None  # once started

    @property
    def run(self) -> BookRun | None:
        return self.conversion.run if self.conversion else None

    def need(self) -> Need:
        """What the rest of this book will take on disk."""
        settings = self.prepared.settings
        left = max(0, self.job.chars_total - self.job.chars_done) if self.run else self.prepared.chars_total
        return estimate(left, settings.speed, settings.bitrate)


class JobRunner:
    def __init__(self, scheduler: Scheduler, outbox: Path, processing: Path,
                 on_start: OnStart, on_end: OnEnd) -> None:
        self.scheduler = scheduler
        self.outbox = outbox
        self.processing = processing
        self.on_start = on_start
        self.on_end = on_end
        self.queue: dict[str, ActiveBook] = {}  # job id -> queued or converting, in arrival order
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
        discard_leftovers(self.outbox, job_id)  # started now or before a restart
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
            if problem:
                log.warning("job %s: %s", active.job.job_id, problem)
            else:
                log.info("job %s: there is disk space for it now", active.job.job_id)
            active.job.note_waiting(problem)
        return problem is None

    def _mark_reading(self) -> None:
        """A started book says "processing" once a worker has its first segment, not while it
        waits behind the book before it."""
        for active in self.queue.values():
            run = active.run
            if run is not None and active.job.status is JobStatus.QUEUED and \
                    (len(run.pending) < len(run.segments) - run.resumed or run.complete):
                job = active.job
                first_time = job.start()
                log.info("job %s: converting %s", job.job_id, shown_name(job.source))
                if first_time:
                    self.on_start(job)

    def _start(self, active: ActiveBook) -> None:
        job = active.job
        shape = self.scheduler.executor.shape()  # a cluster's size when this book starts
        placement = place(self.outbox, job.stem, active.prepared, job.job_id)
        try:
            active.conversion = Conversion(active.prepared, placement, self.processing / job.job_id, shape,
                                           on_progress=lambda progress: self._progress(active, progress),
                                           label=f"job {job.job_id}", planned=active.segments or None)
        except InboxError as error:
            del self.queue[job.job_id]
            self.on_end(job, None, error)
            return
        active.segments = ()  # the run has them now
        self.scheduler.add(active.conversion.run)

    def _progress(self, active: ActiveBook, progress: Progress) -> None:
        run = active.run
        active.job.advance(progress, run.tracker.chapter_states() if run is not None else None)

    def _ended(self, event: RunEvent) -> None:
        active = next((a for a in self.queue.values() if a.run is event.run), None)
        if active is None:
            return
        job = active.job
        del self.queue[job.job_id]
        assert active.conversion is not None
        try:
            result = active.conversion.finish(event.result, event.error)
        except InboxError as error:
            self.on_end(job, None, error)
            return
        if active.conversion.placement.staged:
            log.info("job %s: filed in the library as %s", job.job_id, result.output.parent.relative_to(self.outbox))
        job.complete(result, event.run.tracker.chapter_states())  # every chapter written: all done
        self.on_end(job, result, None)
