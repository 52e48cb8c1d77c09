"""Where a book's source goes once its job ends: archive/, failed/, deleted, or left alone.

Only the very file that was taken ever leaves the inbox.  A job records the
identity (device, inode, size, mtime) of its book and sidecar when it takes
them; a file that no longer matches is a new version someone copied over the
old one while it converted, and it stays, to be converted as a book of its own
(the bytes are compared too, since some network mounts change inode numbers).
A file that a writer still has open is not moved until the writer is done.

Moves across filesystems copy, then remove the source; a removal that fails (a
share's extended attributes, a passing I/O error) is tried again, so a book
never stays behind to be taken again as another job.  A file moved to failed/
as incomplete that goes on changing there was still being copied: it is taken
back into the inbox.  macOS's ``._Book.epub`` companions go with their book.

Sources keep their subfolder and are never overwritten ('Book (2).epub').  Names
come from status records, which are checked to stay inside the inbox.  An entry
that is not a regular file (a FIFO, a device, a folder) is only ever renamed,
never copied: copying a device would read it forever.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from daemon.config import Paths
from daemon.errors import InboxError, NotAnEpub, OutputError
from daemon.files import (
    FileIdentity,
    SourceLeft,
    free_name,
    inside,
    move_file,
    open_for_writing,
    present,
    sha256_of,
    shown_name,
    transient,
)
from daemon.settings import sidecar_of
from daemon.status import Job

log = logging.getLogger(__name__)

RETRY_SECONDS = (5, 15, 60, 300, 900, 3600)  # between attempts; the last repeats
# Besides a share's transient errors: a file locked or made read-only by a client for a while.
WORTH_RETRYING = (errno.EACCES, errno.EPERM, errno.EBUSY, errno.ETXTBSY)
TAKE_BACK_CHECK = 5.0  # seconds between looks at sources just failed as incomplete


@dataclass
class _Pending:
    """A source still to be moved or deleted (a writer had it open, or the move failed)."""

    job: Job
    path: Path
    how: str  # archive | fail | delete
    identity: FileIdentity | None  # what it must still be; None: whatever it is (a companion)
    is_book: bool
    attempts: int = 0
    next_at: float = 0.0
    told: bool = False  # the log has said why it waits


@dataclass
class _Watched:
    """A source failed as incomplete, watched for a while in failed/ in case a writer is still at it."""

    job: Job
    moved: Path
    relative: str  # where it was in the inbox
    seen: tuple[int, int]  # size, mtime
    until: float
    next_at: float = field(default=0.0)


class SourceDisposal:
    def __init__(self, paths: Paths, after_success: str, forget: Callable[[Path], None],
                 patience: float = 600.0) -> None:
        self.paths = paths
        self.after_success = after_success  # archive | delete | keep
        self.forget = forget  # tells the watcher a path left the inbox
        self.patience = patience  # how long a failed incomplete source is watched
        self.on_moved: Callable[[Job], None] = lambda job: None  # a later move changed a job's record
        self.on_taken_back: Callable[[Job], None] = lambda job: None
        self._pending: list[_Pending] = []
        self._watched: list[_Watched] = []
        self._redo: list[tuple[float, Job, str, bool]] = []  # (when, job, how, watch): look again

    # ------------------------------------------------------------------ endings

    # Each says whether the book was moved now: the caller then writes the job's record.
    def completed(self, job: Job) -> bool:
        if self.after_success == "keep":
            return False
        return self._dispose(job, "archive" if self.after_success == "archive" else "delete")

    def failed(self, job: Job, error: InboxError) -> bool:
        if isinstance(error, OutputError):
            return False  # the outbox is the problem, not the book: the source stays where it is
        return self._dispose(job, "fail", watch=isinstance(error, NotAnEpub))

    def retry_due(self, now: float | None = None) -> None:
        """Moves that had to wait, and sources failed as incomplete that may be growing."""
        now = time.monotonic() if now is None else now
        # A job's ending writes its record after the source has left; a later move writes it here.
        for redo in [r for r in self._redo if r[0] <= now]:
            self._redo.remove(redo)
            if self._dispose(*redo[1:]):
                self.on_moved(redo[1])
        for pending in [p for p in self._pending if p.next_at <= now]:
            self._pending.remove(pending)
            if self._settle(pending, now) is not None and pending.is_book:
                self.on_moved(pending.job)
        for watched in [w for w in self._watched if w.next_at <= now]:
            self._look_again(watched, now)

    def waiting(self) -> int:
        return len(self._pending)

    # ------------------------------------------------------------------ one source

    def _dispose(self, job: Job, how: str, watch: bool = False) -> bool:
        """Whether the book itself was moved (its record's ``moved_to`` changed)."""
        now = time.monotonic()
        try:
            entries = self._entries(job, how)
        except OSError as error:  # the share cannot say now what is there: the whole job again later
            if not (transient(error) or error.errno in WORTH_RETRYING):
                log.error("job %s: cannot look at %s: %s", job.job_id, shown_name(job.source),
                          error.strerror or error)
                return False
            log.warning("job %s: cannot look at %s now (%s); trying again in %d s", job.job_id,
                        shown_name(job.source), error.strerror or error, RETRY_SECONDS[1])
            self._redo.append((now + RETRY_SECONDS[1], job, how, watch))
            return False
        book_moved = False
        for entry in entries:
            moved = self._settle(entry, now)
            if moved is not None and entry.is_book:
                book_moved = True
                if watch and how == "fail":
                    self._watch(job, moved, entry.path, now)
        return book_moved

    def _entries(self, job: Job, how: str) -> list[_Pending]:
        """What leaves the inbox with this job: its book, if it is still the file taken, its
        sidecar (unless it changed), and their macOS companions.  Raises OSError when the
        share cannot say."""
        book = self._inbox_path(job, job.source)
        if book is None or not present(book):
            return []
        if not self._is_the_book(job, book):
            log.info("job %s: %s was replaced by another file while the book was converted; the new "
                     "file stays in the inbox and is converted as a book of its own", job.job_id,
                     shown_name(job.source))
            return []
        entries = [_Pending(job, book, how, job.source_identity, is_book=True)]
        sidecar = self._inbox_path(job, job.sidecar) if job.sidecar else sidecar_of(book)
        if sidecar is not None and present(sidecar):
            wanted = job.sidecar_identity if job.sidecar else None  # a late one: whatever it is
            if wanted is None or FileIdentity.of(sidecar) == wanted:
                entries.append(_Pending(job, sidecar, how, wanted, is_book=False))
            else:
                log.info("job %s: %s changed while the book was converted; it stays in the inbox",
                         job.job_id, shown_name(sidecar.name))
        for entry in list(entries):
            companion = entry.path.with_name(f"._{entry.path.name}")  # macOS metadata of that file
            if present(companion):
                entries.append(_Pending(job, companion, how, None, is_book=False))
        return entries

    def _is_the_book(self, job: Job, book: Path) -> bool:
        """Whether ``book`` is still the file the job took: the same identity, or (a network
        mount that renumbers inodes) the same bytes.  A transient I/O error is raised."""
        if job.source_identity is None:
            return True  # refused before it was looked at, or a status file of an older version
        now = FileIdentity.of(book)
        if now == job.source_identity:
            return True
        return (now is not None and now.size == job.source_identity.size and bool(job.source_sha256)
                and stat.S_ISREG(os.stat(book).st_mode) and sha256_of(book) == job.source_sha256)

    def _settle(self, entry: _Pending, now: float) -> Path | None:
        """Move or delete one source now, or schedule another attempt; the target when moved."""
        try:
            if not present(entry.path):
                return None
            if not self._unchanged(entry):
                log.info("job %s: %s changed since it was taken; it stays in the inbox", entry.job.job_id,
                         shown_name(entry.path.name))
                return None
            if _regular(entry.path) and open_for_writing(entry.path):
                self._later(entry, now, "a program still has it open for writing (a copy in progress?)")
                return None
            if entry.how == "delete":
                entry.path.unlink()
                target = None
            else:
                target = self._move(entry)
        except OSError as error:
            if isinstance(error, SourceLeft) or transient(error) or error.errno in WORTH_RETRYING:
                self._later(entry, now, error.strerror or str(error))
            else:
                log.error("job %s: cannot %s %s: %s", entry.job.job_id, _verb(entry.how),
                          shown_name(entry.path.name), error.strerror or error)
            return None
        self.forget(entry.path)
        if entry.told:
            log.info("job %s: %s has now left the inbox", entry.job.job_id, shown_name(entry.path.name))
        return target

    def _unchanged(self, entry: _Pending) -> bool:
        if entry.identity is None:
            return True
        if FileIdentity.of(entry.path) == entry.identity:
            return True
        return entry.is_book and self._is_the_book(entry.job, entry.path)

    def _move(self, entry: _Pending) -> Path:
        root = self.paths.archive if entry.how == "archive" else self.paths.failed
        target = free_name(root / entry.path.relative_to(self.paths.inbox))
        target.parent.mkdir(parents=True, exist_ok=True)
        if _regular(entry.path) or entry.path.is_symlink():
            try:
                move_file(entry.path, target)
            except SourceLeft:
                entry.how = "delete"  # the copy is in place: only the source is left to remove
                raise
        else:
            os.rename(entry.path, target)  # never copied; across filesystems it stays put
        if entry.is_book:
            entry.job.moved_to = target.relative_to(root).as_posix()
        return target

    def _later(self, entry: _Pending, now: float, why: str) -> None:
        delay = RETRY_SECONDS[min(entry.attempts, len(RETRY_SECONDS) - 1)]
        if not entry.told:
            log.warning("job %s: %s cannot leave the inbox yet (%s); trying again every few minutes",
                        entry.job.job_id, shown_name(entry.path.name), why)
            entry.told = True
        entry.attempts += 1
        entry.next_at = now + delay
        self._pending.append(entry)

    # ------------------------------------------------------------------ taken back

    def _watch(self, job: Job, moved: Path, source: Path, now: float) -> None:
        try:
            info = moved.stat()
        except OSError:
            return
        self._watched.append(_Watched(job, moved, source.relative_to(self.paths.inbox).as_posix(),
                                      (info.st_size, info.st_mtime_ns), now + self.patience,
                                      now + TAKE_BACK_CHECK))

    def _look_again(self, watched: _Watched, now: float) -> None:
        watched.next_at = now + TAKE_BACK_CHECK
        try:
            info = watched.moved.stat()
        except OSError:
            self._watched.remove(watched)
            return
        if (info.st_size, info.st_mtime_ns) == watched.seen:
            if now >= watched.until:
                self._watched.remove(watched)
            return
        self._watched.remove(watched)
        target = free_name(self.paths.inbox / watched.relative)
        try:
            os.rename(watched.moved, target)
        except OSError as error:
            log.error("job %s: %s is still being written in %s but cannot go back to the inbox: %s",
                      watched.job.job_id, shown_name(watched.moved.name), self.paths.failed,
                      error.strerror or error)
            return
        log.warning("job %s: %s kept changing after it was failed as incomplete: a copy was still "
                    "being written; it is back in the inbox and will be read when the copy ends",
                    watched.job.job_id, shown_name(watched.relative))
        self.on_taken_back(watched.job)

    # ------------------------------------------------------------------ names

    def _inbox_path(self, job: Job, relative: str | None) -> Path | None:
        if not relative:
            return None
        try:
            return inside(self.paths.inbox, relative)
        except ValueError:
            log.error("job %s: %r is not a name inside the inbox; left alone", job.job_id, relative)
            return None




def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def _verb(how: str) -> str:
    return {"archive": "archive", "fail": "move to failed/", "delete": "delete"}[how]
