"""The clean-up policy: what ended jobs left behind goes after the days the config says.

``retention:`` has four keys, each off (null) unless set: the audiobooks of
completed jobs (``outputs_days``), their sources in archive/ (``archive_days``),
failed and cancelled jobs' sources in failed/ (``failed_days``), and ended jobs'
status files (``status_days``).  Ages count from when a job ended.  The daemon
looks once at start-up and then once a day.

It works from the job records, never from a folder listing: only files a job
recorded as its own are removed (an audiobook shared by duplicates goes only
when every job that shares it is old enough), nothing of a queued or running
job is touched, and every path must resolve inside its folder, so a status file
or a link planted in the outbox cannot point the clean-up anywhere else.  Each
removal is logged with its job's id.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from daemon.audio.library import LIBRARY_FILES
from daemon.config import Paths, Retention
from daemon.settings import SIDECAR_SUFFIXES
from daemon.status import ENDED, Job, JobStatus, JobStore, audio_files, utc_now

log = logging.getLogger(__name__)

EVERY = 24 * 3600.0  # seconds between looks


@dataclass(frozen=True)
class Removal:
    job: Job
    what: str  # outputs | archive | failed | status


def due(jobs: list[Job], policy: Retention, now: datetime) -> list[Removal]:
    """What the policy removes now: pure, from the records alone."""
    removals: list[Removal] = []
    ended = [j for j in jobs if j.status in ENDED and _ended_at(j) is not None]
    sharing: dict[str, list[Job]] = {}
    for job in jobs:
        if job.output_file:
            sharing.setdefault(job.output_file, []).append(job)
    for job in ended:
        age = now - _ended_at(job)  # type: ignore[operator]
        if _older(age, policy.outputs_days) and job.status is JobStatus.COMPLETED and job.output_file \
                and not job.duplicate_of and job.outputs_removed_at is None \
                and all(_old_enough(other, policy.outputs_days, now) for other in sharing[job.output_file]):
            removals.append(Removal(job, "outputs"))
        days = policy.archive_days if job.status is JobStatus.COMPLETED else policy.failed_days
        if job.moved_to and _older(age, days):
            removals.append(Removal(job, "archive" if job.status is JobStatus.COMPLETED else "failed"))
        if _older(age, policy.status_days):
            removals.append(Removal(job, "status"))
    return removals


def _ended_at(job: Job) -> datetime | None:
    try:
        return datetime.fromisoformat((job.finished_at or "").replace("Z", "+00:00"))
    except ValueError:
        return None


def _older(age: timedelta, days: float | None) -> bool:
    return days is not None and age >= timedelta(days=days)


def _old_enough(job: Job, days: float | None, now: datetime) -> bool:
    ended = _ended_at(job) if job.status in ENDED else None
    return ended is not None and _older(now - ended, days)


class RetentionPolicy:
    """Applies ``due`` for the daemon: at start-up, then once a day."""

    def __init__(self, policy: Retention, paths: Paths, store: JobStore) -> None:
        self.policy = policy
        self.paths = paths
        self.store = store
        self._next = 0.0

    def run_if_due(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if not self.policy.enabled or now < self._next:
            return
        self._next = now + EVERY
        self.run(datetime.now(timezone.utc))

    def run(self, now: datetime) -> int:
        """Remove what is due; returns how many removals were made."""
        removals = due(list(self.store.jobs.values()), self.policy, now)
        done = sum(self._apply(removal) for removal in removals)
        if removals:
            log.info("retention: %d of %d removals done (see the lines above)", done, len(removals))
        return done

    def _apply(self, removal: Removal) -> bool:
        job = removal.job
        try:
            if removal.what == "outputs":
                self._remove_outputs(job)
            elif removal.what in ("archive", "failed"):
                self._remove_source(job, self.paths.archive if removal.what == "archive" else self.paths.failed)
            else:
                self.store.remove(job)
                log.info("job %s: retention: its status file %s removed", job.job_id, job.status_file)
        except (OSError, ValueError) as error:
            log.warning("job %s: retention: cannot remove its %s: %s", job.job_id, removal.what, error)
            return False
        return True

    def _remove_outputs(self, job: Job) -> None:
        outbox = self.paths.outbox
        folders = set()
        for name in audio_files(job.record()):
            path = _inside(outbox, name)
            if path is not None:
                path.unlink(missing_ok=True)
                folders.add(path.parent)
        for folder in folders:
            _remove_library_folder(folder, outbox)
        for each in [job, *self.store.followers(job.job_id)]:
            each.output_file, each.output_files, each.outputs_removed_at = None, [], utc_now()
            self.store.save(each)
        log.info("job %s: retention: its audiobook %s removed", job.job_id, job.status_file[:-5])

    def _remove_source(self, job: Job, root: Path) -> None:
        assert job.moved_to is not None
        book = _inside(root, job.moved_to)
        if book is None:
            return
        stem = book.name.rsplit(".", 1)[0]
        for path in [book, *(book.with_name(stem + s) for s in SIDECAR_SUFFIXES),
                     book.with_name(f"._{book.name}")]:
            path.unlink(missing_ok=True)
        job.moved_to = None
        self.store.save(job)
        log.info("job %s: retention: its source %s removed from %s", job.job_id, book.name, root)


def _inside(root: Path, relative: str) -> Path | None:
    """``root/relative`` when its folder really lies inside ``root`` (links resolved), else None."""
    path = root / relative
    if ".." in Path(relative).parts or Path(relative).is_absolute():
        return None
    real_root = os.path.realpath(root)
    real_folder = os.path.realpath(path.parent)
    if real_folder != real_root and not real_folder.startswith(real_root + os.sep):
        log.warning("retention: %s leads out of %s; left alone", relative, root)
        return None
    return path


def _remove_library_folder(folder: Path, outbox: Path) -> None:
    """A book folder left with only its cover and metadata goes, and so do its empty parents."""
    while folder != outbox and outbox in folder.parents:
        try:
            names = os.listdir(folder)
        except OSError:
            return
        if any(name not in LIBRARY_FILES for name in names):
            return
        for name in names:
            (folder / name).unlink(missing_ok=True)
        folder.rmdir()
        folder = folder.parent
