"""A job's life, as methods of its record (``status.Job``), as in rq's ``Job``.

``start``, ``advance`` (progress), ``complete``, ``fail`` (a cancel is a failure with
``Cancelled``), ``requeue``, ``follow`` and ``lead``: each makes its state change and
then the one status write, through the store the job belongs to (``status.JobStore``,
seen here as a ``Recorder``).  Only the daemon's main thread calls them.

A *follower* (the same book and settings as a job already here) is a view of its
original while both are active: its status file shows the original's state and
progress (``MIRRORED``), written with the original's.  When the original ends, the
follower ends with it and keeps what it showed; a cancelled original's followers do
not end, one of them leads.
"""

from __future__ import annotations

import enum
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .errors import Cancelled, InboxError

if TYPE_CHECKING:
    from .converter import ConversionResult, PreparedBook, Progress


class JobStatus(str, enum.Enum):
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        return self.value

    @property
    def active(self) -> bool:
        return self in (JobStatus.QUEUED, JobStatus.PROCESSING)


ACTIVE = (JobStatus.QUEUED, JobStatus.PROCESSING)
ENDED = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


# What a follower shows of its original: the state of the conversion, not its own file's names.
MIRRORED = ("status", "progress", "output_file", "output_files", "error", "error_code", "title", "author", "chapters",
            "chars_total", "chars_done", "audio_seconds", "eta_seconds", "started_at", "finished_at")


class Recorder(Protocol):
    """What a job's life needs of its store: where the outbox is, and its status writes."""

    outbox: Path

    def changed(self, job: Any) -> None: ...

    def progressed(self, job: Any) -> None: ...

    def ended(self, job: Any, error: InboxError | None) -> None: ...

    def viewers(self, job: Any) -> list[Any]: ...


class JobLife:
    """The life methods of ``status.Job`` (no fields here: the record's fields are Job's)."""

    # Not fields: the store that writes this record (Recorder | None), and the job this one
    # shows while it follows it (Job | None).
    _store = None
    _original = None

    def save(self) -> None:
        """Write the record as it is now (a field changed outside the job's life: where its
        source went, a new identity)."""
        self._written()

    def describe(self, prepared: "PreparedBook", key: str) -> None:
        """What the job converts, as the book was read with its settings (not yet written):
        when it is taken, and again when a job resumed after a restart reads its book anew,
        whose sidecar or folder.yaml may have changed meanwhile (its checkpoints are kept
        when only the bitrate, format, title or layout did)."""
        self.job_key = key
        self.settings = prepared.settings.as_record()
        self.title, self.author = prepared.title, prepared.author
        self.chars_total = prepared.chars_total
        self.chapters = [{"index": c.index, "title": c.title, "chars": c.chars, "status": "queued"}
                         for c in prepared.chapters]

    def requeue(self) -> None:
        """Back in the queue (a job resumed after a restart): "queued" until a worker has its
        first segment again."""
        self.status = JobStatus.QUEUED
        self._written()

    def note_waiting(self, reason: str | None) -> None:
        """Why a queued book has not started (no disk space for it), or None: it may start."""
        self.waiting = reason
        self._written()

    def start(self) -> bool:
        """A worker has the book's first segment; whether this is its first start ever (not a
        book resumed after a restart)."""
        first_time = self.started_at is None
        self.status, self.started_at = JobStatus.PROCESSING, self.started_at or utc_now()
        self._written()
        return first_time

    def advance(self, progress: "Progress", chapters: list[dict[str, Any]] | None) -> None:
        """Progress, ETA and chapter times; written at most once a second (PROGRESS_INTERVAL).
        (Not named ``progress``: that is the record's percentage field.)"""
        self.chars_done, self.chars_total = progress.chars_done, progress.chars_total
        self.progress = round(min(progress.percent, 99.9), 1)
        self.audio_seconds = round(progress.audio_seconds, 1)
        self.eta_seconds = round(progress.eta_seconds) if progress.eta_seconds is not None else None
        if chapters is not None:
            self.chapters = chapters
        self._store_of().progressed(self)

    def complete(self, result: "ConversionResult", chapters: list[dict[str, Any]]) -> None:
        """The audiobook is in place (``result``'s paths are inside the outbox); its followers
        complete with it."""
        outbox = self._store_of().outbox
        self.status, self.progress, self.finished_at = JobStatus.COMPLETED, 100.0, utc_now()
        self.output_file = result.output.relative_to(outbox).as_posix()
        self.output_files = [path.relative_to(outbox).as_posix() for path in result.outputs]
        self.chars_done, self.eta_seconds = self.chars_total, 0
        self.audio_seconds = round(result.audio_seconds, 1)
        self.chapters = chapters  # every chapter written: all done
        self._store_of().ended(self, None)

    def fail(self, error: InboxError) -> None:
        """The one place an error becomes a job's status: the sentence, its code, the end time.
        ``Cancelled`` cancels; followers fail with their original, but a cancelled original's
        followers stay queued, to be led by one of them (``lead``)."""
        self._stop_following()
        if isinstance(error, Cancelled):
            for follower in self._store_of().viewers(self):
                follower._stop_following()
        self.status = JobStatus.CANCELLED if isinstance(error, Cancelled) else JobStatus.FAILED
        self.error, self.error_code = error.message, error.code
        self.finished_at, self.eta_seconds = utc_now(), None
        self._store_of().ended(self, error)

    def follow(self, original: "JobLife") -> None:
        """Become a view of ``original`` (the same book and settings); a completed original's
        audiobook is this job's at once, and it ends now."""
        self.duplicate_of = original.job_id
        self._original = original
        if original.status is JobStatus.COMPLETED:
            self._stop_following()
            self._store_of().ended(self, None)
            return
        if not original.status.active:
            self._stop_following()  # an original that failed before a restart: so does this one
        self._written()

    def lead(self) -> None:
        """A follower whose original was cancelled converts the book itself, from the start."""
        self._stop_following()
        self.duplicate_of = None
        self.status, self.progress, self.error, self.error_code = JobStatus.QUEUED, 0.0, None, None

    @property
    def following(self) -> "JobLife | None":
        """The active original this job shows, while it shows one."""
        return self._original

    def _stop_following(self) -> None:
        """Keep what the original showed as this job's own record (it ends, or leads)."""
        original, self._original = self._original, None
        if original is not None:
            for name in MIRRORED:
                setattr(self, name, getattr(original, name))

    def _written(self) -> None:
        self._store_of().changed(self)

    def _store_of(self) -> Recorder:
        if self._store is None:
            raise RuntimeError(f"job {self.job_id} belongs to no store")
        return self._store
