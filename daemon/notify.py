"""Telling people when a book starts, is ready or failed: Apprise URLs, in the background.

``notify.urls`` are Apprise URLs (ntfy, Gotify, e-mail, Matrix, Telegram, a plain JSON
webhook ...), checked by Apprise when the config is read, so a typo stops start-up with
one sentence instead of failing silently later.  ``notify.events`` says which of
``started``, ``completed`` and ``failed`` are sent.

The main thread only builds the message and puts it in each receiver's bounded queue.
Every receiver has a thread of its own that sends its messages in order, with a few
tries and a growing pause between them, so a slow, unreachable or wrong receiver delays
its own messages and nobody else's, and never a conversion.  Each try has a deadline:
Apprise's timeouts bound each read, not the whole exchange, so a receiver that answers a
byte every few seconds would hold a try for ever.  A try past its deadline is given up
(its thread is left to finish on its own, and no other try starts on that receiver
while it runs).  A full queue drops the message; a receiver that loses a message is one
warning naming it (never its secrets), and its further losses are debug lines until a
message gets through again.  Nothing here raises into the daemon.
"""

from __future__ import annotations

import functools
import logging
import queue
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from .errors import ConfigError

log = logging.getLogger(__name__)

EVENTS = ("started", "completed", "failed")
QUEUE_SIZE = 100  # messages waiting; beyond that a receiver is down and more would not help
TRIES = 3
BACKOFF = 2.0  # seconds before the second try; doubled before each further one
SEND_TIMEOUT = 30.0  # seconds one try may take; an e-mail server answers in a few
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
            raise ConfigError(f"{key}: entry {number} ({_scheme(url)}) is not a URL Apprise can send to; "
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
    """The background senders, one per receiver; ``announce`` is all the daemon calls.
    (People hear of books here; systemd hears of the service through health.SystemdNotifier.)"""

    def __init__(self, urls: Iterable[str], events: Iterable[str], link: str | None,
                 tries: int = TRIES, backoff: float = BACKOFF, timeout: float = SEND_TIMEOUT) -> None:
        self.urls = tuple(urls)
        self.events = frozenset(events) if self.urls else frozenset()
        self.link = link
        self.senders = [_Sender(url, tries, backoff, timeout) for url in self.urls]
        self._started = False

    def start(self) -> None:
        if self.events and not self._started:
            self._started = True
            for sender in self.senders:
                sender.start()

    def announce(self, event: str, record: dict[str, Any]) -> None:
        """Queue a message about a job, if this event is wanted; never raises, never waits."""
        if event not in self.events:
            return
        try:
            link = f"{self.link}#{record['job_id']}" if self.link else None
            message = describe_job(event, record, link)
        except Exception:
            log.exception("job %s: cannot build the %s notification", record.get("job_id"), event)
            return
        for sender in self.senders:
            sender.put(message)

    def close(self, timeout: float = CLOSE_WAIT) -> None:
        """Give queued messages a moment (their first try, no retries), then stop; the
        threads are daemon threads, so one still waiting on a receiver holds nothing up."""
        if not self._started:
            return
        deadline = time.monotonic() + timeout
        for sender in self.senders:
            sender.stop()
        for sender in self.senders:
            sender.join(max(0.0, deadline - time.monotonic()))
        self._started = False


class _Sender:
    """One receiver: its queue, and the thread that sends the messages to it in order."""

    def __init__(self, url: str, tries: int, backoff: float, timeout: float) -> None:
        self.url = url
        self.tries, self.backoff, self.timeout = tries, backoff, timeout
        self.where = _scheme(url)  # until Apprise gives the address without its secrets
        self.failing = False  # a loss was logged as a warning; quiet until a message gets through
        self._queue: queue.Queue[Message | None] = queue.Queue(QUEUE_SIZE)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._try: threading.Thread | None = None  # the last try's thread, perhaps still waiting

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"notify-{self.where}"[:15], daemon=True)
        self._thread.start()

    def put(self, message: Message) -> None:
        try:
            self._queue.put_nowait(message)
        except queue.Full:
            log.log(logging.DEBUG if self.failing else logging.WARNING,
                    "job %s: %s notification to %s dropped: %d are waiting (is the receiver down?)",
                    message.job_id, message.event, self.where, QUEUE_SIZE)

    def stop(self) -> None:
        self._stopping.set()  # no more retries, and no waiting for them
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        import apprise

        _quiet_apprise()
        receiver = apprise.Apprise.instantiate(self.url)
        self.where = receiver.url(privacy=True).partition("?")[0]
        kinds = apprise.NotifyType
        while (message := self._queue.get()) is not None:
            kind = {"completed": kinds.SUCCESS, "failed": kinds.FAILURE}.get(message.event, kinds.INFO)
            self._deliver(message, functools.partial(receiver.notify, body=message.body, title=message.title,
                                                     notify_type=kind))

    def _deliver(self, message: Message, send: Callable[[], Any]) -> None:
        why = ""
        for attempt in range(1, self.tries + 1):
            if attempt > 1 and self._stopping.wait(self.backoff * 2 ** (attempt - 2)):
                log.info("job %s: the %s notification to %s is not retried: the daemon is stopping",
                         message.job_id, message.event, self.where)
                return
            problem = self._attempt(send)
            if not problem:
                if self.failing:
                    log.info("job %s: notifications reach %s again", message.job_id, self.where)
                    self.failing = False
                return
            why = why or problem  # the first try says most
        level = logging.DEBUG if self.failing else logging.WARNING
        log.log(level, "job %s: the %s notification did not reach %s after %d tries (%s)%s",
                message.job_id, message.event, self.where, self.tries, why,
                "" if self.failing else "; its further failures are logged at debug level until "
                "a message gets through")
        self.failing = True

    def _attempt(self, send: Callable[[], Any]) -> str:
        """One try within the deadline: '' when it was delivered, else why not."""
        if self._try is not None and self._try.is_alive():
            return f"an earlier try has waited on it for more than {self.timeout:.0f} s"
        outcome: list[str] = []

        def run() -> None:
            try:
                outcome.append("" if send() else "not delivered")
            except Exception as error:  # a plugin's own bug must not end the sender
                outcome.append(f"error {error!r}")

        self._try = threading.Thread(target=run, name="notify-try", daemon=True)
        self._try.start()
        self._try.join(self.timeout)
        return outcome[0] if outcome else f"no answer within {self.timeout:.0f} s"


def _scheme(url: str) -> str:
    """Only a URL's scheme, which holds no secret."""
    return url.partition("://")[0][:12] + "://…"
