"""The REST API (the original Kokoro TTS API's endpoints, and more) over the job state.

``create_app`` builds a Bottle app with no state of its own: it reads the
status files in the outbox, the upload tickets and the daemon's heartbeat, and
writes only into the inbox (uploads) and the request folder (cancel, upload
tickets).  So it runs inside the daemon (``api.enabled``, on cheroot's
threaded server) or on its own over the same folders (``kokoro-inbox api``, or
any WSGI server), and the daemon stays the only writer of status files.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
import time
import unicodedata
import uuid
import zipfile
from pathlib import Path
from typing import Any, Callable

import bottle
import multipart
import yaml

from .config import Config
from .errors import InvalidSetting
from .files import free_name
from .languages import LANGUAGES, VOICES, check_language, parse_voice
from .settings import SPEED_RANGE
from .status import ACTIVE, COMPLETED, QUEUED, atomic_write_json, status_files, utc_now

log = logging.getLogger(__name__)

REQUESTS = ".requests"  # under processing/: cancel-<id> and upload-<id>.json, read by the daemon
HEARTBEAT = ".daemon.json"
HEARTBEAT_STALE = 15.0  # seconds without a heartbeat before /health says the daemon is gone
JOB_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
CHUNK = 1 << 16
WEB = Path(__file__).parent / "web"


class ApiError(Exception):
    """An error answer in the original API's shape."""

    def __init__(self, status: int, msg: str, loc: list[str] | None = None,
                 kind: str = "value_error") -> None:
        super().__init__(msg)
        self.status, self.msg, self.loc, self.kind = status, msg, loc or [], kind

    def body(self) -> dict[str, Any]:
        return {"detail": {"type": self.kind, "loc": self.loc, "msg": self.msg}}


# --------------------------------------------------------------------------- reading state

class StatusReader:
    """Status files and upload tickets, parsed once and re-read only when they change."""

    def __init__(self, outbox: Path, processing: Path) -> None:
        self.outbox = outbox
        self.requests = processing / REQUESTS
        self._cache: dict[Path, tuple[tuple[int, int], dict[str, Any]]] = {}
        self._by_id: dict[str, Path] = {}
        self._refreshed = 0.0

    def _read(self, path: Path) -> dict[str, Any] | None:
        try:
            stat = path.stat()
        except OSError:
            self._cache.pop(path, None)
            return None
        stamp = (stat.st_mtime_ns, stat.st_size)
        cached = self._cache.get(path)
        if cached and cached[0] == stamp:
            return cached[1]
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or "job_id" not in record:
            return None
        self._cache[path] = (stamp, record)
        self._by_id[record["job_id"]] = path
        return record

    def jobs(self) -> list[dict[str, Any]]:
        records = [r for r in map(self._read, status_files(self.outbox)) if r is not None]
        known = {r["job_id"] for r in records}
        records.extend(t for t in self._tickets() if t["job_id"] not in known)
        self._refreshed = time.monotonic()
        return records

    def job(self, job_id: str) -> dict[str, Any] | None:
        path = self._by_id.get(job_id)
        record = self._read(path) if path else None
        if record is not None and record.get("job_id") == job_id:
            return record
        ticket = self._ticket(job_id)
        if ticket is not None:
            return ticket
        if time.monotonic() - self._refreshed > 1.0:  # a job we have not seen yet: look again
            return next((r for r in self.jobs() if r["job_id"] == job_id), None)
        return None

    def _ticket(self, job_id: str) -> dict[str, Any] | None:
        try:
            ticket = json.loads((self.requests / f"upload-{job_id}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return _queued_record(ticket)

    def _tickets(self) -> list[dict[str, Any]]:
        try:
            names = [n for n in os.listdir(self.requests) if n.startswith("upload-")]
        except OSError:
            return []
        return [t for t in (self._ticket(n[len("upload-"):-len(".json")]) for n in names) if t]


def _queued_record(ticket: dict[str, Any]) -> dict[str, Any]:
    """What /status says of an upload the daemon has not taken in yet."""
    return {"job_id": ticket["job_id"], "status": QUEUED, "progress": 0.0, "output_file": None,
            "error": None, "source": ticket["source"], "settings": ticket.get("settings", {}),
            "created_at": ticket["created_at"], "updated_at": ticket["created_at"]}


def read_heartbeat(processing: Path) -> dict[str, Any] | None:
    try:
        return json.loads((processing / HEARTBEAT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# --------------------------------------------------------------------------- uploads

def safe_file_name(name: str | None) -> str:
    """A harmless file name for an upload: no folders, no control or hidden tricks."""
    name = unicodedata.normalize("NFC", (name or "").replace("\\", "/").rsplit("/", 1)[-1])
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '<>:"|?*')
    name = name.strip().lstrip(".~ ")
    stem = name[:-5] if name.lower().endswith(".epub") else name
    stem = stem.strip()[:150] or "upload"
    return f"{stem}.epub"


def _epub_problem(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return "not an EPUB: the file is not a ZIP archive"
    if "META-INF/container.xml" not in names and not any(n.lower().endswith(".opf") for n in names):
        return "not an EPUB: the ZIP has no META-INF/container.xml"
    return None


class Upload:
    """One multipart upload streamed to a hidden file beside the inbox, within a byte budget."""

    def __init__(self, inbox: Path, limit: int) -> None:
        self.inbox = inbox
        self.limit = limit
        self.fields: dict[str, str] = {}
        self.file_name: str | None = None
        self.tmp = inbox / f".upload-{uuid.uuid4().hex}.part"
        self.size = 0

    def receive(self, environ: dict[str, Any], length: int,
                check_fields: Callable[[dict[str, str]], Any] | None = None) -> None:
        """Stream the body; ``check_fields`` runs on the fields sent before the file, if any."""
        content_type, options = multipart.parse_options_header(environ.get("CONTENT_TYPE", ""))
        if content_type != "multipart/form-data" or "boundary" not in options:
            raise ApiError(400, "the request must be multipart/form-data with a 'file' field", ["body"])
        stream = environ["wsgi.input"]
        parser = multipart.PushMultipartParser(options["boundary"], content_length=length,
                                               max_header_count=16, max_segment_count=16)
        remaining, part, out, value = length, None, None, b""
        try:
            while not parser.closed:
                chunk = stream.read(min(CHUNK, remaining)) if remaining > 0 else b""
                remaining -= len(chunk)
                for event in parser.parse(chunk):
                    if isinstance(event, multipart.MultipartSegment):
                        part, value = event, b""
                        if part.name == "file" and part.filename is not None and out is None:
                            if check_fields and "voice" in self.fields:
                                check_fields(self.fields)  # a bad form is refused before the file
                            self.file_name = part.filename
                            out = open(self.tmp, "wb")
                    elif event is None:
                        if part is not None and part.filename is None:
                            self.fields[part.name or ""] = value.decode("utf-8", "replace")
                        part = None
                    elif part is not None and part.name == "file" and part.filename is not None:
                        self.size += len(event)
                        if self.size > self.limit:
                            raise ApiError(413, f"the upload is larger than {self.limit >> 20} MB", ["file"])
                        assert out is not None
                        out.write(event)
                    elif part is not None and len(value) < 4096:
                        value += event
                if not chunk:
                    break
        except multipart.MultipartError as error:
            raise ApiError(400, f"the form could not be read: {error}", ["body"]) from None
        finally:
            if out is not None:
                out.close()

    def discard(self) -> None:
        self.tmp.unlink(missing_ok=True)


# --------------------------------------------------------------------------- the app

def create_app(config: Config) -> bottle.Bottle:
    paths = config.paths
    reader = StatusReader(paths.outbox, paths.processing)
    app = bottle.Bottle()
    app.config["kokoro.reader"] = reader

    def answer(handler: Callable[..., Any], public: bool = False) -> Callable[..., Any]:
        """Authentication and the original error body, in one place."""
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            try:
                if config.api_token and not public:
                    _check_token(config.api_token)
                return handler(*args, **kwargs)
            except ApiError as error:
                bottle.response.status = error.status
                bottle.response.content_type = "application/json"
                if error.status == 401:
                    bottle.response.set_header("WWW-Authenticate", "Bearer")
                return json.dumps(error.body())
        return wrapped

    def route(path: str, method: str = "GET", public: bool = False):
        def decorate(handler: Callable[..., Any]) -> Callable[..., Any]:
            app.route(path, method, answer(handler, public))
            return handler
        return decorate

    @route("/convert", "POST")
    def convert() -> Any:
        if bottle.request.environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
            raise ApiError(411, "uploads need a Content-Length; chunked uploads are not accepted",
                           ["header", "Content-Length"])
        try:
            length = int(bottle.request.environ.get("CONTENT_LENGTH") or -1)
        except ValueError:
            length = -1
        if length < 0:
            raise ApiError(411, "uploads need a Content-Length", ["header", "Content-Length"])
        limit = config.max_upload_mb << 20
        if length > limit + (64 << 10):  # the form around the file may add a little
            raise ApiError(413, f"the upload is larger than {config.max_upload_mb} MB", ["file"])
        upload = Upload(paths.inbox, limit)
        try:
            upload.receive(bottle.request.environ, length, lambda f: _form_settings(f, config))
            settings = _form_settings(upload.fields, config)
            if upload.file_name is None:
                raise ApiError(400, "field required", ["body", "file"], kind="value_error.missing")
            problem = _epub_problem(upload.tmp)
            if problem:
                raise ApiError(400, problem, ["body", "file"])
            job_id, source = _deliver(upload, settings, paths.inbox, paths.processing)
        except BaseException:
            upload.discard()
            raise
        log.info("job %s: uploaded as %s", job_id, source)
        bottle.response.status = 202
        bottle.response.set_header("Location", f"/status/{job_id}")
        return {"job_id": job_id, "message": "Conversion started", "status": QUEUED}

    @route("/status/<job_id>")
    def status(job_id: str) -> Any:
        return _job_or_404(reader, job_id)

    @route("/jobs")
    def jobs() -> Any:
        wanted = bottle.request.query.get("status")
        records = sorted(reader.jobs(), key=lambda r: r.get("created_at") or "", reverse=True)
        if wanted:
            records = [r for r in records if r.get("status") == wanted]
        return {"jobs": records}

    @route("/jobs/<job_id>", "DELETE")
    def cancel(job_id: str) -> Any:
        record = _job_or_404(reader, job_id)
        if record["status"] not in ACTIVE:
            raise ApiError(409, f"the job is {record['status']}, not queued or processing", ["path", "job_id"])
        folder = paths.processing / REQUESTS
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"cancel-{job_id}").write_text(utc_now())
        bottle.response.status = 202
        return {"job_id": job_id, "message": "Cancellation requested", "status": record["status"]}

    @route("/download/<job_id>")
    def download(job_id: str) -> Any:
        record = _job_or_404(reader, job_id)
        if record.get("status") != COMPLETED or not record.get("output_file"):
            raise ApiError(404, "the audiobook is not ready", ["path", "job_id"])
        outbox = paths.outbox.resolve()
        target = (outbox / record["output_file"]).resolve()
        if outbox not in target.parents or not target.is_file():
            raise ApiError(404, "Job not found", ["path", "job_id"])
        relative = target.relative_to(outbox).as_posix()
        response = bottle.static_file(relative, root=str(outbox), mimetype="audio/mpeg",
                                      download=Path(relative).name)
        return response

    @route("/voices")
    def voices() -> Any:
        return {"voices": list(VOICES)}

    @route("/languages")
    def languages() -> Any:
        return {"languages": list(LANGUAGES)}

    @route("/health", public=True)
    def health() -> Any:
        healthy, reason = _health(paths.processing)
        bottle.response.status = 200 if healthy else 503
        return {"status": "ok" if healthy else "unavailable", "reason": reason}

    @route("/metrics")
    def metrics() -> Any:
        bottle.response.content_type = "text/plain; version=0.0.4; charset=utf-8"
        return _metrics(reader.jobs(), read_heartbeat(paths.processing))

    @route("/openapi.json", public=True)
    def openapi() -> Any:
        from .openapi import OPENAPI
        return OPENAPI

    # The page and its files hold no data (the API calls they make need the token).
    @route("/", public=True)
    def index() -> Any:
        return bottle.static_file("index.html", root=str(WEB))

    @route("/static/<name>", public=True)
    def static(name: str) -> Any:
        if name not in ("app.js", "style.css"):
            raise ApiError(404, "Not found", ["path"])
        return bottle.static_file(name, root=str(WEB))

    @app.error(404)
    def not_found(error: bottle.HTTPError) -> str:
        bottle.response.content_type = "application/json"
        return json.dumps(ApiError(404, "Not found", ["path"]).body())

    @app.error(405)
    def not_allowed(error: bottle.HTTPError) -> str:
        bottle.response.content_type = "application/json"
        return json.dumps(ApiError(405, "Method not allowed", ["method"]).body())

    @app.error(500)
    def internal(error: bottle.HTTPError) -> str:
        log.error("API error: %s", error.exception)
        bottle.response.content_type = "application/json"
        return json.dumps(ApiError(500, "internal error; see the daemon's log", []).body())

    return app


def _check_token(token: str) -> None:
    """Bearer header, or ``?access_token=`` (RFC 6750) where a browser cannot set headers
    (the page's audio player and download link); compared in constant time."""
    scheme, _, given = bottle.request.get_header("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        given = bottle.request.query.get("access_token", "")
    if not given or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise ApiError(401, "missing or wrong bearer token", ["header", "Authorization"])


def _job_or_404(reader: StatusReader, job_id: str) -> dict[str, Any]:
    record = reader.job(job_id) if JOB_ID.match(job_id) else None
    if record is None:
        raise ApiError(404, "Job not found", ["path", "job_id"])
    return record


def _form_settings(fields: dict[str, str], config: Config) -> dict[str, Any]:
    """The form's voice, speed and lang, checked like the original API."""
    voice = fields.get("voice")
    if not voice:
        raise ApiError(400, "field required", ["body", "voice"], kind="value_error.missing")
    try:
        voice = str(parse_voice(voice))
    except InvalidSetting:
        raise ApiError(400, "Invalid voice selection", ["voice"]) from None
    try:
        speed = float(fields.get("speed") or 1.0)
    except ValueError:
        raise ApiError(400, "Speed must be a number", ["speed"]) from None
    if not SPEED_RANGE[0] <= speed <= SPEED_RANGE[1]:
        raise ApiError(400, f"Speed must be between {SPEED_RANGE[0]} and {SPEED_RANGE[1]}", ["speed"])
    try:
        lang = check_language(fields.get("lang") or config.default_lang)
    except InvalidSetting:
        raise ApiError(400, f"Unsupported language; use one of {', '.join(LANGUAGES)}", ["lang"]) from None
    return {"voice": voice, "speed": speed, "lang": lang}


def _deliver(upload: Upload, settings: dict[str, Any], inbox: Path, processing: Path) -> tuple[str, str]:
    """Sidecar and ticket first, then the book renamed into the inbox: one atomic arrival."""
    # Neither the book nor a sidecar of that name may exist: the sidecar would apply to it.
    name = free_name(inbox / safe_file_name(upload.file_name),
                     lambda path: path.exists() or path.with_suffix(".yaml").exists()).name
    job_id = str(uuid.uuid4())
    requests = processing / REQUESTS
    requests.mkdir(parents=True, exist_ok=True)
    atomic_write_json(requests / f"upload-{job_id}.json", {
        "job_id": job_id, "source": name, "settings": settings, "created_at": utc_now()})
    sidecar_tmp = inbox / f".{name[:-5]}.yaml.part"
    sidecar_tmp.write_text(yaml.safe_dump(settings), encoding="utf-8")
    os.replace(sidecar_tmp, inbox / f"{name[:-5]}.yaml")
    os.replace(upload.tmp, inbox / name)
    return job_id, name


def _health(processing: Path) -> tuple[bool, str]:
    beat = read_heartbeat(processing)
    if beat is None:
        return False, "the daemon is not running (no heartbeat)"
    age = time.time() - float(beat.get("time", 0))
    if beat.get("state") == "stopped":
        return False, "the daemon is not running (it was stopped)"
    if age > HEARTBEAT_STALE:
        return False, f"the daemon has not reported for {age:.0f} s"
    if beat.get("watcher") != "alive":
        return False, f"the inbox watcher is not running: {beat.get('watcher')}"
    if beat.get("pool") != "alive":
        return False, f"the worker pool is not running: {beat.get('pool')}"
    return True, "watcher and worker pool are alive"


def _metrics(records: list[dict[str, Any]], beat: dict[str, Any] | None) -> str:
    counts: dict[str, int] = {s: 0 for s in ("queued", "processing", "completed", "failed", "cancelled")}
    chars = audio = 0.0
    for record in records:
        counts[record.get("status", "queued")] = counts.get(record.get("status", "queued"), 0) + 1
        chars += record.get("chars_done") or 0
        audio += record.get("audio_seconds") or 0
    lines = ["# HELP kokoro_inbox_jobs Jobs by status.", "# TYPE kokoro_inbox_jobs gauge"]
    lines += [f'kokoro_inbox_jobs{{status="{s}"}} {n}' for s, n in sorted(counts.items())]
    beat = beat or {}
    lines += [
        "# HELP kokoro_inbox_queue_depth Jobs waiting or running.", "# TYPE kokoro_inbox_queue_depth gauge",
        f"kokoro_inbox_queue_depth {counts['queued'] + counts['processing']}",
        "# HELP kokoro_inbox_workers Worker processes.", "# TYPE kokoro_inbox_workers gauge",
        f"kokoro_inbox_workers {beat.get('workers', 0)}",
        "# HELP kokoro_inbox_characters_total Characters read aloud.",
        "# TYPE kokoro_inbox_characters_total counter", f"kokoro_inbox_characters_total {chars:.0f}",
        "# HELP kokoro_inbox_audio_seconds_total Seconds of audio produced.",
        "# TYPE kokoro_inbox_audio_seconds_total counter", f"kokoro_inbox_audio_seconds_total {audio:.1f}",
        "# HELP kokoro_inbox_characters_per_second Current reading speed.",
        "# TYPE kokoro_inbox_characters_per_second gauge",
        f"kokoro_inbox_characters_per_second {beat.get('chars_per_second', 0.0):.2f}",
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- serving

class ApiServer:
    """cheroot's threaded WSGI server on its own thread, bound before READY=1."""

    def __init__(self, app: bottle.Bottle, host: str, port: int, threads: int = 16) -> None:
        from cheroot import wsgi

        self.server = wsgi.Server((host, port), app, numthreads=threads, request_queue_size=64,
                                  server_name="kokoro-inbox")
        self.thread: Any = None

    def start(self) -> None:
        import threading

        self.server.prepare()  # binds now, so a port in use fails start-up
        self.thread = threading.Thread(target=self.server.serve, name="api", daemon=True)
        self.thread.start()
        log.info("API listening on http://%s:%d/", *self.server.bind_addr[:2])

    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def stop(self) -> None:
        self.server.stop()
