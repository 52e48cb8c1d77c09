"""The job record and its status file: the one place job state is written.

A job's life is methods of its record (``Job``, from daemon/job_life.py: ``start``,
``advance``, ``complete``, ``fail``, ``requeue``, ``follow``, ``lead``).  Each makes
its state change and then the one status write through its store: every status file
is written by ``JobStore._write``, which writes ``outbox/<stem>.json`` atomically
(temporary file in the same folder, fsync, ``os.replace``), so a reader never sees
half a file.  Only the daemon's main thread writes; workers return results.
``Job.fail`` is the one place an error becomes a status.  A follower's status file
shows its original's state (``Job.record``).

At start-up the store is rebuilt from the status files, so the outbox is the
only state there is.  Status files are read back as data, not trusted: a record
whose id is not a UUID or whose names climb out of their folder is ignored.

The daemon also keeps a journal beside its checkpoints: one line per job each
time a job appears or changes state (not on every progress tick).  ``JobIndex``
reads it, so the API can list, count and search ten thousand jobs without
opening ten thousand files per request.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from daemon.audio.formats import OUTPUT_SUFFIXES

from .errors import InboxError
from .files import (
    FileIdentity,
    atomic_write_bytes,
    free_name,
    inside,
    name_bytes,
    name_from_bytes,
    shown_name,
    without_hidden,
)
from .job_life import ACTIVE, ENDED, MIRRORED, JobLife, JobStatus, utc_now  # noqa: F401  (ACTIVE, ENDED: for callers)

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 1.0  # progress-only writes at most this often per job
JOURNAL_NAME = ".jobs.journal"
NAMES_FROM_THE_INBOX = ("source", "sidecar", "moved_to")  # may be bytes that are not UTF-8
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def audio_files(record: dict[str, Any]) -> list[str]:
    """Every audio file of a finished job's record, in order (a status file written before
    output_files existed names only output_file)."""
    return list(record.get("output_files") or [record["output_file"]])


def is_job_id(value: object) -> bool:
    return isinstance(value, str) and bool(UUID.match(value))


@dataclass
class Job(JobLife):
    job_id: str
    status: JobStatus
    source: str  # relative to the inbox
    source_sha256: str
    settings: dict[str, Any]
    status_file: str  # relative to the outbox
    job_key: str  # same content and settings -> same key
    progress: float = 0.0
    output_file: str | None = None  # the audiobook; with split: chapter, its first chapter's file
    output_files: list[str] = field(default_factory=list)  # every file written, in order (outbox-relative)
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
    duplicate_of: str | None = None  # the job that converts this same book and settings
    uploaded: bool = False  # came through the API: its voice, speed and lang are the form's
    source_identity: FileIdentity | None = None  # the very file taken: only it is ever archived
    sidecar_identity: FileIdentity | None = None
    moved_to: str | None = None  # where the source went, inside archive/ (completed) or failed/
    waiting: str | None = None  # why a queued book has not started (disk space), in a sentence
    outputs_removed_at: str | None = None  # the audiobook was removed by the retention policy
    created_at: str = field(default_factory=utc_now)
    started_at: str | None = None
    finished_at: str | None = None
    updated_at: str = field(default_factory=utc_now)

    @property
    def stem(self) -> str:
        return self.status_file[: -len(".json")]

    # ------------------------------------------------------------------ the status file

    def record(self) -> dict[str, Any]:
        """The status file's content (a follower's shows its original's state).  Names read
        from the inbox that are not UTF-8 are shown with U+FFFD, and their bytes are kept
        beside them (``source_bytes``) to address the file again after a restart."""
        record = asdict(self)
        if self._original is not None:
            shown = asdict(self._original)
            record.update((name, shown[name]) for name in MIRRORED)
        record["status"] = record["status"].value
        for name in ("source_identity", "sidecar_identity"):
            identity = getattr(self, name)
            record[name] = identity.record() if identity else None
        for name in NAMES_FROM_THE_INBOX:
            raw = name_bytes(record[name]) if record[name] else None
            if raw is not None:
                record[name], record[f"{name}_bytes"] = shown_name(record[name]), raw
        return record

    def summary(self) -> dict[str, Any]:
        """What the journal keeps of a job: everything but the chapter list."""
        record = self.record()
        del record["chapters"]
        return record

    @classmethod
    def from_record(cls, data: Any) -> "Job":
        """A job from a status file's content; ValueError when any field is not what the
        daemon writes (status files are read back as data, never trusted)."""
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if not is_job_id(values.get("job_id")):
            raise ValueError(f"job_id {str(values.get('job_id'))[:60]!r} is not a UUID")
        values["status"] = JobStatus(values.get("status"))
        for name in NAMES_FROM_THE_INBOX:
            if isinstance(data.get(f"{name}_bytes"), str):
                values[name] = name_from_bytes(data[f"{name}_bytes"])
        for name in ("source_identity", "sidecar_identity"):
            values[name] = FileIdentity.from_record(values.get(name))
        for name in ("source", "status_file"):
            inside(Path("."), _record_text(values.get(name), name))
        for name in ("output_file", "sidecar", "moved_to"):
            if values.get(name) is not None:
                inside(Path("."), _record_text(values[name], name))
        if not isinstance(values.get("output_files", []), list):
            raise ValueError("output_files is not a list")
        for name in values.get("output_files", []):
            inside(Path("."), _record_text(name, "output_files"))
        if not isinstance(values.get("uploaded", False), bool):
            raise ValueError("uploaded is not true or false")
        if values.get("duplicate_of") is not None and not is_job_id(values["duplicate_of"]):
            raise ValueError("duplicate_of is not a UUID")
        for name in ("source_sha256", "job_key"):
            _record_text(values.get(name, ""), name, empty=True)
        if not isinstance(values.get("settings"), dict):
            raise ValueError("settings is not an object")
        if not isinstance(values.get("chapters", []), list):
            raise ValueError("chapters is not a list")
        for name in ("progress", "audio_seconds", "chars_total", "chars_done"):
            value = values.get(name, 0)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{name} is not a number")
        return cls(**values)


def _record_text(value: Any, name: str, empty: bool = False) -> str:
    """A status record's field as read back: text (non-empty unless ``empty``), else ValueError."""
    if not isinstance(value, str) or (not value and not empty):
        raise ValueError(f"{name} is not text")
    return value


def atomic_write_json(path: Path, data: dict[str, Any]) -> None:
    """The one way a status file (or any JSON the daemon shares) is written."""
    atomic_write_bytes(path, json_bytes(data, indent=2))


def json_bytes(data: Any, indent: int | None = None) -> bytes:
    """UTF-8 JSON, whatever the strings hold: a lone surrogate (a YAML escape in a sidecar)
    is not UTF-8 and would stop the write, so it is written as U+FFFD."""
    return shown_name(json.dumps(data, indent=indent, ensure_ascii=False)).encode("utf-8")


def status_files(outbox: Path) -> Iterator[Path]:
    """Every status file under the outbox (temporary and hidden files left out, and the
    metadata.json that Audiobookshelf may keep beside a library book's metadata.opf)."""
    for folder, dirs, files in os.walk(outbox):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        library_book = "metadata.opf" in files
        for name in files:
            if name.endswith(".json") and not name.startswith(".") \
                    and not (library_book and name == "metadata.json"):
                yield Path(folder) / name


def read_status_file(outbox: Path, path: Path) -> Job:
    """A validated job from a status file; OSError or ValueError when it is not one."""
    job = Job.from_record(json.loads(path.read_text(encoding="utf-8")))
    job.status_file = path.relative_to(outbox).as_posix()
    return job


def journal_path(processing: Path) -> Path:
    return processing / JOURNAL_NAME


class JobStore:
    """All jobs, indexed by id and by key, backed by the status files in the outbox.

    Given a journal path (the daemon does; `kokoro-inbox status` does not), it
    also keeps the journal that ``JobIndex`` reads.
    """

    def __init__(self, outbox: Path, journal: Path | None = None) -> None:
        self.outbox = outbox
        self.journal = journal
        self.jobs: dict[str, Job] = {}
        self._by_key: dict[str, list[Job]] = {}
        self._by_source: dict[str, list[Job]] = {}
        self._stems: set[str] = set()
        self._last_write: dict[str, float] = {}
        self._journal_bytes = 0
        self._snapshot_bytes = 0
        # Told of each job that ends (and each follower ending with it) before its status
        # says so: the daemon moves its source out of the inbox (daemon/service/disposal.py).
        self.before_ending: Callable[[Job, InboxError | None], None] = lambda job, error: None

    def load(self) -> int:
        """Rebuild the index from the outbox; returns the number of jobs found."""
        for path in status_files(self.outbox):
            try:
                job = read_status_file(self.outbox, path)
            except (OSError, ValueError, TypeError) as error:
                log.warning("ignoring status file %s: %s", path, error)
                continue
            if job.job_id in self.jobs:
                log.warning("ignoring status file %s: job %s also has %s", path, job.job_id,
                            self.jobs[job.job_id].status_file)
                continue
            self._add(job)
        if self.journal is not None:
            self._write_snapshot()
        return len(self.jobs)

    def _add(self, job: Job) -> None:
        job._store = self
        self.jobs[job.job_id] = job
        self._by_key.setdefault(job.job_key, []).append(job)
        self._by_source.setdefault(job.source, []).append(job)
        self._stems.add(job.stem)

    def get(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def with_key(self, key: str) -> list[Job]:
        """Every job of this content and settings, oldest first."""
        return list(self._by_key.get(key, ()))

    def jobs_of_source(self, source: str) -> list[Job]:
        """Every job that took a file at this inbox path, oldest first."""
        return list(self._by_source.get(source, ()))

    def originals(self, key: str, statuses: Iterable[JobStatus]) -> list[Job]:
        """Jobs that convert (or converted) this content with these settings, oldest first."""
        wanted = set(statuses)
        return [j for j in self._by_key.get(key, ()) if j.status in wanted and not j.duplicate_of]

    def followers(self, job_id: str) -> list[Job]:
        """Jobs that wait on ``job_id`` because they are the same book."""
        job = self.jobs.get(job_id)
        if job is None:
            return []
        return [j for j in self._by_key.get(job.job_key, ()) if j.duplicate_of == job_id]

    def viewers(self, job: Job) -> list[Job]:
        """Active followers that show ``job`` now."""
        return [f for f in self.followers(job.job_id) if f.following is job and f.status.active]

    def active(self) -> list[Job]:
        """Queued and processing jobs, oldest first."""
        return sorted((j for j in self.jobs.values() if j.status.active), key=lambda j: j.created_at)

    def allocate_stem(self, relative_stem: str) -> str:
        """A status-file name no other job has: 'Book', else 'Book (2)', 'Book (3)', ...

        The name leaves room for the audiobook's suffix, so 'Book.mp3' fits as well; a
        'Book.m4b' or a folder 'Book' (one file per chapter) takes the name too.  Control
        and bidirectional characters of the inbox's names are left out: the outbox is
        written by the daemon, and its names must read as what they are.
        """
        parts = (without_hidden(part) for part in relative_stem.split("/"))
        relative_stem = "/".join(part if part not in ("", ".", "..") else "_" for part in parts)

        def taken(status_file: Path) -> bool:
            stem = status_file.relative_to(self.outbox).with_suffix("").as_posix()
            return (stem in self._stems or os.path.lexists(status_file)
                    or any(os.path.lexists(status_file.with_suffix(s)) for s in (*OUTPUT_SUFFIXES, "")))

        chosen = free_name(self.outbox / f"{relative_stem}.json", taken)
        return chosen.relative_to(self.outbox).with_suffix("").as_posix()

    def create(self, job_id: str | None = None, **values: Any) -> Job:
        """A new queued job in the index; the caller saves it once it is filled in."""
        job = Job(job_id=job_id or str(uuid.uuid4()), status=JobStatus.QUEUED, **values)
        self._add(job)
        return job

    def save(self, job: Job) -> None:
        """Write the job's status file and tell the journal; raises OSError."""
        self._write(job)
        self._journal(job)

    def save_progress(self, job: Job) -> None:
        """Write the job's status file if its last write is PROGRESS_INTERVAL old (the journal
        hears of state changes only)."""
        if time.monotonic() - self._last_write.get(job.job_id, 0.0) >= PROGRESS_INTERVAL:
            self._write(job)

    def _write(self, job: Job) -> None:
        """The one function that writes a status file."""
        self._last_write[job.job_id] = time.monotonic()
        job.updated_at = utc_now()
        path = inside(self.outbox, job.status_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, job.record())

    # What a job's life methods call: the job's file and those of the followers that show it.
    # A file that cannot be written is logged; the job's life goes on in memory.
    def changed(self, job: Job) -> None:
        self._each_shown(job, self.save)

    def progressed(self, job: Job) -> None:
        self._each_shown(job, self.save_progress)

    def ended(self, job: Job, error: InboxError | None) -> None:
        """``job`` ended: its followers end with it; every source leaves the inbox before
        the status says so."""
        followers = self.viewers(job)
        for follower in followers:
            follower._stop_following()
        for each in (job, *followers):
            self.before_ending(each, error)
        for each in (job, *followers):
            self._logged(self.save, each)

    def _each_shown(self, job: Job, write: Callable[[Job], None]) -> None:
        for each in (job, *self.viewers(job)):
            self._logged(write, each)

    def _logged(self, write: Callable[[Job], None], job: Job) -> None:
        try:
            write(job)
        except OSError as error:
            log.error("job %s: cannot write its status file in %s: %s", job.job_id, self.outbox,
                      error.strerror or error)

    def remove(self, job: Job) -> None:
        """Forget an ended job and delete its status file (the retention policy, or a failure
        taken back); readers of the journal hear of it."""
        self.jobs.pop(job.job_id, None)
        for index, value in ((self._by_key, job.job_key), (self._by_source, job.source)):
            if job in index.get(value, []):
                index[value].remove(job)
        self._stems.discard(job.stem)
        self._last_write.pop(job.job_id, None)
        inside(self.outbox, job.status_file).unlink(missing_ok=True)
        self._journal_line(json_bytes({"removed": job.job_id}) + b"\n")

    # ------------------------------------------------------------------ journal

    def _journal(self, job: Job) -> None:
        self._journal_line(json_bytes(job.summary()) + b"\n")

    def _journal_line(self, line: bytes) -> None:
        if self.journal is None:
            return
        try:
            with open(self.journal, "ab") as handle:
                handle.write(line)
        except OSError as error:
            log.warning("cannot append to the job journal %s: %s", self.journal, error.strerror or error)
            return
        self._journal_bytes += len(line)
        if self._journal_bytes > max(1 << 20, 2 * self._snapshot_bytes):
            self._write_snapshot()

    def _write_snapshot(self) -> None:
        """The journal rewritten as one line per job (readers notice the new file and reload)."""
        assert self.journal is not None
        lines = [json_bytes({"journal": 1, "written_at": utc_now()})]
        lines += [json_bytes(j.summary()) for j in sorted(self.jobs.values(), key=lambda j: j.created_at)]
        data = b"\n".join(lines) + b"\n"
        try:
            self.journal.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(self.journal, data)
        except OSError as error:
            log.warning("cannot write the job journal %s: %s", self.journal, error.strerror or error)
            return
        self._snapshot_bytes = self._journal_bytes = len(data)


class JobIndex:
    """Every job's summary, for listing, counting and searching without a file per job.

    Reads the daemon's journal incrementally: each call looks at one file's
    size and reads only what was appended.  With no journal (a daemon of an
    older version, or none yet) it falls back to reading the status files,
    at most every few seconds.  Full records come from the status files, for
    the few jobs a page shows.
    """

    RESCAN_SECONDS = 5.0

    def __init__(self, outbox: Path, journal: Path) -> None:
        self.outbox = outbox
        self.journal = journal
        self._summaries: dict[str, dict[str, Any]] = {}
        self._order: list[tuple[str, str]] | None = None  # (created_at, job_id), newest first
        self._journal_id: tuple[int, int] | None = None
        self._offset = 0
        self._scanned_at = float("-inf")
        self._records: dict[str, tuple[tuple[int, int], dict[str, Any]]] = {}

    def refresh(self) -> None:
        try:
            stat = self.journal.stat()
        except OSError:
            if time.monotonic() - self._scanned_at >= self.RESCAN_SECONDS:
                self._scan_status_files()
            return
        identity = (stat.st_dev, stat.st_ino)
        if identity != self._journal_id or stat.st_size < self._offset:
            self._journal_id, self._offset = identity, 0
            self._summaries, self._order = {}, None
        if stat.st_size > self._offset:
            self._read_journal()

    def _read_journal(self) -> None:
        try:
            with open(self.journal, "rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
        except OSError:
            return
        end = data.rfind(b"\n") + 1  # a line still being written waits for the next call
        for line in data[:end].splitlines():
            try:
                summary = json.loads(line)
                if isinstance(summary, dict) and is_job_id(summary.get("removed")):
                    self._drop(summary["removed"])
                    continue
                job = Job.from_record({**summary, "chapters": []})
            except (ValueError, TypeError):
                continue  # the header line, or a line that is not a job
            self._put(job.summary())
        self._offset += end

    def _scan_status_files(self) -> None:
        self._summaries, self._order = {}, None
        for path in status_files(self.outbox):
            try:
                self._put(read_status_file(self.outbox, path).summary())
            except (OSError, ValueError, TypeError):
                continue
        self._scanned_at = time.monotonic()

    def _put(self, summary: dict[str, Any]) -> None:
        old = self._summaries.get(summary["job_id"])
        if old is None or old["created_at"] != summary["created_at"]:
            self._order = None
        self._summaries[summary["job_id"]] = summary

    def _drop(self, job_id: str) -> None:
        if self._summaries.pop(job_id, None) is not None:
            self._order = None
        self._records.pop(job_id, None)

    def summaries(self) -> list[dict[str, Any]]:
        """All summaries, newest first."""
        if self._order is None:
            self._order = sorted(((s["created_at"], s["job_id"]) for s in self._summaries.values()),
                                 reverse=True)
        return [self._summaries[job_id] for _, job_id in self._order]

    def summary(self, job_id: str) -> dict[str, Any] | None:
        return self._summaries.get(job_id)

    def record(self, job_id: str) -> dict[str, Any] | None:
        """The job's status file as it is now, re-read only when it changed."""
        summary = self._summaries.get(job_id)
        if summary is None:
            return None
        try:
            path = inside(self.outbox, summary["status_file"])
            stat = path.stat()
        except (OSError, ValueError):
            return None
        stamp = (stat.st_mtime_ns, stat.st_size)
        cached = self._records.get(job_id)
        if cached and cached[0] == stamp:
            return cached[1]
        try:
            record = read_status_file(self.outbox, path).record()
        except (OSError, ValueError, TypeError):
            return None
        if record["job_id"] != job_id:
            return None
        self._records[job_id] = (stamp, record)
        return record
