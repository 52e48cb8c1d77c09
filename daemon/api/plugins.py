"""What every route shares (``ApiContext``) and the Bottle plugins that wrap them: errors
to the original error body, the ``Host`` header (DNS rebinding), the bearer token."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import bottle

from daemon.audio.covers import CoverFiles
from daemon.config import Config
from daemon.mailbox import Mailbox
from daemon.synth.voice_samples import VoiceSamples

from .feed import FileFactsCache
from .jobs import JobView
from .upload import ApiError, ClientGone, UploadPolicy

log = logging.getLogger(__name__)


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


