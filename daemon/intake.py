"""Intake: a settled entry in the inbox becomes a job, a refusal, or a follower of a job.

Every entry the daemon takes gets a status file, whatever it turns out to be:

- a book to convert: a new queued job;
- the same content with the same settings as a queued, running or completed job
  (whose audiobook still exists): a *follower* that points at that job, shares
  its audiobook, and ends when it ends (its own source is archived as usual);
- anything that cannot be converted (not a regular file, a link out of the
  inbox, not an EPUB, a bad sidecar): a job that fails at once with the reason.

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

from .config import Config
from .converter import PreparedBook, job_fingerprint, prepare_book
from .errors import Cancelled, InboxError, NotABookFile
from .files import file_kind, inside
from .library import job_key
from .mailbox import Mailbox, UploadTicket
from .settings import sidecar_of
from .status import ACTIVE, Job, JobStatus, JobStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewJob:
    job: Job
    prepared: PreparedBook


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


Decision = NewJob | Refused | Follower | AlreadyKnown


class Intake:
    def __init__(self, config: Config, store: JobStore, mailbox: Mailbox) -> None:
        self.config = config
        self.inbox = config.paths.inbox
        self.store = store
        self.mailbox = mailbox

    def take(self, book: Path) -> Decision:
        """Decide what ``book`` (a path in the inbox) becomes; never raises for the book's sake."""
        relative = book.relative_to(self.inbox).as_posix()
        ticket = self.mailbox.ticket_for(relative)
        if ticket is not None and ticket.cancelled:
            return Refused(self._refused_job(book, relative, ticket), Cancelled("cancelled at the user's request"))
        try:
            check_entry(book, self.inbox)
            prepared = prepare_book(self.config, book, upload=ticket.settings if ticket else None)
        except InboxError as error:
            return Refused(self._refused_job(book, relative, ticket), error)
        except Exception as error:  # a bug, not the user's fault: log it whole, refuse the book
            log.exception("unexpected error reading %s", relative)
            return Refused(self._refused_job(book, relative, ticket),
                           InboxError(f"internal error while reading the book: {error}"))
        return self._decide(book, relative, prepared, ticket)

    def resume(self, job: Job) -> PreparedBook:
        """A job left queued or processing: its book read again (raises InboxError)."""
        book = inside(self.inbox, job.source)
        if not os.path.lexists(book):
            raise InboxError(f"the source {job.source} disappeared from the inbox before it was converted")
        check_entry(book, self.inbox)
        return prepare_book(self.config, book, upload=_upload_layer(job))

    # ------------------------------------------------------------------ decisions

    def _decide(self, book: Path, relative: str, prepared: PreparedBook,
                ticket: UploadTicket | None) -> Decision:
        key = job_key(job_fingerprint(prepared), prepared.settings.layout)
        kept = self.config.after_success == "keep"  # else a completed job's source left the inbox
        same_file = next((j for j in self.store.with_key(key) if j.source == relative
                          and (j.status.active or (kept and j.status is JobStatus.COMPLETED))), None)
        if same_file is not None and ticket is None:
            return AlreadyKnown(same_file)
        original = self._original(key, relative)
        job = self._new_job(book, relative, prepared.source_sha256, key, ticket)
        job.settings = prepared.settings.as_record()
        job.uploaded = ticket is not None
        if original is not None:
            job.duplicate_of = original.job_id
            return Follower(job, original)
        job.title, job.author = prepared.title, prepared.author
        job.chars_total = prepared.chars_total
        job.chapters = [{"index": c.index, "title": c.title, "chars": c.chars, "status": "queued"}
                        for c in prepared.chapters]
        return NewJob(job, prepared)

    def _original(self, key: str, relative: str) -> Job | None:
        """The job converting (or that converted) this book with these settings, whose
        audiobook is still there; a book whose audiobook was deleted is converted again."""
        candidates = self.store.originals(key, (*ACTIVE, JobStatus.COMPLETED))
        original = next((j for j in candidates if self._output_exists(j)), None)
        if original is None and candidates:
            log.info("job %s: its audiobook %s is gone from the outbox; converting %s again",
                     candidates[-1].job_id, candidates[-1].output_file, relative)
        return original

    def _output_exists(self, job: Job) -> bool:
        if job.status is not JobStatus.COMPLETED:
            return True  # still being made
        try:
            return job.output_file is not None and inside(self.config.paths.outbox, job.output_file).is_file()
        except ValueError:
            return False

    def _new_job(self, book: Path, relative: str, sha256: str, key: str,
                 ticket: UploadTicket | None) -> Job:
        """A job record; an upload keeps the id it was promised."""
        stem = self.store.allocate_stem(relative.rsplit(".", 1)[0])
        sidecar = sidecar_of(book) if ticket is None else None
        return self.store.create(job_id=ticket.job_id if ticket else None, source=relative,
                                 source_sha256=sha256, settings={}, status_file=f"{stem}.json",
                                 job_key=key,
                                 sidecar=sidecar.relative_to(self.inbox).as_posix() if sidecar else None)

    def _refused_job(self, book: Path, relative: str, ticket: UploadTicket | None) -> Job:
        return self._new_job(book, relative, "", f"refused:{relative}", ticket)


def _upload_layer(job: Job) -> dict | None:
    """An upload's form settings, kept in its record (its ticket is gone once the job exists)."""
    if not job.uploaded:
        return None
    return {key: job.settings[key] for key in ("voice", "speed", "lang") if key in job.settings}


def check_entry(book: Path, inbox: Path) -> None:
    """Refuse, without opening it, an entry that is not a regular file inside the inbox."""
    try:
        info = book.lstat()
    except OSError as error:
        raise NotABookFile(f"cannot look at the file: {error.strerror or error}") from None
    if stat.S_ISLNK(info.st_mode):
        target = Path(os.path.realpath(book))
        if not target.is_relative_to(os.path.realpath(inbox)):
            raise NotABookFile(f"a link to {target}, which is outside the inbox; links are followed "
                               "only to files inside the inbox, so copy the book itself")
        try:
            info = target.stat()
        except OSError:
            raise NotABookFile("a link to a file that does not exist") from None
    if not stat.S_ISREG(info.st_mode):
        what = file_kind(info.st_mode)
        hint = "; zip it into an .epub file" if stat.S_ISDIR(info.st_mode) else ""
        raise NotABookFile(f"{what}, not a book file; only EPUB files can be converted{hint}")
