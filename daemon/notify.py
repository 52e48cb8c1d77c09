"""Telling people when a book starts, is ready or failed: Apprise URLs, in the background.

``notify.urls`` are Apprise URLs (ntfy, Gotify, e-mail, Matrix, Telegram, a plain JSON
webhook ...), checked by Apprise when the config is read, so a typo stops start-up with
one sentence instead of failing silently later.  ``notify.events`` says which of
``started``, ``completed`` and ``failed`` are sent.

The main thread only builds the message and puts it in a bounded queue; one worker
thread sends it, to each URL on its own, with a few tries and a growing pause between
them.  A slow, unreachable or wrong receiver costs that thread time, never a
conversion's: a full queue drops the message (one log line), and a message that never
arrives is one warning with the job id.  Nothing here raises into the daemon.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterable

from .errors import ConfigError

log = logging.getLogger(__name__)

EVENTS = ("started", "completed", "failed")
QUEUE_SIZE = 100  # messages waiting; beyond that a receiver is down and more would not help
TRIES = 3
BACKOFF = 2.0  # seconds before the second try; doubled before each further one
CLOSE_WAIT = 5.0  # seconds a stopping daemon gives the messages still queued


def _quiet_apprise() -> None:
    # Apprise logs every failure itself, with the receiver's address; our one line per
    # failure (with the job id) says it, so its own lines only show with -v.
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        logging.getLogger("apprise").setLevel(logging.CRITICAL)


def check_urls(key: str, urls: Iterable[str]) -> tuple[str, ...]:
    """The URLs as given, once Apprise has understood every one (ConfigError otherwise)."""
    urls = tuple(urls)
    if not urls:
        return urls
    import apprise

    _quiet_apprise()
    for number, url in enumerate(urls, 1):
        if apprise.Apprise.instantiate(url) is None:
            scheme = url.partition("://")[0] if "://" in url else url[:12]
            raise ConfigError(f"{key}: entry {number} ({scheme}://…) is not a URL Apprise can send to; "
                              "see https://github.com/caronc/apprise/wiki for the forms, e.g. "
                              "ntfy://ntfy.sh/my-books or json://nas.lan:8080/hook")
    return urls


@dataclass(frozen=True)
class Message:
    job_id: str
    event: str
    title: str
    body: str


def describe_job(event: str, record: dict[str, Any], link: str | None) -> Message:
    """What people read: the book, its author, how long it plays, and where to get it."""
    title = record.get("title") or record.get("source") or record["job_id"]
    author = record.get("author")
    book = f"{title} by {author}" if author else title
    lines = [book]
    if event == "completed":
        heading = f"Audiobook ready: {title}"
        lines.append(f"{duration(record.get('audio_seconds') or 0)} of audio")
    elif event == "failed":
        heading = f"Audiobook failed: {title}"
        lines.append(f"Error: {record.get('error') or 'unknown'}")
    else:
        heading = f"Converting: {title}"
        if record.get("chars_total"):
            lines.append(f"{record['chars_total']:,} characters to read")
    if link:
        lines.append(link)
    return Message(record["job_id"], event, heading, "\n".join(lines))


def duration(seconds: float) -> str:
    """'2 h 05 min', '7 min 12 s', '45 s': as a person says it."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def page_link(public_url: str | None, host: str, port: int, enabled: bool) -> str | None:
    """The page's address: the configured public URL, else the API's own address."""
    if public_url:
        return public_url.rstrip("/") + "/"
    if not enabled:
        return None
    if host in ("0.0.0.0", "::", ""):  # listening everywhere: the machine's name reaches it
        host = socket.gethostname()
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/"


class Notifications:
    """The background sender; ``announce`` is all the daemon calls."""

    def __init__(self, urls: Iterable[str], events: Iterable[str], link: str | None,
                 tries: int = TRIES, backoff: float = BACKOFF) -> None:
        self.urls = tuple(urls)
        self.events = frozenset(events) if self.urls else frozenset()
        self.link = link
        self.tries, self.backoff = tries, backoff
        self._queue: queue.Queue[Message | None] = queue.Queue(QUEUE_SIZE)
        self._thread: threading.Thread | None = None

    @classmethod
    def from_config(cls, config: Any) -> "Notifications":
        link = page_link(config.api_public_url, config.api_host, config.api_port, config.api_enabled)
        return cls(config.notify_urls, config.notify_events, link)

    def start(self) -> None:
        if self.events and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="notify", daemon=True)
            self._thread.start()

    def announce(self, event: str, record: dict[str, Any]) -> None:
        """Queue a message about a job, if this event is wanted; never raises, never waits."""
        if event not in self.events:
            return
        try:
            link = f"{self.link}#{record['job_id']}" if self.link else None
            self._queue.put_nowait(describe_job(event, record, link))
        except queue.Full:
            log.warning("job %s: %s notification dropped: %d are waiting (is the receiver down?)",
                        record.get("job_id"), event, QUEUE_SIZE)
        except Exception:
            log.exception("job %s: cannot build the %s notification", record.get("job_id"), event)

    def close(self, timeout: float = CLOSE_WAIT) -> None:
        """Give queued messages a moment, then stop (the thread is a daemon thread)."""
        if self._thread is None:
            return
        try:
            self._queue.put(None, timeout=0.1)
        except queue.Full:
            pass
        self._thread.join(timeout)
        self._thread = None

    # ------------------------------------------------------------------ the sender thread

    def _run(self) -> None:
        import apprise

        _quiet_apprise()
        receivers = [apprise.Apprise.instantiate(url) for url in self.urls]
        kinds = apprise.NotifyType
        retries: list[tuple[float, int, int, Message, int]] = []  # (due, order, receiver, message, tries)
        order = 0
        while True:
            wait = max(0.0, retries[0][0] - time.monotonic()) if retries else None
            try:
                message = self._queue.get(timeout=wait)
            except queue.Empty:
                message = False  # a retry is due
            if message is None:
                if retries:
                    log.info("%d notifications not retried: the daemon is stopping", len(retries))
                return
            if message:
                for number in range(len(receivers)):
                    retries.append((0.0, order, number, message, 0))
                    order += 1
            # Each receiver's retries wait on their own: a dead one delays nobody else's messages.
            retries.sort()
            while retries and retries[0][0] <= time.monotonic():
                _, _, number, due_message, tried = retries.pop(0)
                if not self._send(receivers[number], due_message, kinds, tried + 1):
                    if tried + 1 < self.tries:
                        due = time.monotonic() + self.backoff * 2 ** tried
                        retries.append((due, order, number, due_message, tried + 1))
                        order += 1
                        retries.sort()

    def _send(self, receiver: Any, message: Message, kinds: Any, attempt: int) -> bool:
        """One try; False when it failed (and, on the last try, the one line that says so)."""
        kind = {"completed": kinds.SUCCESS, "failed": kinds.FAILURE}.get(message.event, kinds.INFO)
        try:
            if receiver.notify(body=message.body, title=message.title, notify_type=kind):
                return True
            why = "not delivered"
        except Exception as error:  # a plugin's own bug must not end the thread
            why = f"error {error!r}"
        if attempt >= self.tries:
            where = receiver.url(privacy=True).partition("?")[0]
            log.warning("job %s: the %s notification did not reach %s after %d tries (%s)",
                        message.job_id, message.event, where, attempt, why)
        return False
