"""The job record and its status file: the one place job state is written.

Every change goes through ``JobStore.save``, which writes ``outbox/<stem>.json``
atomically (temporary file in the same folder, fsync, ``os.replace``), so a
reader never sees half a file.  Only the daemon's main thread calls it; workers
return results.  At start-up the index is rebuilt from the status files, so
the outbox is the only state there is.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from .files import atomic_write_bytes, free_name

log = logging.getLogger(__name__)

QUEUED, PROCESSING, COMPLETED, FAILED, CANCELLED = "queued", "processing", "completed", "failed", "cancelled"
ACTIVE = (QUEUED, PROCESSING)
PROGRESS_INTERVAL = 1.0  # progress-only writes at most this often per job


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class Job:
    job_id: str
    status: str
    source: str  # relative to the inbox
    source_sha256: str
    settings: dict[str, Any]
    status_file: str  # relative to the outbox
    job_key: str  # same content and settings -> same key
    progress: float = 0.0
    output_file: str | None = None
    error: str | None = None
    error_code: str | None = None
    title: str | None = None
    author: str | None = None
    chapters: list[dict[str, Any]] = field(default_factory=list)
    chars_total: int = 0
    chars_done: int = 0
    audio_seconds: float = 0.0
    eta_seconds: float | None = None
    sidecar: str | None = None  # relative to the inbox
    created_at: str = field(default_factory=utc_now)
    started_at: str | None = None
    finished_at: str | None = None
    updated_at: str = field(default_factory=utc_now)

    @property
    def stem(self) -> str:
        return self.status_file[: -len(".json")]

    def record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> "Job":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def atomic_write_json(path: Path, data: dict[str, Any]) -> None:
    """The one way a status file (or any JSON the daemon shares) is written."""
    atomic_write_bytes(path, json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8"))


def status_files(outbox: Path) -> Iterator[Path]:
    """Every status file under the outbox (temporary and hidden files left out)."""
    for folder, dirs, files in os.walk(outbox):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.endswith(".json") and not name.startswith("."):
                yield Path(folder) / name


class JobStore:
    """All jobs, indexed by id and by key, backed by the status files in the outbox."""

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox
        self.jobs: dict[str, Job] = {}
        self._last_write: dict[str, float] = {}

    def load(self) -> int:
        """Rebuild the index from the outbox; returns the number of jobs found."""
        for path in status_files(self.outbox):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                job = Job.from_record(data)
            except (OSError, ValueError, TypeError) as error:
                log.warning("ignoring unreadable status file %s: %s", path, error)
                continue
            job.status_file = path.relative_to(self.outbox).as_posix()
            self.jobs[job.job_id] = job
        return len(self.jobs)

    def get(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def by_key(self, key: str, statuses: tuple[str, ...]) -> Job | None:
        return next((j for j in self.jobs.values() if j.job_key == key and j.status in statuses), None)

    def active(self) -> list[Job]:
        """Queued and processing jobs, oldest first."""
        return sorted((j for j in self.jobs.values() if j.status in ACTIVE), key=lambda j: j.created_at)

    def allocate_stem(self, relative_stem: str) -> str:
        """A status-file name no other job has: 'Book', else 'Book (2)', 'Book (3)', ..."""
        stems = {j.stem for j in self.jobs.values()}

        def taken(status_file: Path) -> bool:
            stem = status_file.relative_to(self.outbox).with_suffix("").as_posix()
            return stem in stems or status_file.exists() or status_file.with_suffix(".mp3").exists()

        chosen = free_name(self.outbox / f"{relative_stem}.json", taken)
        return chosen.relative_to(self.outbox).with_suffix("").as_posix()

    def create(self, job_id: str | None = None, **fields: Any) -> Job:
        """A new queued job in the index; the caller saves it once it is filled in."""
        job = Job(job_id=job_id or str(uuid.uuid4()), status=QUEUED, **fields)
        self.jobs[job.job_id] = job
        return job

    def save(self, job: Job, progress_only: bool = False) -> None:
        """Write the job's status file; progress-only updates are throttled."""
        now = time.monotonic()
        if progress_only and now - self._last_write.get(job.job_id, 0.0) < PROGRESS_INTERVAL:
            return
        self._last_write[job.job_id] = now
        job.updated_at = utc_now()
        path = self.outbox / job.status_file
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, job.record())
