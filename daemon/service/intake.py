"""Intake: a settled entry in the inbox becomes a job, a refusal, or a follower of a job.

Every entry the daemon takes gets a status file, whatever it turns out to be:

- a book to convert: a new queued job;
- the same content with the same settings as a queued, running or completed job
  (whose audiobook still exists): a *follower* that points at that job, shares
  its audiobook, and ends when it ends (its own source is archived as usual);
- anything that cannot be converted (not a regular file, a link out of the
  inbox, not an EPUB, a bad sidecar): a job that fails at once with the reason.

Intake has two steps, so that the main thread never reads a book itself:
``admit`` looks at the entry (a few ``stat`` calls) and either decides at once
(a refusal, the very file of a job it already has) or asks for the book to be
read; the book reader (daemon/service/planner.py) reads it in another process; then
``decide`` turns what was read into a job.  A network share's I/O error, or a
file that changes while it is looked at, is ``Retry``: the entry is offered
again later and nothing is failed.

A job remembers the identity (device, inode, size, mtime) of the very file it
took, and of its sidecar: a new version copied over the book is a new book, and
only the file that was converted ever leaves the inbox (daemon/service/disposal.py).

An upload through the API carries a ticket: its job keeps the id the API
promised, and its settings come from the ticket, never from a file in the inbox.
Intake only decides; the service saves, fails and moves (``Service``).
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from daemon.config import Config
from daemon.converter import PlannedBook, PreparedBook, job_fingerprint
from daemon.errors import Cancelled, InboxError, NotABookFile, OutputError, TryLater
from daemon.files import FileIdentity, file_kind, inside, shown_name, transient
from daemon.mailbox import Mailbox, UploadTicket
from daemon.settings import sidecar_of
from daemon.status import ACTIVE, Job, JobStatus, JobStore

from .planner import ReadRequest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewJob:
    job: Job
    prepared: PreparedBook
    segments: tuple = ()  # the book's speech, cut by the reader


@dataclass(frozen=True)
class Refused:
    job: Job
    error: InboxError


@dataclass(frozen=True)
class Follower:
    job: Job
    original: Job


@dataclass(frozen=True)
class AlreadyKnown:
    """The very file of an existing job (a kept source seen again): nothing to do."""

    job: Job


@dataclass(frozen=True)
class Leftover:
    """The very file of an ended job whose source should have left the inbox (the move
    failed, or the daemon stopped before it): it leaves now, with no new status."""

    job: Job


@dataclass(frozen=True)
class Retry:
    """Not now: an I/O error of a network share, or a file still changing."""

    reason: str
    quiet: bool = False  # a file that changed is normal; an I/O error deserves a warning


@dataclass(frozen=True)
class Admitted:
    """An entry that looked like a book to read: what was seen of it before reading."""

    book: Path
    relative: str  # inside the inbox; may hold bytes that are not UTF-8 (as surrogates)
    ticket: UploadTicket | None
    identity: FileIdentity
    sidecar: Path | None
    sidecar_identity: FileIdentity | None


Decision = NewJob | Refused | Follower | AlreadyKnown | Leftover | Retry


class Intake:
    def __init__(self, config: Config, store: JobStore, mailbox: Mailbox) -> None:
        self.config = config
        self.inbox = config.paths.inbox
        self.store = store
        self.mailbox = mailbox

    # ------------------------------------------------------------------ step 1: look

    def admit(self, book: Path) -> Admitted | Decision:
        """What ``book`` (a path in the inbox) is, without reading it; never raises for its sake."""
        relative = book.relative_to(self.inbox).as_posix()
        try:
            ticket = self.mailbox.ticket_for(relative)
            if ticket is not None and ticket.cancelled:
                return Refused(self._refused_job(book, relative, ticket), Cancelled("cancelled at the user's request"))
            try:
                check_entry(book, self.inbox)
            except NotABookFile as error:
                return Refused(self._refused_job(book, relative, ticket), error)
            identity = FileIdentity.of(book)
            sidecar = sidecar_of(book) if ticket is None else None
            sidecar_identity = FileIdentity.of(sidecar) if sidecar else None
        except OSError as error:
            if transient(error):
                return Retry(f"cannot look at it now: {error.strerror or error}")
            raise
        if identity is None:
            return Retry("it disappeared while it was looked at", quiet=True)
        admitted = Admitted(book, relative, ticket, identity, sidecar, sidecar_identity)
        return self._known(admitted) or admitted

    def read_request(self, admitted: Admitted, workers: int, segment_chars: int) -> ReadRequest:
        return ReadRequest(self.config, admitted.book, admitted.ticket.settings if admitted.ticket else None,
                           workers, segment_chars)

    def resume_request(self, job: Job, workers: int, segment_chars: int) -> ReadRequest:
        """A job left queued or processing, to be read again (raises InboxError when it cannot be)."""
        book = inside(self.inbox, job.source)
        try:
            book.lstat()  # not os.path.lexists: a share's I/O error is not a book gone
        except (FileNotFoundError, NotADirectoryError):
            raise InboxError(f"the source {shown_name(job.source)} disappeared from the inbox before it "
                             "was converted") from None
        check_entry(book, self.inbox)
        return ReadRequest(self.config, book, _upload_layer(job), workers, segment_chars)

    # ------------------------------------------------------------------ step 2: decide

    def decide(self, admitted: Admitted, book: PlannedBook | None, error: InboxError | None) -> Decision:
        """What the reader's outcome for an admitted entry makes of it."""
        if isinstance(error, TryLater):
            return Retry(error.message, quiet="changed" in error.message)
        if admitted.ticket is not None:
            ticket = self.mailbox.upload_ticket(admitted.ticket.job_id)
            if ticket is not None and ticket.cancelled:  # while it was being read
                return Refused(self._refused_job(admitted.book, admitted.relative, ticket),
                               Cancelled("cancelled at the user's request"))
        try:
            changed = (FileIdentity.of(admitted.book) != admitted.identity or (
                admitted.sidecar is not None and FileIdentity.of(admitted.sidecar) != admitted.sidecar_identity)
                or (admitted.ticket is None and admitted.sidecar is None and sidecar_of(admitted.book)))
        except OSError as problem:
            if transient(problem):
                return Retry(f"cannot look at it now: {problem.strerror or problem}")
            raise
        if changed or (book is not None and book.identity != admitted.identity):
            return Retry("it changed while it was being read", quiet=True)
        if error is not None:
            return Refused(self._refused_job(admitted.book, admitted.relative, admitted.ticket, admitted), error)
        assert book is not None
        return self._decided(admitted, book)

    def _decided(self, admitted: Admitted, read: PlannedBook) -> Decision:
        prepared = read.prepared
        key = job_fingerprint(prepared)
        kept = self.config.after_success == "keep"  # else a completed job's source left the inbox
        same_file = next((j for j in self.store.with_key(key) if j.source == admitted.relative
                          and (j.status.active or (kept and j.status is JobStatus.COMPLETED))), None)
        if same_file is not None and admitted.ticket is None:
            return AlreadyKnown(same_file)
        original = self._original(key, admitted.relative)
        job = self._new_job(admitted.book, admitted.relative, prepared.source_sha256, key, admitted.ticket,
                            admitted)
        job.uploaded = admitted.ticket is not None
        if original is not None:
            job.settings = prepared.settings.as_record()
            return Follower(job, original)  # the service has it follow the original (Job.follow)
        job.describe(prepared, key)
        return NewJob(job, prepared, read.segments)

    # ------------------------------------------------------------------ known files

    def _known(self, admitted: Admitted) -> Decision | None:
        """The very file (same identity) of a job already here: nothing new to convert."""
        if admitted.ticket is not None:
            return None
        for job in reversed(self.store.jobs_of_source(admitted.relative)):
            if job.source_identity != admitted.identity:
                continue
            if job.status.active:
                if job.sidecar_identity != admitted.sidecar_identity:
                    log.warning("job %s: a sidecar for %s arrived or changed after the book was taken; "
                                "this conversion keeps the settings it started with, and the sidecar "
                                "leaves the inbox with the book", job.job_id, shown_name(job.source))
                return AlreadyKnown(job)
            if self._should_have_left(job):
                return Leftover(job)
            if job.status is JobStatus.COMPLETED and job.sidecar_identity == admitted.sidecar_identity:
                return AlreadyKnown(job)  # a kept source, unchanged with its sidecar
        return None

    def _should_have_left(self, job: Job) -> bool:
        if job.status is JobStatus.COMPLETED:
            return self.config.after_success != "keep"
        return job.error_code != OutputError.code  # failed or cancelled; an outbox fault leaves it

    # ------------------------------------------------------------------ jobs

    def _original(self, key: str, relative: str) -> Job | None:
        """The job converting (or that converted) this book with these settings, whose
        audiobook is still there; a book whose audiobook was deleted is converted again."""
        candidates = self.store.originals(key, (*ACTIVE, JobStatus.COMPLETED))
        original = next((j for j in candidates if self._output_exists(j)), None)
        if original is None and candidates:
            log.info("job %s: its audiobook %s is gone from the outbox; converting %s again",
                     candidates[-1].job_id, candidates[-1].output_file, shown_name(relative))
        return original

    def _output_exists(self, job: Job) -> bool:
        if job.status is not JobStatus.COMPLETED:
            return True  # still being made
        try:
            return job.output_file is not None and inside(self.config.paths.outbox, job.output_file).is_file()
        except (ValueError, OSError):
            return False

    def _new_job(self, book: Path, relative: str, sha256: str, key: str, ticket: UploadTicket | None,
                 admitted: Admitted | None = None) -> Job:
        """A job record; an upload keeps the id it was promised.  Its status file is named after
        the book as people read it (bytes that are not UTF-8 become U+FFFD)."""
        stem = self.store.allocate_stem(shown_name(relative).rsplit(".", 1)[0])
        sidecar = admitted.sidecar if admitted else (_sidecar_quietly(book) if ticket is None else None)
        return self.store.create(job_id=ticket.job_id if ticket else None, source=relative,
                                 source_sha256=sha256, settings={}, status_file=f"{stem}.json",
                                 job_key=key,
                                 sidecar=sidecar.relative_to(self.inbox).as_posix() if sidecar else None,
                                 source_identity=admitted.identity if admitted else None,
                                 sidecar_identity=admitted.sidecar_identity if admitted else None)

    def _refused_job(self, book: Path, relative: str, ticket: UploadTicket | None,
                     admitted: Admitted | None = None) -> Job:
        return self._new_job(book, relative, "", f"refused:{relative}", ticket, admitted)


def _sidecar_quietly(book: Path) -> Path | None:
    """The sidecar of an entry being refused: an I/O error only means none is named."""
    try:
        return sidecar_of(book)
    except OSError:
        return None


def _upload_layer(job: Job) -> dict | None:
    """An upload's form settings, kept in its record (its ticket is gone once the job exists)."""
    if not job.uploaded:
        return None
    return {key: job.settings[key] for key in ("voice", "speed", "lang") if key in job.settings}


def check_entry(book: Path, inbox: Path) -> None:
    """Refuse, without opening it, an entry that is not a regular file inside the inbox.
    A transient I/O error (a network share) is raised as it is: the caller tries later."""
    try:
        info = book.lstat()
    except OSError as error:
        if transient(error):
            raise
        raise NotABookFile(f"cannot look at the file: {error.strerror or error}") from None
    if stat.S_ISLNK(info.st_mode):
        target = Path(os.path.realpath(book))
        if not target.is_relative_to(os.path.realpath(inbox)):
            raise NotABookFile(f"a link to {target}, which is outside the inbox; links are followed "
                               "only to files inside the inbox, so copy the book itself")
        try:
            info = target.stat()
        except OSError as error:
            if transient(error):
                raise
            raise NotABookFile("a link to a file that does not exist") from None
    if not stat.S_ISREG(info.st_mode):
        what = file_kind(info.st_mode)
        hint = "; zip it into an .epub file" if stat.S_ISDIR(info.st_mode) else ""
        raise NotABookFile(f"{what}, not a book file; only EPUB files can be converted{hint}")
