"""The OpenAPI 3.0 description of the REST API (kept true by tests/test_api.py)."""

from __future__ import annotations

from typing import Any

from daemon.audio.formats import FORMATS
from daemon.settings import SPEED_RANGE, BookSettings
from daemon.speech.languages import LANGUAGES, VOICES
from daemon.status import JobStatus

_ERROR = {"$ref": "#/components/schemas/Error"}
_JOB_ID = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}
_STATUSES = [status.value for status in JobStatus]
_TOKEN_QUERY = {"name": "access_token", "in": "query", "required": False, "schema": {"type": "string"},
                "description": "The token, for podcast apps and players that cannot send a header"}
_AUDIO = {audio.mime_type: {"schema": {"type": "string", "format": "binary"}} for audio in FORMATS.values()}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again",
                                "schema": {"type": "integer"}}}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ERROR, description)


def _guarded(responses: dict[str, Any]) -> dict[str, Any]:
    """Every route but /health checks the Host header (DNS rebinding)."""
    bad_host = _error("A Host header this server does not answer to (see api.allowed_hosts)")
    if "400" in responses:
        return responses
    return {**responses, "400": bad_host}


_DISK_FREE = {"type": "object", "description": "Free bytes in the outbox and processing folders",
              "properties": {"outbox": {"type": "integer"}, "processing": {"type": "integer"}}}

OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Kokoro Inbox", "version": "0.1.0",
             "description": "EPUB books to MP3 audiobooks read by Kokoro-82M. The endpoints of the "
                            "original Kokoro TTS API, plus job listing, download, cancel, health and metrics."},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {"type": "object", "required": ["detail"], "properties": {"detail": {
                "type": "object", "required": ["type", "loc", "msg"], "properties": {
                    "type": {"type": "string"}, "loc": {"type": "array", "items": {"type": "string"}},
                    "msg": {"type": "string"}}}}},
            "Job": {"type": "object", "required": ["job_id", "status", "progress", "output_file", "error"],
                    "properties": {
                        "job_id": {"type": "string", "format": "uuid"},
                        "status": {"type": "string", "enum": _STATUSES},
                        "progress": {"type": "number"},
                        "output_file": {"type": "string", "nullable": True,
                                        "description": "The audiobook, relative to the outbox; with "
                                                       "output.split: chapter, the first chapter's file"},
                        "output_files": {"type": "array", "items": {"type": "string"},
                                         "description": "Every audio file of the book, in order"},
                        "error": {"type": "string", "nullable": True},
                        "error_code": {"type": "string", "nullable": True},
                        "source": {"type": "string"},
                        "source_sha256": {"type": "string"},
                        "duplicate_of": {"type": "string", "nullable": True,
                                         "description": "The job that converts the same book and settings"},
                        "settings": {"type": "object"},
                        "title": {"type": "string", "nullable": True},
                        "author": {"type": "string", "nullable": True},
                        "chapters": {"type": "array", "items": {"type": "object"}},
                        "chars_total": {"type": "integer"},
                        "chars_done": {"type": "integer"},
                        "audio_seconds": {"type": "number"},
                        "eta_seconds": {"type": "number", "nullable": True},
                        "waiting": {"type": "string", "nullable": True,
                                    "description": "Why a queued book has not started (disk space)"},
                        "moved_to": {"type": "string", "nullable": True,
                                     "description": "Where the source went, inside archive/ or failed/"},
                        "outputs_removed_at": {"type": "string", "nullable": True,
                                               "description": "When the retention policy removed the audiobook"},
                        "source_bytes": {"type": "string", "description": "A source name that is not "
                                         "UTF-8, percent-escaped (source shows it with U+FFFD)"},
                        "created_at": {"type": "string"},
                        "started_at": {"type": "string", "nullable": True},
                        "finished_at": {"type": "string", "nullable": True},
                        "updated_at": {"type": "string"}}},
            "Accepted": {"type": "object", "required": ["job_id", "message", "status"], "properties": {
                "job_id": {"type": "string"}, "message": {"type": "string"}, "status": {"type": "string"}}},
        },
    },
    "security": [{"bearer": []}],
    "paths": {
        "/convert": {"post": {
            "summary": "Upload an EPUB and start converting it",
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["file", "voice"], "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "voice": {"type": "string", "example": "af_sarah"},
                    "speed": {"type": "number", "default": BookSettings.speed, "minimum": SPEED_RANGE[0],
                              "maximum": SPEED_RANGE[1]},
                    "lang": {"type": "string", "enum": list(LANGUAGES),
                             "description": "Default: the book's own language, else defaults.lang"}}}}}},
            "responses": {
                "202": _json({"$ref": "#/components/schemas/Accepted"}, "Accepted; the job is queued"),
                "400": _error("A bad form field, not an EPUB, or a Host this server does not answer to"),
                "401": _error("Missing or wrong token"),
                "408": _error("The body stopped arriving (the client stalled or went away)"),
                "411": _error("No Content-Length"), "413": _error("Larger than api.max_upload_mb"),
                "503": {**_error("The queue is full (api.max_queue), or api.max_concurrent_uploads "
                                 "uploads are already arriving; the body is not read"),
                        "headers": _RETRY_AFTER}}}},
        "/status/{job_id}": {"get": {
            "summary": "A job's status file", "parameters": [_JOB_ID],
            "responses": {"200": _json({"$ref": "#/components/schemas/Job"}, "The job"),
                          "401": _error("Missing or wrong token"), "404": _error("Unknown job")}}},
        "/jobs": {"get": {
            "summary": "Jobs, newest first, a page at a time",
            "description": "Uploads the daemon has not taken in yet appear as queued jobs. Follow "
                           "next_cursor (passed back as cursor, with the same status and q) for older jobs.",
            "parameters": [
                {"name": "status", "in": "query", "required": False,
                 "schema": {"type": "string", "enum": _STATUSES}},
                {"name": "q", "in": "query", "required": False,
                 "description": "Only jobs whose title or source contains this, ignoring case",
                 "schema": {"type": "string", "maxLength": 200}},
                {"name": "limit", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}},
                {"name": "cursor", "in": "query", "required": False,
                 "description": "next_cursor from the previous page", "schema": {"type": "string"}}],
            "responses": {"200": _json({"type": "object", "required": ["jobs", "next_cursor"], "properties": {
                "jobs": {"type": "array", "items": {"$ref": "#/components/schemas/Job"}},
                "next_cursor": {"type": "string", "nullable": True,
                                "description": "The cursor of the next page; null on the last page"}}},
                "A page of jobs"),
                "400": _error("A bad limit, cursor, status or q, or a Host this server does not answer to"),
                "401": _error("Missing or wrong token")}}},
        "/jobs/{job_id}": {"delete": {
            "summary": "Cancel a queued or running job", "parameters": [_JOB_ID],
            "responses": {"202": _json({"$ref": "#/components/schemas/Accepted"}, "Cancellation requested"),
                          "401": _error("Missing or wrong token"), "404": _error("Unknown job"),
                          "409": _error("The job has already ended")}}},
        "/download/{job_id}": {"get": {
            "summary": "The job's MP3 (Range, ETag, Last-Modified supported)",
            "description": "With api.token set, the token may also come as ?access_token= (RFC 6750), "
                           "for audio players and links that cannot send a header; only this route and the "
                           "feed's take it, and they also take the feed's read-only token (api.feed_token).",
            "parameters": [_JOB_ID, {"name": "access_token", "in": "query", "required": False,
                                     "schema": {"type": "string"}},
                           {"name": "part", "in": "query", "required": False,
                            "description": "Which file of a book split into chapter files (output_files), "
                                           "from 1; the first without it",
                            "schema": {"type": "integer", "minimum": 1}}],
            "responses": {"200": {"description": "The audiobook", "content": _AUDIO},
                "206": {"description": "Part of the audiobook", "content": _AUDIO},
                "304": {"description": "Not modified"},
                "400": _error("part is not a number"),
                "401": _error("Missing or wrong token"), "404": _error("Unknown job, not ready, or no such part"),
                "416": {"description": "Range not satisfiable"}}}},
        "/feed.xml": {"get": {
            "summary": "A podcast feed of the finished books (RSS 2.0, iTunes and Podcasting 2.0 tags)",
            "description": "One item per finished book, newest first (at most 300; a book split into "
                           "chapter files has one item per file, /download/{job_id}?part=N): the enclosure is "
                           "/download/{job_id} with its length and type, podcast:chapters points at "
                           "/chapters/{job_id}, itunes:image at /cover/{job_id}. URLs are absolute, from "
                           "api.public_url or the request's Host, and carry ?access_token= with the feed's "
                           "read-only token (api.feed_token, never api.token) when api.token is set. ETag and "
                           "If-None-Match are supported.",
            "parameters": [_TOKEN_QUERY],
            "responses": {"200": {"description": "The feed", "content": {"application/rss+xml": {
                "schema": {"type": "string"}}}},
                "304": {"description": "Not modified"},
                "401": _error("Missing or wrong token")}}},
        "/chapters/{job_id}": {"get": {
            "summary": "A finished book's chapters, as Podcasting 2.0 JSON chapters (version 1.2.0)",
            "parameters": [_JOB_ID, _TOKEN_QUERY],
            "responses": {"200": {"description": "The chapters", "content": {"application/json+chapters": {
                "schema": {"type": "object", "required": ["version", "chapters"], "properties": {
                    "version": {"type": "string"}, "title": {"type": "string"}, "author": {"type": "string"},
                    "chapters": {"type": "array", "items": {"type": "object", "required": ["startTime"],
                                                            "properties": {"startTime": {"type": "number"},
                                                                           "title": {"type": "string"}}}}}}}}},
                "401": _error("Missing or wrong token"), "404": _error("Unknown job or not ready")}}},
        "/cover/{job_id}": {"get": {
            "summary": "The cover a finished audiobook carries (from its EPUB)",
            "parameters": [_JOB_ID, _TOKEN_QUERY],
            "responses": {"200": {"description": "The image", "content": {
                "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                "image/png": {"schema": {"type": "string", "format": "binary"}}}},
                "401": _error("Missing or wrong token"),
                "404": _error("Unknown job, not ready, or no cover")}}},
        "/voices": {"get": {"summary": "The voices", "description": "voices is the original list of ids; "
                            "details names each as a person would, with the URL of a short sample.",
                            "responses": {
            "200": _json({"type": "object", "required": ["voices"], "properties": {
                "voices": {"type": "array", "items": {"type": "string", "enum": list(VOICES)}},
                "details": {"type": "array", "items": {"type": "object", "required": ["id", "label"], "properties": {
                    "id": {"type": "string"}, "name": {"type": "string", "example": "Emma"},
                    "lang": {"type": "string", "example": "en-gb"},
                    "language": {"type": "string", "example": "British English"},
                    "gender": {"type": "string", "enum": ["female", "male"]},
                    "label": {"type": "string", "example": "Emma \u2014 British English, female"},
                    "sample": {"type": "string", "example": "/voices/bf_emma/sample"},
                    "default": {"type": "boolean", "description": "The voice its language's books get "
                                                                  "unless another is asked for"}}}}}},
                "Voice ids, and details"),
            "401": _error("Missing or wrong token")}}},
        "/voices/{name}/sample": {"get": {
            "summary": "A few seconds of the voice (WAV), made on the first request and kept",
            "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"},
                            "description": "A voice id from /voices"}, _TOKEN_QUERY],
            "responses": {"200": {"description": "The sample", "content": {"audio/wav": {
                "schema": {"type": "string", "format": "binary"}}}},
                "202": {**_json({"type": "object", "properties": {
                    "voice": {"type": "string"}, "status": {"type": "string"},
                    "retry_after": {"type": "integer"}}}, "Being made: ask again after Retry-After"),
                        "headers": _RETRY_AFTER},
                "401": _error("Missing or wrong token"), "404": _error("Not a voice"),
                "503": _error("The sample cannot be made here (the model files are missing, or "
                              "the model failed)")}}},
        "/languages": {"get": {"summary": "The languages", "responses": {
            "200": _json({"type": "object", "required": ["languages"], "properties": {
                "languages": {"type": "array", "items": {"type": "string"}}}}, "Language codes"),
            "401": _error("Missing or wrong token")}}},
        "/health": {"get": {"summary": "200 when the watcher and the worker pool are alive",
                            "description": "No token and no Host check: it holds no data, and health "
                                           "probes call it by whatever name they know.",
                            "security": [], "responses": {
            "200": _json({"type": "object", "properties": {"status": {"type": "string"},
                                                           "reason": {"type": "string"},
                                                           "disk_free_bytes": _DISK_FREE}}, "Healthy"),
            "503": _json({"type": "object", "properties": {"status": {"type": "string"},
                                                           "reason": {"type": "string"},
                                                           "disk_free_bytes": _DISK_FREE}}, "Unhealthy")}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {
            "200": {"description": "Prometheus text format", "content": {"text/plain": {
                "schema": {"type": "string"}}}}, "401": _error("Missing or wrong token")}}},
        "/openapi.json": {"get": {"summary": "This description", "security": [], "responses": {
            "200": _json({"type": "object"}, "OpenAPI 3.0")}}},
        "/": {"get": {"summary": "The web page (it holds no data; it asks for the token)",
                      "security": [], "responses": {
            "200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}}}},
    },
}


def _add_host_errors(paths: dict[str, Any]) -> None:
    for path, item in paths.items():
        if path != "/health":
            for operation in item.values():
                operation["responses"] = _guarded(operation["responses"])


_add_host_errors(OPENAPI["paths"])
