"""The REST API: the original Kokoro TTS API's endpoints and more, over the job state.

The API has no state of its own beyond caches.  It reads jobs through
``status.JobIndex`` (the daemon's journal, so listing ten thousand jobs opens no
file per job) and the status files of the few jobs a page shows; it reads upload
tickets and the heartbeat, and writes tickets and cancel requests, through
``mailbox.Mailbox``; it writes books into the inbox (``upload.py``).  So it runs
inside the daemon (``api.enabled``) or on its own over the same folders
(``kokoro-inbox api``, or any WSGI server given ``create_app(config)``).

Handlers are plain functions of the request; what they share (config, index,
mailbox, upload slots) is the ``ApiContext`` in ``app.config``.  Three Bottle
plugins wrap every route, outermost first:

- ``ErrorPlugin``: ``ApiError`` (and any bug) -> the original error body;
- ``HostPlugin``: the ``Host`` header against the names this machine answers to
  (DNS rebinding);
- ``AuthPlugin``: the bearer token, from the header; from ``?access_token=`` only
  on routes a browser or a podcast app opens by URL (the download, the feed and the
  chapters and covers it links to), which alone also take the feed's read-only token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from heapq import merge
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import bottle

from .audio_formats import mime_type
from .config import Config
from .covers import CoverFiles
from .feed import FEED_ITEMS, FeedLinks, FileFactsCache, build_feed, chapters_json
from .files import inside
from .http_server import ApiServer, Limits
from .languages import LANGUAGES, VOICES, describe_voice
from .mailbox import Mailbox, UploadTicket
from .status import JobIndex, JobStatus, audio_files, is_job_id, journal_path
from .upload import ApiError, ClientGone, UploadPolicy, receive_upload
from .voice_samples import SampleUnavailable, VoiceSamples

__all__ = ["ApiError", "ApiServer", "create_app"]

log = logging.getLogger(__name__)

HEARTBEAT_STALE = 15.0  # seconds without a heartbeat before /health says the daemon is gone
PAGE_DEFAULT, PAGE_MAX = 50, 500
QUERY_MAX = 200  # characters of a ?q= search
WEB = Path(__file__).parent / "web"
STATUSES = tuple(s.value for s in JobStatus)


# --------------------------------------------------------------------------- shared state

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
        self.chars += _number(record.get("chars_done"))
        self.audio += _number(record.get("audio_seconds"))


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
            if summary["status"] in ("queued", "processing"):
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


class HostCheck:
    """Which ``Host`` headers the API answers (DNS rebinding: a page on an attacker's name
    that resolves to this machine must not reach the API through the visitor's browser).

    Allowed: any IP literal (rebinding needs a name the attacker controls), localhost,
    this machine's host name, its FQDN and ``<hostname>.local``, the configured
    ``api.host`` when it is a name, and ``api.allowed_hosts`` (``.example.org`` for a
    domain and its subdomains; ``*`` turns the check off, e.g. behind a reverse proxy).
    """

    def __init__(self, allowed: Iterable[str], bind_host: str) -> None:
        allowed = {name.lower().rstrip(".") for name in allowed}
        self.off = "*" in allowed
        self.suffixes = tuple(name for name in allowed if name.startswith("."))
        hostname = socket.gethostname().lower().rstrip(".")
        self.names = {name for name in allowed if not name.startswith(".")} | {
            "localhost", hostname, f"{hostname}.local", bind_host.lower().rstrip(".")}
        self._fqdn: str | None = None

    def allows(self, header: str | None) -> bool:
        if self.off or not header:  # no Host at all: not a browser, so not a rebinding attack
            return True
        parsed = parse_host(header)
        if parsed is None:  # '[::1]@evil.example' and other shapes no browser sends
            return False
        host = parsed[0]
        if _is_ip(host) or host in self.names:
            return True
        if any(host == s[1:] or host.endswith(s) for s in self.suffixes):
            return True
        return host == self._machine_fqdn()

    def _machine_fqdn(self) -> str:
        # Looked up on the first request that needs it, not at start-up: a slow resolver
        # must not delay READY=1.
        if self._fqdn is None:
            self._fqdn = socket.getfqdn().lower().rstrip(".")
        return self._fqdn


# host[:port]: a name or IPv4 address, or an IPv6 address in brackets; nothing else.
_HOST_HEADER = re.compile(r"(?:\[([0-9a-f:.]+)\]|([a-z0-9_.-]+))(?::([0-9]{1,5}))?")


def parse_host(header: str) -> tuple[str, str | None] | None:
    """A Host header's host (lower case, no trailing dot, an IPv6 address unbracketed) and
    port, or None when it is not strictly ``host[:port]``."""
    match = _HOST_HEADER.fullmatch(header.strip().lower())
    if match is None:
        return None
    bracketed, name, port = match.groups()
    if bracketed is not None and not _is_ip(bracketed):
        return None
    host = bracketed or name.rstrip(".")
    if not host or (port is not None and not 0 < int(port) < 65536):
        return None
    return host, port


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


@dataclass
class ApiContext:
    config: Config
    mailbox: Mailbox
    jobs: JobView
    uploads: UploadPolicy
    hosts: HostCheck
    files: FileFactsCache  # size and cover of each finished audiobook, for the feed
    covers: CoverFiles  # each finished book's cover as a file, made once
    samples: VoiceSamples  # a few seconds of each voice, made on first request
    started: float = field(default_factory=time.monotonic)


def ctx() -> ApiContext:
    return bottle.request.app.config["kokoro.api"]


# --------------------------------------------------------------------------- plugins

class ErrorPlugin:
    """``ApiError`` -> the original error body; a bug -> 500 with one log line and a traceback;
    a client that went away mid-request -> one INFO line."""

    name, api = "kokoro_errors", 2

    def apply(self, callback: Callable[..., Any], route: bottle.Route) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return callback(*args, **kwargs)
            except ApiError as error:
                return error_response(error)
            except ClientGone as gone:
                _log_client_gone(str(gone))
                return error_response(ApiError(408, "the request body did not arrive in time", ["body"]))
            except bottle.HTTPResponse:
                raise
            except Exception:
                log.exception("API error on %s %s", bottle.request.method, bottle.request.path)
                return error_response(ApiError(500, "internal error; see the daemon's log"))
        return wrapper


def error_response(error: ApiError) -> dict[str, Any]:
    bottle.response.status = error.status
    for name, value in error.headers.items():
        bottle.response.set_header(name, value)
    if error.status == 401:
        bottle.response.set_header("WWW-Authenticate", "Bearer")
    return error.body()


def _log_client_gone(reason: str) -> None:
    conn = bottle.request.environ.get("kokoro.connection")
    if getattr(conn, "dropped", None):
        return  # the guard logged why it dropped this client
    peer = f"{bottle.request.remote_addr}:{bottle.request.environ.get('REMOTE_PORT', '')}"
    log.info("client %s (%s %s) went away: %s", peer, bottle.request.method, bottle.request.path, reason)


class HostPlugin:
    name, api = "kokoro_host", 2

    def apply(self, callback: Callable[..., Any], route: bottle.Route) -> Callable[..., Any]:
        # /health is exempt: it holds no data, and health probes (a container runtime, a
        # proxy, a monitoring box) call it by whatever name they know the machine by.
        if route.config.get("any_host"):
            return callback

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            header = bottle.request.get_header("Host")
            if not ctx().hosts.allows(header):
                raise ApiError(400, f"this server does not answer to the host name {header[:100]!r}; "
                               "add it to api.allowed_hosts", ["header", "Host"])
            return callback(*args, **kwargs)
        return wrapper


class AuthPlugin:
    """With ``api.token`` set, the bearer token on every route but the public ones.

    ``?access_token=`` (RFC 6750) only where a browser or a podcast app opens the URL
    itself and cannot send a header: the page's audio player and download link, the feed
    and the chapters and covers it names.  Anywhere else a token in a URL would end up in
    logs and history for no reason.  The feed's own token (``api.feed_token``) is taken
    only by the feed and what it links to: it is in every podcast URL, so it reads and
    never writes.
    """

    name, api = "kokoro_auth", 2

    def apply(self, callback: Callable[..., Any], route: bottle.Route) -> Callable[..., Any]:
        if route.config.get("public"):
            return callback
        in_query = bool(route.config.get("query_token"))
        for_feed = bool(route.config.get("feed_token"))

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            config = ctx().config
            if config.api_token:
                feed = [config.api_feed_token] if for_feed and config.api_feed_token else []
                _check_token([config.api_token, *feed], in_query)
            return callback(*args, **kwargs)
        return wrapper


def _check_token(accepted: list[str], in_query: bool) -> None:
    scheme, _, given = bottle.request.get_header("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        given = bottle.request.query.get("access_token", "") if in_query else ""
    given_bytes = given.strip().encode()
    if not given or not any(hmac.compare_digest(given_bytes, token.encode()) for token in accepted):
        raise ApiError(401, "missing or wrong bearer token", ["header", "Authorization"])


# --------------------------------------------------------------------------- handlers

def convert() -> dict[str, Any]:
    context = ctx()
    ticket = receive_upload(bottle.request.environ, context.uploads, context.config.paths.inbox,
                            context.mailbox, context.jobs.waiting)
    log.info("job %s: uploaded as %s", ticket.job_id, ticket.source)
    bottle.response.status = 202
    bottle.response.set_header("Location", f"/status/{ticket.job_id}")
    return {"job_id": ticket.job_id, "message": "Conversion started", "status": "queued"}


def get_status(job_id: str) -> dict[str, Any]:
    return _job_or_404(job_id)


def list_jobs() -> dict[str, Any]:
    records, next_cursor = ctx().jobs.page(PageQuery.from_request(bottle.request.query))
    return {"jobs": records, "next_cursor": next_cursor}


def cancel_job(job_id: str) -> dict[str, Any]:
    record = _job_or_404(job_id)
    if record["status"] not in ("queued", "processing"):
        raise ApiError(409, f"the job is {record['status']}, not queued or processing", ["path", "job_id"])
    ctx().mailbox.request_cancel(job_id)
    bottle.response.status = 202
    return {"job_id": job_id, "message": "Cancellation requested", "status": record["status"]}


def _finished_audio(job_id: str, part: int = 1) -> tuple[dict[str, Any], Path]:
    """A completed job's record and its audio file (``part``: which of a book split into
    chapter files, from 1), which must lie inside the outbox."""
    record = _job_or_404(job_id)
    if record.get("status") != "completed" or not record.get("output_file"):
        raise ApiError(404, "the audiobook is not ready", ["path", "job_id"])
    files = audio_files(record)
    if not 1 <= part <= len(files):
        raise ApiError(404, f"the audiobook has {len(files)} file{'s' if len(files) > 1 else ''}, "
                       f"not a part {part}", ["query", "part"])
    outbox = ctx().config.paths.outbox.resolve()
    try:
        target = inside(outbox, files[part - 1]).resolve()
    except ValueError:
        raise ApiError(404, "Job not found", ["path", "job_id"]) from None
    if outbox not in target.parents or not target.is_file():  # a link out of the outbox is not served
        raise ApiError(404, "Job not found", ["path", "job_id"])
    return record, target


def download(job_id: str) -> Any:
    """The audiobook; ``?part=N`` the Nth file of a book split into chapter files (the
    first without it)."""
    _, target = _finished_audio(job_id, _part(bottle.request.query.get("part")))
    outbox = ctx().config.paths.outbox.resolve()
    relative = target.relative_to(outbox).as_posix()
    return bottle.static_file(relative, root=str(outbox), mimetype=mime_type(target.name),
                              download=Path(relative).name)


def _part(raw: str | None) -> int:
    if raw is None:
        return 1
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 5:  # "²".isdigit(), but int("²") fails
        raise ApiError(400, "part must be a file's number, from 1", ["query", "part"])
    return int(raw)


def feed() -> Any:
    """The podcast feed of finished books (daemon/feed.py); ETag, so polling apps get 304."""
    context = ctx()
    links = FeedLinks(_public_base(context.config), context.config.api_feed_token)  # never the admin token
    books = []
    for summary in context.jobs.finished_books(FEED_ITEMS):
        facts = context.files.get(summary["job_id"], audio_files(summary))
        if facts is not None:  # an audiobook someone deleted is left out
            books.append((summary, facts))
    body = build_feed(books, links)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    bottle.response.set_header("ETag", etag)
    bottle.response.set_header("Cache-Control", "no-cache")
    if etag in bottle.request.get_header("If-None-Match", ""):
        bottle.response.status = 304
        return b""
    bottle.response.content_type = "application/rss+xml; charset=utf-8"
    return body


def _public_base(config: Config) -> str:
    """Where clients reach this API: api.public_url (a reverse proxy), else the address the
    request came to, rebuilt from its parsed Host header (never echoed: with the host check
    off, it may be anything), else the address the server listens on."""
    if config.api_public_url:
        return config.api_public_url.rstrip("/")
    environ = bottle.request.environ
    parsed = parse_host(bottle.request.get_header("Host") or "")
    host, port = parsed or (str(environ.get("SERVER_NAME")), str(environ.get("SERVER_PORT")))
    address = f"[{host}]" if ":" in host else host
    return f"{environ.get('wsgi.url_scheme', 'http')}://{address}{':' + port if port else ''}"


def chapters(job_id: str) -> str:
    """The book's chapters as Podcasting 2.0 JSON chapters."""
    record, _ = _finished_audio(job_id)
    bottle.response.content_type = "application/json+chapters"
    return json.dumps(chapters_json(record), ensure_ascii=False)


def cover(job_id: str) -> Any:
    """The cover the audiobook carries in its tags (from the EPUB), from the file it was
    taken out into once: a request never reads the tags."""
    _, target = _finished_audio(job_id)
    found = ctx().covers.get(job_id, target)
    if found is None:
        raise ApiError(404, "the audiobook has no cover", ["path", "job_id"])
    response = bottle.static_file(found.name, root=str(found.parent),
                                  mimetype="image/png" if found.suffix == ".png" else "image/jpeg")
    response.set_header("Cache-Control", "max-age=86400")
    return response


def voices() -> dict[str, Any]:
    """The original ``voices`` list, and beside it each voice as a person names it."""
    details = [{**describe_voice(v), "sample": f"/voices/{v}/sample"} for v in VOICES]
    for detail in details:  # the voice a book of its language gets unless another is asked for
        detail["default"] = LANGUAGES[detail["lang"]].default_voice == detail["id"]
    return {"voices": list(VOICES), "details": details}


SAMPLE_RETRY = 3  # seconds a client waits before asking again for a sample being made


def voice_sample(name: str) -> Any:
    """A few seconds of the voice (WAV), made on the first request and kept; until it is
    there, 202 with Retry-After at once (the request never waits for the model)."""
    if name not in VOICES:
        raise ApiError(404, "Invalid voice selection", ["path", "name"])
    try:
        path = ctx().samples.get(name)
    except SampleUnavailable as error:
        raise ApiError(503, error.message, ["path", "name"]) from None
    if path is None:  # accepted: it is being made, and will be there when asked again
        bottle.response.status = 202
        bottle.response.set_header("Retry-After", str(SAMPLE_RETRY))
        return {"voice": name, "status": "being made", "retry_after": SAMPLE_RETRY}
    response = bottle.static_file(path.name, root=str(path.parent), mimetype="audio/wav")
    response.set_header("Cache-Control", "max-age=86400")
    return response


def languages() -> dict[str, Any]:
    return {"languages": list(LANGUAGES)}


def health() -> dict[str, Any]:
    beat = ctx().mailbox.heartbeat()
    healthy, reason = daemon_health(beat)
    bottle.response.status = 200 if healthy else 503
    return {"status": "ok" if healthy else "unavailable", "reason": reason,
            "disk_free_bytes": disk_free(beat)}


def metrics() -> str:
    context = ctx()
    bottle.response.content_type = "text/plain; version=0.0.4; charset=utf-8"
    return render_metrics(context.jobs.totals(), context.mailbox.heartbeat())


def openapi() -> dict[str, Any]:
    from .openapi import OPENAPI
    return OPENAPI


def index_page() -> Any:
    return bottle.static_file("index.html", root=str(WEB))


def static(name: str) -> Any:
    if name not in ("app.js", "style.css"):
        raise ApiError(404, "Not found", ["path"])
    return bottle.static_file(name, root=str(WEB))


def _job_or_404(job_id: str) -> dict[str, Any]:
    record = ctx().jobs.get(job_id)
    if record is None:
        raise ApiError(404, "Job not found", ["path", "job_id"])
    return record


def daemon_health(beat: dict[str, Any] | None) -> tuple[bool, str]:
    if beat is None:
        return False, "the daemon is not running (no heartbeat)"
    try:
        age = time.time() - float(beat.get("time", 0))
    except (TypeError, ValueError):
        return False, "the daemon's heartbeat cannot be read"
    if beat.get("state") == "stopped":
        return False, "the daemon is not running (it was stopped)"
    if age > HEARTBEAT_STALE:
        return False, f"the daemon has not reported for {age:.0f} s"
    if beat.get("watcher") != "alive":
        return False, f"the inbox watcher is not running: {beat.get('watcher')}"
    if beat.get("pool") != "alive":
        return False, f"the worker pool is not running: {beat.get('pool')}"
    return True, "watcher and worker pool are alive"


def disk_free(beat: dict[str, Any] | None) -> dict[str, int]:
    """Free bytes where the daemon writes audiobooks and checkpoints, as its heartbeat says."""
    found = (beat or {}).get("disk_free_bytes")
    if not isinstance(found, dict):
        return {}
    return {name: int(found[name]) for name in ("outbox", "processing")
            if isinstance(found.get(name), int) and not isinstance(found.get(name), bool)}


def render_metrics(totals: Totals, beat: dict[str, Any] | None) -> str:
    counts, chars, audio = totals.counts, totals.chars, totals.audio
    beat = beat or {}
    lines = ["# HELP kokoro_inbox_jobs Jobs by status.", "# TYPE kokoro_inbox_jobs gauge"]
    lines += [f'kokoro_inbox_jobs{{status="{s}"}} {n}' for s, n in sorted(counts.items())]
    lines += [
        "# HELP kokoro_inbox_queue_depth Jobs waiting or running.", "# TYPE kokoro_inbox_queue_depth gauge",
        f"kokoro_inbox_queue_depth {counts['queued'] + counts['processing']}",
        "# HELP kokoro_inbox_workers Worker processes.", "# TYPE kokoro_inbox_workers gauge",
        f"kokoro_inbox_workers {_number(beat.get('workers')):.0f}",
        "# HELP kokoro_inbox_characters_total Characters read aloud.",
        "# TYPE kokoro_inbox_characters_total counter", f"kokoro_inbox_characters_total {chars:.0f}",
        "# HELP kokoro_inbox_audio_seconds_total Seconds of audio produced.",
        "# TYPE kokoro_inbox_audio_seconds_total counter", f"kokoro_inbox_audio_seconds_total {audio:.1f}",
        "# HELP kokoro_inbox_characters_per_second Current reading speed.",
        "# TYPE kokoro_inbox_characters_per_second gauge",
        f"kokoro_inbox_characters_per_second {_number(beat.get('chars_per_second')):.2f}",
        "# HELP kokoro_inbox_disk_free_bytes Free space where audiobooks and checkpoints are written.",
        "# TYPE kokoro_inbox_disk_free_bytes gauge",
    ]
    lines += [f'kokoro_inbox_disk_free_bytes{{folder="{name}"}} {free}' for name, free in disk_free(beat).items()]
    return "\n".join(lines) + "\n"


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


# --------------------------------------------------------------------------- the app

# path, method, handler, route options (public: no token; query_token: ?access_token=
# accepted; feed_token: the feed's read-only token accepted too; any_host: no Host check)
ROUTES: list[tuple[str, str, Callable[..., Any], dict[str, bool]]] = [
    ("/convert", "POST", convert, {}),
    ("/status/<job_id>", "GET", get_status, {}),
    ("/jobs", "GET", list_jobs, {}),
    ("/jobs/<job_id>", "DELETE", cancel_job, {}),
    ("/download/<job_id>", "GET", download, {"query_token": True, "feed_token": True}),
    ("/feed.xml", "GET", feed, {"query_token": True, "feed_token": True}),
    ("/chapters/<job_id>", "GET", chapters, {"query_token": True, "feed_token": True}),
    ("/cover/<job_id>", "GET", cover, {"query_token": True, "feed_token": True}),
    ("/voices", "GET", voices, {}),
    ("/voices/<name>/sample", "GET", voice_sample, {"query_token": True}),
    ("/languages", "GET", languages, {}),
    ("/health", "GET", health, {"public": True, "any_host": True}),
    ("/metrics", "GET", metrics, {}),
    ("/openapi.json", "GET", openapi, {"public": True}),
    # The page and its files hold no data (the calls they make need the token).
    ("/", "GET", index_page, {"public": True}),
    ("/static/<name>", "GET", static, {"public": True}),
]


def create_app(config: Config) -> bottle.Bottle:
    """The WSGI app over ``config``'s folders; ``ApiServer`` serves it with the config's limits."""
    paths = config.paths
    mailbox = Mailbox(paths.processing)
    covers = CoverFiles(paths.processing / "covers")
    app = bottle.Bottle()
    app.config["kokoro.api"] = ApiContext(
        config=config, mailbox=mailbox, jobs=JobView(paths.outbox, paths.processing, mailbox),
        uploads=UploadPolicy.from_config(config),
        hosts=HostCheck(config.api_allowed_hosts, config.api_host), files=FileFactsCache(paths.outbox, covers),
        covers=covers,
        samples=VoiceSamples(paths.processing / "voice-samples", config.models_dir, config.models_variant))
    app.config["kokoro.limits"] = Limits(
        header_timeout=config.api_header_timeout, body_grace=config.api_body_window,
        body_min_rate=config.api_body_min_rate)
    for plugin in (ErrorPlugin(), HostPlugin(), AuthPlugin()):  # outermost first
        app.install(plugin)
    for path, method, handler, options in ROUTES:
        app.route(path, method, handler, **options)
    for code, msg, loc in ((404, "Not found", "path"), (405, "Method not allowed", "method")):
        app.error(code)(_error_page(ApiError(code, msg, [loc])))
    app.error(500)(_internal_error)
    return app


def _error_page(error: ApiError) -> Callable[[bottle.HTTPError], str]:
    def page(_: bottle.HTTPError) -> str:
        bottle.response.content_type = "application/json"
        return json.dumps(error.body())
    return page


def _internal_error(error: bottle.HTTPError) -> str:
    log.error("API error: %s", error.exception)
    bottle.response.content_type = "application/json"
    return json.dumps(ApiError(500, "internal error; see the daemon's log").body())
