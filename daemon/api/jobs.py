"""Jobs as the API shows them: the daemon's index and the uploads it has not taken yet,
a snapshot per request, pages and their cursors."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from heapq import merge
from pathlib import Path
from typing import Any, Iterable, Iterator

import bottle

from daemon.mailbox import Mailbox, UploadTicket
from daemon.status import ACTIVE, JobIndex, JobStatus, is_job_id, journal_path

from .upload import ApiError

log = logging.getLogger(__name__)

PAGE_DEFAULT, PAGE_MAX = 50, 500
QUERY_MAX = 200  # characters of a ?q= search
STATUSES = tuple(s.value for s in JobStatus)



class JobView:
    """Jobs as the API shows them: the daemon's index, plus uploads it has not taken yet.

    One lock: cheroot serves from many threads and ``JobIndex`` is a plain cache.
    Each call refreshes the index (one ``stat`` of the journal, and reading what was
    appended since), so there is no polling thread and nothing goes stale.  What is
    derived from all the jobs (search text, totals) is kept in a ``_Snapshot`` until
    the journal changes, which it does when a job appears or changes state, not on
    every progress tick.
    """

    def __init__(self, outbox: Path, processing: Path, mailbox: Mailbox) -> None:
        self.index = JobIndex(outbox, journal_path(processing))
        self.journal = journal_path(processing)
        self.mailbox = mailbox
        self._lock = threading.Lock()
        self._tickets: dict[str, tuple[Any, UploadTicket | None]] = {}
        self._tickets_folder: Any = None  # the requests folder's stamp when last listed
        self._snapshot: _Snapshot | None = None

    def get(self, job_id: str) -> dict[str, Any] | None:
        if not is_job_id(job_id):
            return None
        with self._lock:
            self.index.refresh()
            record = self.index.record(job_id)
        if record is not None:
            return record
        ticket = self.mailbox.upload_ticket(job_id)
        return ticket.queued_record() if ticket else None

    def page(self, query: "PageQuery") -> tuple[list[dict[str, Any]], str | None]:
        """One page of jobs, newest first, and the cursor of the next page (None at the end)."""
        with self._lock:
            snapshot = self._refreshed()
            pending = [r for r in self._pending() if query.matches(r, _searchable(r))]
            found = list(_take(merge(snapshot.matching(query), sorted(pending, key=sort_key, reverse=True),
                                     key=sort_key, reverse=True), query.limit + 1))
            records = [self._full(s) for s in found[: query.limit]]
        more = len(found) > query.limit
        return records, (encode_cursor(found[query.limit - 1]) if more else None)

    def totals(self) -> "Totals":
        """Counts and sums over every job, the active ones as their status files say now."""
        with self._lock:
            snapshot = self._refreshed()
            totals = Totals(dict(snapshot.ended.counts), snapshot.ended.chars, snapshot.ended.audio)
            for job_id in snapshot.active:
                record = self.index.record(job_id) or self.index.summary(job_id) or {}
                totals.add(record)
            for record in self._pending():
                totals.add(record)
        return totals

    def finished_books(self, limit: int) -> list[dict[str, Any]]:
        """Completed jobs with an audiobook of their own (not those sharing another's),
        the most recently finished first."""
        with self._lock:
            snapshot = self._refreshed()
            done = [s for s in snapshot.ordered
                    if s["status"] == "completed" and s.get("output_file") and not s.get("duplicate_of")]
        done.sort(key=lambda s: s.get("finished_at") or "", reverse=True)
        return done[:limit]

    def waiting(self) -> int:
        """Books queued: the index's queued jobs and the uploads not yet taken."""
        with self._lock:
            snapshot = self._refreshed()
            return snapshot.queued + len(self._pending())

    def _refreshed(self) -> "_Snapshot":
        # The journal's stamp is taken before reading it: lines appended meanwhile change the
        # stamp the next call sees, so the snapshot is rebuilt then rather than going stale.
        key = _stamp(self.journal)
        self.index.refresh()
        if self._snapshot is None or key is None or key != self._snapshot.key:
            self._snapshot = _Snapshot.build(key, self.index.summaries())
        return self._snapshot

    def _pending(self) -> list[dict[str, Any]]:
        """Tickets of uploads the daemon has not made a job of yet, as queued records."""
        return [t.queued_record() for t in self._read_tickets() if self.index.summary(t.job_id) is None]

    def _read_tickets(self) -> list[UploadTicket]:
        # Every ticket is written by renaming it into the folder, so an unchanged folder
        # has the same tickets; the folder is listed again only when its stamp moved or is
        # too recent to trust (a change in the same clock tick keeps the stamp).
        folder = _stamp(self.mailbox.requests)
        if folder is not None and folder == self._tickets_folder and time.time() - folder[2] / 1e9 > 1.0:
            return [ticket for _, ticket in self._tickets.values() if ticket is not None]
        try:
            names = [n for n in os.listdir(self.mailbox.requests) if n.startswith("upload-")]
        except OSError:
            return []
        self._tickets_folder = folder
        fresh: dict[str, tuple[Any, UploadTicket | None]] = {}
        for name in names:
            job_id = name[len("upload-"):-len(".json")]
            stamp = _stamp(self.mailbox.requests / name)
            if stamp is None or not is_job_id(job_id):
                continue
            cached = self._tickets.get(job_id)
            fresh[job_id] = cached if cached and cached[0] == stamp else (
                stamp, self.mailbox.upload_ticket(job_id))
        self._tickets = fresh
        return [ticket for _, ticket in fresh.values() if ticket is not None]

    def _full(self, summary: dict[str, Any]) -> dict[str, Any]:
        """The status file's record for a job the page shows (the summary if it is gone)."""
        if self.index.summary(summary["job_id"]) is None:  # an upload not taken yet: no status file
            return summary
        return self.index.record(summary["job_id"]) or {**summary, "chapters": []}


def _stamp(path: Path) -> Any:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


@dataclass
class Totals:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    chars: float = 0.0
    audio: float = 0.0

    def add(self, record: dict[str, Any]) -> None:
        status = record.get("status", "queued")
        self.counts[status] = self.counts.get(status, 0) + 1
        self.chars += number(record.get("chars_done"))
        self.audio += number(record.get("audio_seconds"))


@dataclass
class _Snapshot:
    """What the API derives from every job's summary, for one state of the journal."""

    key: Any
    ordered: list[dict[str, Any]]  # newest first
    keys: list[tuple[str, str]]  # their sort keys
    search: list[str]  # their searchable text, case-folded
    ended: Totals  # of the jobs that can no longer change
    active: list[str]  # ids of queued and processing jobs
    queued: int

    @classmethod
    def build(cls, key: Any, ordered: list[dict[str, Any]]) -> "_Snapshot":
        ended = Totals()
        active = []
        for summary in ordered:
            if summary["status"] in ACTIVE:
                active.append(summary["job_id"])
            else:
                ended.add(summary)
        queued = sum(1 for s in ordered if s["status"] == "queued")
        return cls(key, ordered, [sort_key(s) for s in ordered], [_searchable(s) for s in ordered],
                   ended, active, queued)

    def matching(self, query: "PageQuery") -> Iterator[dict[str, Any]]:
        start = self._after(query.after) if query.after else 0
        for position in range(start, len(self.ordered)):
            summary = self.ordered[position]
            if query.matches(summary, self.search[position]):
                yield summary

    def _after(self, key: tuple[str, str]) -> int:
        """The position of the first job older than ``key`` (binary search, newest first)."""
        low, high = 0, len(self.keys)
        while low < high:
            middle = (low + high) // 2
            if self.keys[middle] >= key:
                low = middle + 1
            else:
                high = middle
        return low


def sort_key(record: dict[str, Any]) -> tuple[str, str]:
    return record.get("created_at") or "", record["job_id"]


def _take(items: Iterable[Any], count: int) -> Iterator[Any]:
    for number, item in enumerate(items):
        if number >= count:
            return
        yield item


@dataclass(frozen=True)
class PageQuery:
    """``GET /jobs``: ``limit``, ``cursor``, ``status`` and ``q``, checked."""

    limit: int = PAGE_DEFAULT
    after: tuple[str, str] | None = None  # the sort key of the last job of the previous page
    status: str | None = None
    text: str | None = None  # case-folded

    @classmethod
    def from_request(cls, query: bottle.FormsDict) -> "PageQuery":
        status = query.get("status") or None
        if status is not None and status not in STATUSES:
            raise ApiError(400, f"status must be one of {', '.join(STATUSES)}", ["query", "status"])
        text = query.getunicode("q") or None
        if text is not None and len(text) > QUERY_MAX:
            raise ApiError(400, f"q is longer than {QUERY_MAX} characters", ["query", "q"])
        cursor = query.get("cursor") or None
        return cls(_limit(query.get("limit")), decode_cursor(cursor) if cursor else None, status,
                   text.casefold() if text else None)

    def matches(self, record: dict[str, Any], searchable: str) -> bool:
        if self.after is not None and sort_key(record) >= self.after:
            return False
        if self.status is not None and record["status"] != self.status:
            return False
        return self.text is None or self.text in searchable


def _searchable(record: dict[str, Any]) -> str:
    return f"{record.get('title') or ''}\n{record.get('source') or ''}".casefold()


def _limit(raw: str | None) -> int:
    if raw in (None, ""):
        return PAGE_DEFAULT
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= PAGE_MAX:
        raise ApiError(400, f"limit must be a whole number from 1 to {PAGE_MAX}", ["query", "limit"])
    return limit


def encode_cursor(record: dict[str, Any]) -> str:
    """Opaque to clients: where the next page starts, stable while new jobs arrive."""
    raw = json.dumps(list(sort_key(record)), separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        created, job_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if isinstance(created, str) and is_job_id(job_id):
            return created, job_id
    except (ValueError, TypeError, binascii.Error):
        pass
    raise ApiError(400, "cursor is not one this API gave out", ["query", "cursor"])


def number(value: Any) -> float:
    """A count from a record or the heartbeat; anything else counts as 0."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0
