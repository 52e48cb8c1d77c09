"""The REST API: the original Kokoro TTS API's endpoints and more, over the job state.

The API has no state of its own beyond caches.  It reads jobs through
``status.JobIndex`` (the daemon's journal, so listing ten thousand jobs opens no
file per job) and the status files of the few jobs a page shows; it reads upload
tickets and the heartbeat, and writes tickets and cancel requests, through
``mailbox.Mailbox``; it writes books into the inbox (``upload.py``).  So it runs
inside the daemon (``api.enabled``) or on its own over the same folders
(``kokoro-inbox api``, or any WSGI server given ``create_app(config)``).

Handlers are plain functions of the request; what they share (config, index,
mailbox, upload slots) is the ``ApiContext`` in ``app.config`` (``plugins.py``, with
the jobs as the API shows them in ``jobs.py``).  Three Bottle plugins wrap every
route, outermost first:

- ``ErrorPlugin``: ``ApiError`` (and any bug) -> the original error body;
- ``HostPlugin``: the ``Host`` header against the names this machine answers to
  (DNS rebinding);
- ``AuthPlugin``: the bearer token, from the header; from ``?access_token=`` only
  on routes a browser or a podcast app opens by URL (the download, the feed and the
  chapters and covers it links to), which alone also take the feed's read-only token.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any, Callable

import bottle

from daemon.audio.covers import CoverFiles
from daemon.audio.formats import mime_type
from daemon.config import Config
from daemon.files import inside
from daemon.mailbox import Mailbox
from daemon.speech.languages import LANGUAGES, VOICES, describe_voice
from daemon.status import ACTIVE, audio_files
from daemon.synth.voice_samples import SampleUnavailable, VoiceSamples

from .feed import FEED_ITEMS, FeedLinks, FileFactsCache, build_feed, chapters_json
from .http_server import ApiServer, Limits
from .jobs import JobView, PageQuery, Totals, number
from .plugins import ApiContext, AuthPlugin, ErrorPlugin, HostCheck, HostPlugin, ctx, parse_host
from .upload import ApiError, UploadPolicy, receive_upload

__all__ = ["ApiError", "ApiServer", "create_app"]

log = logging.getLogger(__name__)

HEARTBEAT_STALE = 15.0  # seconds without a heartbeat before /health says the daemon is gone
WEB = Path(__file__).parent / "web"


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
    if record["status"] not in ACTIVE:
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
    """The podcast feed of finished books (daemon/api/feed.py); ETag, so polling apps get 304."""
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
        f"kokoro_inbox_workers {number(beat.get('workers')):.0f}",
        "# HELP kokoro_inbox_characters_total Characters read aloud.",
        "# TYPE kokoro_inbox_characters_total counter", f"kokoro_inbox_characters_total {chars:.0f}",
        "# HELP kokoro_inbox_audio_seconds_total Seconds of audio produced.",
        "# TYPE kokoro_inbox_audio_seconds_total counter", f"kokoro_inbox_audio_seconds_total {audio:.1f}",
        "# HELP kokoro_inbox_characters_per_second Current reading speed.",
        "# TYPE kokoro_inbox_characters_per_second gauge",
        f"kokoro_inbox_characters_per_second {number(beat.get('chars_per_second')):.2f}",
        "# HELP kokoro_inbox_disk_free_bytes Free space where audiobooks and checkpoints are written.",
        "# TYPE kokoro_inbox_disk_free_bytes gauge",
    ]
    lines += [f'kokoro_inbox_disk_free_bytes{{folder="{name}"}} {free}' for name, free in disk_free(beat).items()]
    return "\n".join(lines) + "\n"


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
