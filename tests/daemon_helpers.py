"""Start the real daemon as a process over temporary folders, and watch what it does."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_config(base: Path, models: Path | None = None, **extra: object) -> Path:
    settings = {
        "paths": {name: str(base / name) for name in ("inbox", "outbox", "archive", "failed", "processing")},
        "models": {"dir": str(models or ROOT / "models")},
        "watch": {"settle_seconds": 1, "rescan_seconds": 60, "mode": "auto"},
        "workers": 2,
        "api": {"enabled": False},
    }
    for dotted, value in extra.items():
        section, _, key = dotted.partition("__")
        if key:
            settings.setdefault(section, {})[key] = value
        else:
            settings[section] = value
    path = base / "config.yaml"
    path.write_text(json.dumps(settings))  # JSON is YAML
    return path


class NotifySocket:
    """A fake systemd notify socket that records every message."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.messages: list[str] = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self._stop = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while not self._stop:
            try:
                self.messages.extend(self.sock.recv(4096).decode().splitlines())
            except socket.timeout:
                continue
            except OSError:
                return

    def close(self) -> None:
        self._stop = True
        self.thread.join()
        self.sock.close()


class Daemon:
    def __init__(self, base: Path, engine: str = "tone", env: dict | None = None, **config: object) -> None:
        self.base = base
        base.mkdir(parents=True, exist_ok=True)
        self.config = write_config(base, **config)
        self.engine = engine
        self.env = env or {}
        self.process: subprocess.Popen | None = None
        self.log = base / "daemon.log"
        for name in ("inbox", "outbox", "archive", "failed"):
            (base / name).mkdir(exist_ok=True)

    @property
    def url(self) -> str:
        settings = json.loads(self.config.read_text())
        return f"http://127.0.0.1:{settings['api']['port']}"

    @property
    def inbox(self) -> Path:
        return self.base / "inbox"

    @property
    def outbox(self) -> Path:
        return self.base / "outbox"

    def start(self) -> "Daemon":
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KOKORO_INBOX_", "NOTIFY_SOCKET",
                                                                          "WATCHDOG_", "JOURNAL_STREAM"))}
        env.update({"PYTHONPATH": str(ROOT), **self.env})
        self.process = subprocess.Popen(
            [sys.executable, "-m", "daemon", "run", "--config", str(self.config), "--engine", self.engine],
            cwd=self.base, env=env, stdout=open(self.log, "a"), stderr=subprocess.STDOUT,
            start_new_session=True)
        self.wait_for(lambda: "ready in" in self.log.read_text(), 120, "the daemon to be ready")
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_for(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"the daemon exited ({self.process.returncode}) while waiting for "
                                     f"{what}:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}:\n{self.log.read_text()[-3000:]}")

    def statuses(self) -> list[dict]:
        found = []
        for path in self.outbox.rglob("*.json"):
            if not path.name.startswith("."):
                try:
                    found.append(json.loads(path.read_text()))
                except ValueError:
                    raise AssertionError(f"a half-written status file: {path}") from None
        return found

    def wait_finished(self, count: int, timeout: float = 120) -> list[dict]:
        self.wait_for(lambda: sum(s["status"] in ("completed", "failed", "cancelled")
                                  for s in self.statuses()) >= count, timeout, f"{count} finished jobs")
        return self.statuses()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            os.kill(self.process.pid, sig)
            self.process.wait(timeout)
        code = self.process.returncode
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # any worker left behind
        except ProcessLookupError:
            pass
        return code

    def kill(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
