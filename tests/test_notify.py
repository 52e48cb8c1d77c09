"""Notifications: Apprise URLs checked at start-up, messages sent in the background to a
local HTTP receiver, and a dead receiver that costs a conversion nothing."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from daemon.config import load_config
from daemon.errors import ConfigError
from daemon.notify import Notifications, duration

from .daemon_helpers import free_port, write_config
from .epubs import simple_book

TEXT = ["The fog lifted at last over the river.", "Then the lamps went out one by one."]


class Receiver:
    """A webhook on loopback that keeps every JSON body Apprise's json:// posts to it."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_port}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count: int, timeout: float = 30) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"only {self.received} arrived"
            time.sleep(0.05)
        return self.received

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


class Trickler:
    """A receiver that takes the request, then answers one byte every 2 s: each read is
    quick, so no read timeout ever fires, but the answer takes minutes."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections.append(connection)
            threading.Thread(target=self._drip, args=(connection,), daemon=True).start()

    @staticmethod
    def _drip(connection: socket.socket) -> None:
        try:
            connection.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok":
                connection.sendall(bytes([byte]))
                time.sleep(2)
        except OSError:
            pass

    def close(self) -> None:
        self.listener.close()
        for connection in self.connections:
            connection.close()


def dead_url() -> str:
    return f"json://127.0.0.1:{free_port()}/"  # nothing listens there


def test_bad_urls_and_events_stop_start_up_with_one_sentence(tmp_path):
    with pytest.raises(ConfigError, match=r"notify.urls: entry 2 \(nosuch://…\) is not a URL Apprise"):
        load_config(write_config(tmp_path, notify={"urls": ["ntfy://ntfy.sh/books", "nosuch://x/y"]}),
                    environ={})
    with pytest.raises(ConfigError, match="notify.events: .* use a list of started, completed, failed"):
        load_config(write_config(tmp_path, notify={"events": ["done"]}), environ={})
    with pytest.raises(ConfigError, match="api.public_url"):
        load_config(write_config(tmp_path, api__public_url="books.lan"), environ={})
    config = load_config(write_config(tmp_path, notify={"urls": ["ntfy://ntfy.sh/books"]}),
                         environ={"KOKORO_INBOX_NOTIFY_EVENTS": "started,failed"})
    assert config.notify_events == ("started", "failed") and config.notify_urls == ("ntfy://ntfy.sh/books",)
    assert ConfigError.exit_code == 2  # the command line's one sentence and exit code (test_settings_config)


def test_a_dead_receiver_delays_neither_the_caller_nor_the_other_receiver(receiver, caplog):
    notifications = Notifications([dead_url(), receiver.url], ["completed"], "https://books.example.org/",
                                  backoff=0.05)
    notifications.start()
    record = {"job_id": "j1", "title": "Dracula", "author": "Bram Stoker", "audio_seconds": 7512}
    with caplog.at_level(logging.WARNING, logger="daemon.notify"):
        began = time.monotonic()
        notifications.announce("completed", record)
        notifications.announce("started", record)  # not a wanted event: nothing is sent
        assert time.monotonic() - began < 0.05
        [message] = receiver.wait(1)
        deadline = time.monotonic() + 10
        while "did not reach" not in caplog.text:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    notifications.close()
    assert message["title"] == "Audiobook ready: Dracula"
    assert message["message"] == ("Dracula by Bram Stoker\n2 h 05 min of audio\n"
                                  "https://books.example.org/#j1") and message["type"] == "success"
    [line] = [r.getMessage() for r in caplog.records if "did not reach" in r.getMessage()]
    assert line.startswith("job j1: the completed notification did not reach json://127.0.0.1") \
        and "after 3 tries" in line
    assert duration(45) == "45 s" and duration(432) == "7 min 12 s"


@pytest.mark.processes
def test_the_daemon_tells_a_receiver_when_books_start_finish_and_fail(tmp_path, daemon, receiver):
    running = daemon(notify={"urls": [receiver.url, dead_url()], "events": ["started", "completed", "failed"]},
                     api__public_url="https://books.example.org/kokoro").start()
    simple_book(running.inbox / "good.epub", [("One", TEXT)], title="The Fog", author="Ann Author")
    (running.inbox / "bad.epub").write_bytes(b"not a zip at all")
    started = time.monotonic()
    statuses = {s["source"]: s for s in running.wait_finished(2, timeout=60)}
    assert time.monotonic() - started < 30  # the dead receiver's retries are not the job's time
    assert statuses["good.epub"]["status"] == "completed" and statuses["bad.epub"]["status"] == "failed"
    by_title = {m["title"]: m for m in receiver.wait(3)}
    ready, failed = by_title["Audiobook ready: The Fog"], by_title["Audiobook failed: bad.epub"]
    good_id, bad_id = statuses["good.epub"]["job_id"], statuses["bad.epub"]["job_id"]
    assert ready["message"].startswith("The Fog by Ann Author\n") and " s of audio\n" in ready["message"]
    assert ready["message"].endswith(f"https://books.example.org/kokoro/#{good_id}")
    assert "Error: not an EPUB" in failed["message"] and failed["type"] == "failure"
    assert failed["message"].endswith(f"#{bad_id}")
    assert "Converting: The Fog" in by_title
    assert running.stop() == 0  # with the dead receiver's retries still pending: they never hold a stop


def test_a_trickling_receiver_delays_nobody_else_and_is_one_warning_without_its_secret(receiver, caplog):
    trickler = Trickler()
    notifications = Notifications([f"json://kokoro:hunter2@127.0.0.1:{trickler.port}/", receiver.url],
                                  ["completed"], None, backoff=0.05, timeout=1.0)
    notifications.start()
    try:
        with caplog.at_level(logging.DEBUG, logger="daemon.notify"):
            began = time.monotonic()
            for number in range(6):
                notifications.announce("completed", {"job_id": f"j{number}", "title": f"Book {number}"})
            assert len(receiver.wait(6, timeout=5)) == 6  # before: 0 of 6 in 66 s
            assert time.monotonic() - began < 5
            deadline = time.monotonic() + 15  # each try has its deadline: every message is given up
            while sum("did not reach" in r.getMessage() for r in caplog.records) < 6:
                assert time.monotonic() < deadline, caplog.text
                time.sleep(0.05)
    finally:
        notifications.close()
        trickler.close()
    [warning] = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warning.startswith(f"job j0: the completed notification did not reach json://kokoro:") \
        and f"127.0.0.1:{trickler.port}" in warning and "no answer within 1 s" in warning
    assert "hunter2" not in caplog.text
