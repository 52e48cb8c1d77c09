"""The OpenAPI 3.0 description of the REST API (kept true by tests/test_api.py)."""

from __future__ import annotations

from typing import Any

from .languages import LANGUAGES, VOICES

_ERROR = {"$ref": "#/components/schemas/Error"}
_JOB_ID = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ERROR, description)


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
                        "job_id": {"type": "string"},
                        "status": {"type": "string",
                                   "enum": ["queued", "processing", "completed", "failed", "cancelled"]},
                        "progress": {"type": "number"},
                        "output_file": {"type": "string", "nullable": True},
                        "error": {"type": "string", "nullable": True},
                        "source": {"type": "string"},
                        "settings": {"type": "object"},
                        "title": {"type": "string", "nullable": True},
                        "author": {"type": "string", "nullable": True},
                        "chapters": {"type": "array", "items": {"type": "object"}},
                        "chars_total": {"type": "integer"},
                        "chars_done": {"type": "integer"},
                        "audio_seconds": {"type": "number"},
                        "eta_seconds": {"type": "number", "nullable": True},
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
                    "speed": {"type": "number", "default": 1.0, "minimum": 0.5, "maximum": 2.0},
                    "lang": {"type": "string", "default": "en-us", "enum": list(LANGUAGES)}}}}}},
            "responses": {
                "202": _json({"$ref": "#/components/schemas/Accepted"}, "Accepted; the job is queued"),
                "400": _error("A bad form field or not an EPUB"), "401": _error("Missing or wrong token"),
                "411": _error("No Content-Length"), "413": _error("Larger than api.max_upload_mb")}}},
        "/status/{job_id}": {"get": {
            "summary": "A job's status file", "parameters": [_JOB_ID],
            "responses": {"200": _json({"$ref": "#/components/schemas/Job"}, "The job"),
                          "401": _error("Missing or wrong token"), "404": _error("Unknown job")}}},
        "/jobs": {"get": {
            "summary": "All jobs, newest first",
            "parameters": [{"name": "status", "in": "query", "required": False, "schema": {
                "type": "string", "enum": ["queued", "processing", "completed", "failed", "cancelled"]}}],
            "responses": {"200": _json({"type": "object", "required": ["jobs"], "properties": {
                "jobs": {"type": "array", "items": {"$ref": "#/components/schemas/Job"}}}}, "The jobs"),
                "401": _error("Missing or wrong token")}}},
        "/jobs/{job_id}": {"delete": {
            "summary": "Cancel a queued or running job", "parameters": [_JOB_ID],
            "responses": {"202": _json({"$ref": "#/components/schemas/Accepted"}, "Cancellation requested"),
                          "401": _error("Missing or wrong token"), "404": _error("Unknown job"),
                          "409": _error("The job has already ended")}}},
        "/download/{job_id}": {"get": {
            "summary": "The job's MP3 (Range, ETag, Last-Modified supported)", "parameters": [_JOB_ID],
            "responses": {"200": {"description": "The MP3", "content": {"audio/mpeg": {
                "schema": {"type": "string", "format": "binary"}}}},
                "206": {"description": "Part of the MP3", "content": {"audio/mpeg": {
                    "schema": {"type": "string", "format": "binary"}}}},
                "304": {"description": "Not modified"},
                "401": _error("Missing or wrong token"), "404": _error("Unknown job or not ready"),
                "416": {"description": "Range not satisfiable"}}}},
        "/voices": {"get": {"summary": "The voices", "responses": {
            "200": _json({"type": "object", "required": ["voices"], "properties": {
                "voices": {"type": "array", "items": {"type": "string", "enum": list(VOICES)}}}}, "Voice ids"),
            "401": _error("Missing or wrong token")}}},
        "/languages": {"get": {"summary": "The languages", "responses": {
            "200": _json({"type": "object", "required": ["languages"], "properties": {
                "languages": {"type": "array", "items": {"type": "string"}}}}, "Language codes"),
            "401": _error("Missing or wrong token")}}},
        "/health": {"get": {"summary": "200 when the watcher and the worker pool are alive",
                            "security": [], "responses": {
            "200": _json({"type": "object", "properties": {"status": {"type": "string"},
                                                           "reason": {"type": "string"}}}, "Healthy"),
            "503": _json({"type": "object", "properties": {"status": {"type": "string"},
                                                           "reason": {"type": "string"}}}, "Unhealthy")}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {
            "200": {"description": "Prometheus text format", "content": {"text/plain": {
                "schema": {"type": "string"}}}}, "401": _error("Missing or wrong token")}}},
        "/openapi.json": {"get": {"summary": "This description", "security": [], "responses": {
            "200": _json({"type": "object"}, "OpenAPI 3.0")}}},
        "/": {"get": {"summary": "The web page", "responses": {
            "200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}},
            "401": _error("Missing or wrong token")}}},
    },
}
