"""``POST /convert``: one upload, from the request to a book in the inbox with its ticket.

The steps, each refusing early and cheaply:

1. the request: a ``Content-Length`` (411 without), not above ``api.max_upload_mb``
   (413, before a byte of the body is read), room in the queue and a free upload
   slot (503 with ``Retry-After``, also before the body);
2. the body, streamed to a hidden temporary file in the inbox, the form fields
   checked as soon as they arrive (400), the file checked to be an EPUB (400);
3. delivery: a free name is *claimed* (a reservation file created with
   ``O_EXCL``, so two uploads of ``Book.epub`` can never pick the same name), the
   upload ticket (job id and settings, see ``mailbox.py``) is written, and only then
   does the book appear in the inbox, through a hard link that fails rather than
   overwrite whatever a user may have dropped under that name meanwhile.

Every failure removes the temporary file, the reservation and the ticket.  No
sidecar is ever written: an upload's settings travel in its ticket, so an upload
named ``folder.epub`` cannot become a ``folder.yaml`` that hands its voice to other
people's books.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import threading
import time
import unicodedata
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

import multipart

from daemon.config import Config
from daemon.errors import InvalidSetting
from daemon.files import NAME_MAX, fit_name, free_name, sync_folder, temp_path
from daemon.mailbox import Mailbox, UploadTicket
from daemon.settings import SIDECAR_SUFFIXES, SPEED_RANGE, BookSettings, check_setting
from daemon.speech.languages import LANGUAGES
from daemon.status import utc_now

log = logging.getLogger(__name__)

CHUNK = 1 << 16
FORM_SLACK = 64 << 10  # bytes the multipart form may add around the file
STEM_BYTES = 150  # an upload's name stays well below NAME_MAX, leaving room for ' (2)', '.json', '.mp3'
RESERVATION_STALE = 60.0  # seconds: a reservation this old belongs to a process that died
MAX_NAME_TRIES = 1000
RETRY_UPLOAD_SLOT = 10  # seconds to suggest when every upload slot is busy
RETRY_QUEUE_FULL = 60  # seconds to suggest when the queue is full


class ApiError(Exception):
    """An answer in the original API's error shape: ``{"detail": {"type", "loc", "msg"}}``.

    It lives here, beside the flow that raises most of them, and ``plugins.py`` maps it
    to a response in one place (its error plugin).
    """

    def __init__(self, status: int, msg: str, loc: list[str] | None = None,
                 kind: str = "value_error", headers: dict[str, str] | None = None) -> None:
        super().__init__(msg)
        self.status, self.msg, self.loc, self.kind = status, msg, loc or [], kind
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"detail": {"type": self.kind, "loc": self.loc, "msg": self.msg}}


class ClientGone(Exception):
    """The client stopped sending the body (it went away, stalled, or the guard dropped it)."""


@dataclass
class UploadPolicy:
    """What the API allows, from the config; one per app."""

    max_bytes: int
    max_queue: int
    slots: threading.BoundedSemaphore
    default_lang: str

    @classmethod
    def from_config(cls, config: Config) -> "UploadPolicy":
        return cls(config.max_upload_mb << 20, config.api_max_queue,
                   threading.BoundedSemaphore(config.api_max_uploads), config.book_defaults.lang)


# --------------------------------------------------------------------------- the flow

def receive_upload(environ: dict[str, Any], policy: UploadPolicy, inbox: Path, mailbox: Mailbox,
                   waiting: Callable[[], int]) -> UploadTicket:
    """The whole of ``POST /convert``; ``waiting`` counts the books queued now."""
    length = _content_length(environ, policy.max_bytes)
    if waiting() >= policy.max_queue:
        raise _queue_full(policy)
    if not policy.slots.acquire(blocking=False):
        raise ApiError(503, "too many uploads at once; try again shortly", ["body", "file"],
                       kind="service_unavailable", headers={"Retry-After": str(RETRY_UPLOAD_SLOT)})
    upload = Upload(inbox, policy.max_bytes)
    try:
        return _store(upload, environ, length, policy, inbox, mailbox, waiting)
    except OSError as error:  # the inbox or the request folder cannot take it: missing, full, read-only
        log.error("an upload cannot be stored: %s", error)  # the path is for the log, not the client
        raise ApiError(500, f"the upload cannot be stored on the server: {error.strerror or error}",
                       ["body", "file"], kind="storage_error") from None
    finally:
        upload.discard()
        policy.slots.release()


def _store(upload: "Upload", environ: dict[str, Any], length: int, policy: UploadPolicy, inbox: Path,
           mailbox: Mailbox, waiting: Callable[[], int]) -> UploadTicket:
    upload.receive(environ, length, lambda fields: form_settings(fields, policy.default_lang))
    settings = form_settings(upload.fields, policy.default_lang)
    if upload.file_name is None:
        raise ApiError(400, "field required", ["body", "file"], kind="value_error.missing")
    problem = epub_problem(upload.tmp)
    if problem:
        raise ApiError(400, problem, ["body", "file"])
    if waiting() >= policy.max_queue:  # others may have filled it while this one arrived
        raise _queue_full(policy)
    return deliver(upload.tmp, safe_file_name(upload.file_name), settings, inbox, mailbox)


def _queue_full(policy: UploadPolicy) -> ApiError:
    return ApiError(503, f"the queue is full ({policy.max_queue} books waiting); try again later",
                    ["queue"], kind="service_unavailable", headers={"Retry-After": str(RETRY_QUEUE_FULL)})


def _content_length(environ: dict[str, Any], limit: int) -> int:
    if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
        raise ApiError(411, "uploads need a Content-Length; chunked uploads are not accepted",
                       ["header", "Content-Length"])
    try:
        length = int(environ.get("CONTENT_LENGTH") or -1)
    except ValueError:
        length = -1
    if length < 0:
        raise ApiError(411, "uploads need a Content-Length", ["header", "Content-Length"])
    if length > limit + FORM_SLACK:
        raise ApiError(413, f"the upload is larger than {limit >> 20} MB", ["file"])
    return length


# --------------------------------------------------------------------------- the body

@dataclass
class Upload:
    """One multipart upload streamed to a hidden file in the inbox, within a byte budget."""

    inbox: Path
    limit: int
    fields: dict[str, str] = field(default_factory=dict)
    file_name: str | None = None
    size: int = 0

    def __post_init__(self) -> None:
        self.tmp = temp_path(self.inbox / "upload.epub")  # hidden: the watcher never takes it
        self._out: BinaryIO | None = None

    def receive(self, environ: dict[str, Any], length: int,
                check_fields: Callable[[dict[str, str]], Any] | None = None) -> None:
        """Stream the body; ``check_fields`` runs on the fields sent before the file, if any."""
        content_type, options = multipart.parse_options_header(environ.get("CONTENT_TYPE", ""))
        if content_type != "multipart/form-data" or "boundary" not in options:
            raise ApiError(400, "the request must be multipart/form-data with a 'file' field", ["body"])
        parser = multipart.PushMultipartParser(options["boundary"], content_length=length,
                                               max_header_count=16, max_segment_count=16)
        try:
            self._parse(environ["wsgi.input"], parser, length, check_fields)
        except multipart.MultipartError as error:
            raise ApiError(400, f"the form could not be read: {error}", ["body"]) from None
        finally:
            if self._out is not None:
                self._out.close()

    def _parse(self, stream: Any, parser: Any, length: int,
               check_fields: Callable[[dict[str, str]], Any] | None) -> None:
        remaining, part, value = length, None, b""
        while not parser.closed:
            chunk = _read(stream, min(CHUNK, remaining)) if remaining > 0 else b""
            remaining -= len(chunk)
            for event in parser.parse(chunk):
                if isinstance(event, multipart.MultipartSegment):
                    part, value = event, b""
                    if part.name == "file" and part.filename is not None and self._out is None:
                        if check_fields and "voice" in self.fields:
                            check_fields(self.fields)  # a bad form is refused before the file
                        self.file_name = part.filename
                        self._out = open(self.tmp, "xb")
                elif event is None:
                    if part is not None and part.filename is None:
                        self.fields[part.name or ""] = value.decode("utf-8", "replace")
                    part = None
                elif part is not None and part.name == "file" and part.filename is not None:
                    self._write(event)
                elif part is not None and len(value) < 4096:
                    value += event
            if not chunk:
                break
        if remaining > 0:
            raise ClientGone(f"the body ended {remaining} bytes short of its Content-Length")
        if self._out is not None:
            self._out.flush()
            os.fsync(self._out.fileno())

    def _write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise ApiError(413, f"the upload is larger than {self.limit >> 20} MB", ["file"])
        assert self._out is not None
        self._out.write(data)

    def discard(self) -> None:
        self.tmp.unlink(missing_ok=True)


def _read(stream: Any, size: int) -> bytes:
    try:
        return stream.read(size)
    except OSError as error:  # timed out, reset, or shut down by the guard
        raise ClientGone(str(error) or type(error).__name__) from None


# --------------------------------------------------------------------------- checks

def form_settings(fields: dict[str, str], default_lang: str) -> dict[str, Any]:
    """The form's voice, speed and lang, checked by the settings' own checks and refused in
    the original API's words."""
    voice = fields.get("voice")
    if not voice:
        raise ApiError(400, "field required", ["body", "voice"], kind="value_error.missing")
    return {"voice": _form_value("voice", voice, lambda _: "Invalid voice selection"),
            "speed": _form_value("speed", fields.get("speed") or BookSettings.speed, _speed_problem),
            "lang": _form_value("lang", fields.get("lang") or default_lang,
                                lambda _: f"Unsupported language; use one of {', '.join(LANGUAGES)}")}


def _form_value(name: str, value: Any, answer: Callable[[InvalidSetting], str]) -> Any:
    try:
        return check_setting(name, value)
    except InvalidSetting as error:
        raise ApiError(400, answer(error), [name]) from None


def _speed_problem(error: InvalidSetting) -> str:
    if "out of range" in error.message:
        return f"Speed must be between {SPEED_RANGE[0]} and {SPEED_RANGE[1]}"
    return "Speed must be a number"


def epub_problem(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return "not an EPUB: the file is not a ZIP archive"
    if "META-INF/container.xml" not in names and not any(n.lower().endswith(".opf") for n in names):
        return "not an EPUB: the ZIP has no META-INF/container.xml"
    return None


def safe_file_name(name: str | None) -> str:
    """A harmless file name for an upload: no folders, no control or hidden tricks, short."""
    name = unicodedata.normalize("NFC", (name or "").replace("\\", "/").rsplit("/", 1)[-1])
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '<>:"|?*')
    name = name.strip().lstrip(".~ ")
    stem = (name[:-5] if name.lower().endswith(".epub") else name).strip()
    stem = fit_name(stem, "", reserve=NAME_MAX - STEM_BYTES).strip() or "upload"
    return f"{stem}.epub"


# --------------------------------------------------------------------------- delivery

def deliver(tmp: Path, name: str, settings: dict[str, Any], inbox: Path, mailbox: Mailbox) -> UploadTicket:
    """Claim a free inbox name, write the ticket, then let the book appear under that name."""
    job_id = str(uuid.uuid4())
    claimed = {t.source for t in mailbox.upload_tickets()}  # names promised to books still on their way
    delivered: list[UploadTicket] = []
    tries = 0

    def unavailable(path: Path) -> bool:
        """free_name's question "is this name taken?", answered by trying to take it."""
        nonlocal tries
        tries += 1
        if tries > MAX_NAME_TRIES:
            raise ApiError(503, "no free name for this upload in the inbox; try again later",
                           ["body", "file"], kind="service_unavailable", headers={"Retry-After": "60"})
        if path.name in claimed or _name_in_use(path):
            return True
        ticket = _try_name(tmp, path, job_id, settings, mailbox)
        if ticket is None:
            return True
        delivered.append(ticket)
        return False

    free_name(inbox / name, unavailable)
    return delivered[0]


def _name_in_use(path: Path) -> bool:
    # A sidecar of that name would apply to the book, so it rules the name out as well.
    return any(os.path.lexists(p) for p in (path, *(path.with_suffix(s) for s in SIDECAR_SUFFIXES)))


def _try_name(tmp: Path, path: Path, job_id: str, settings: dict[str, Any],
              mailbox: Mailbox) -> UploadTicket | None:
    with _reservation(mailbox.requests, path.name) as held:
        if not held or _name_in_use(path):
            return None
        ticket = UploadTicket(job_id, path.name, settings, utc_now())
        mailbox.post_upload(ticket)  # the ticket exists before the book can be seen
        try:
            placed = _place(tmp, path)
        except BaseException:
            mailbox.close_upload(job_id)
            raise
        if not placed:
            mailbox.close_upload(job_id)
            return None
        return ticket


@contextlib.contextmanager
def _reservation(folder: Path, name: str) -> Iterator[bool]:
    """Hold ``name`` against other uploads (this process or another) while it is delivered."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"reserve-{hashlib.sha256(name.encode('utf-8')).hexdigest()[:32]}"
    held = _create_exclusive(path)
    if not held and _stale(path):
        path.unlink(missing_ok=True)
        held = _create_exclusive(path)
    try:
        yield held
    finally:
        if held:
            path.unlink(missing_ok=True)


def _create_exclusive(path: Path) -> bool:
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        return True
    except FileExistsError:
        return False


def _stale(path: Path) -> bool:
    try:
        return time.time() - path.stat().st_mtime > RESERVATION_STALE
    except OSError:
        return False


NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS}


def _place(tmp: Path, path: Path) -> bool:
    """Give the book its name without ever replacing a file; False when the name was taken."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    except OSError as error:
        if error.errno not in NO_HARD_LINKS:
            raise
        # A filesystem without hard links (some NAS mounts): the reservation still keeps
        # other uploads off this name; only a user's own file could slip in between.
        if os.path.lexists(path):
            return False
        os.replace(tmp, path)
    sync_folder(path.parent)
    return True


