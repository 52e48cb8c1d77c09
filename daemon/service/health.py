"""How the daemon reports on itself: systemd notifications and the heartbeat file.

systemd hears READY, STATUS lines, WATCHDOG pings and STOPPING through
sd_notify (silent when not under systemd).  The API hears the heartbeat file,
written every couple of seconds by the main loop: ``/health`` answers from it,
so a daemon that stops beating is reported as gone.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

from daemon.config import Paths
from daemon.mailbox import Mailbox

from .space import free_space

log = logging.getLogger(__name__)

HEARTBEAT_EVERY = 2.0  # seconds


class SystemdNotifier:
    """What systemd hears of the service (sd_notify: READY, STATUS, WATCHDOG, STOPPING),
    from the main process only; silent when not under systemd.  Not to be confused with
    notify.Notifications, which tells people (Apprise) that a book is done."""

    def __init__(self) -> None:
        self.enabled = bool(os.environ.get("NOTIFY_SOCKET"))
        self.watchdog = bool(os.environ.get("WATCHDOG_USEC"))
        self._status = ""
        if self.enabled:
            import sdnotify
            self._socket = sdnotify.SystemdNotifier()

    def send(self, message: str) -> None:
        if self.enabled:
            self._socket.notify(message)

    def status(self, text: str) -> None:
        if text != self._status:
            self._status = text
            self.send(f"STATUS={text}")

    def alive(self) -> None:
        if self.watchdog:
            self.send("WATCHDOG=1")


@dataclass(frozen=True)
class DaemonState:
    """What the main loop knows of itself at one moment."""

    watcher: str  # "alive", "stopped", or "paused: <why>"
    pool: str  # "alive", or what is wrong with it
    workers: int
    queue: int  # jobs queued or converting
    waiting: int  # of those, not started yet
    current_job: str | None
    current_source: str | None
    current_progress: float
    chars_per_second: float
    paused_reason: str | None

    def status_line(self) -> str:
        if self.paused_reason:
            return f"paused: {self.paused_reason}"
        if self.pool != "alive":
            return f"workers: {self.pool}"
        if self.current_source is None:
            return "idle, watching the inbox"
        return f"converting {self.current_source} ({self.current_progress:.0f}%), {self.waiting} queued"


class HealthReporter:
    def __init__(self, mailbox: Mailbox, systemd: SystemdNotifier, paths: Paths) -> None:
        self.mailbox = mailbox
        self.systemd = systemd
        self.paths = paths
        self._next_beat = 0.0

    def report(self, state: DaemonState) -> None:
        """Ping the watchdog every time; STATUS when it changes; the heartbeat every few seconds."""
        self.systemd.alive()
        self.systemd.status(state.status_line())
        now = time.monotonic()
        if now < self._next_beat:
            return
        self._next_beat = now + HEARTBEAT_EVERY
        try:
            self.mailbox.beat({
                "state": "running", "watcher": state.watcher, "pool": state.pool,
                "workers": state.workers, "queue": state.queue, "current_job": state.current_job,
                "chars_per_second": state.chars_per_second,
                "disk_free_bytes": free_space(self.paths.outbox, self.paths.processing),
            })
        except OSError as error:
            log.warning("cannot write the heartbeat file: %s", error.strerror or error)

    def stopped(self) -> None:
        """An API left running on its own must not report this daemon as healthy."""
        try:
            self.mailbox.beat({"state": "stopped"})
        except OSError:
            pass
