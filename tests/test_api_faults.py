"""The REST API under hostile and unlucky clients (issue 10), over real HTTP on loopback.

Every test runs the standalone ``kokoro-inbox api`` process over folders planted with
real status files (written by ``status.JobStore``), so none depends on the daemon.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import bottle
import jsonschema_rs
import pytest
import requests

from daemon.api.openapi import OPENAPI
from daemon.mailbox import Mailbox, UploadTicket
from daemon.status import Job, JobStatus, JobStore, journal_path

from .daemon_helpers import ROOT, free_port, write_config
from .epubs import simple_book

FOLDERS = ("inbox", "outbox", "archive", "failed", "processing")
T0 = datetime(2024, 3, 1, tzinfo=timezone.utc)


# --------------------------------------------------------------------------- helpers

class StandaloneApi:
    """``kokoro-inbox api`` as a process over temporary folders (no daemon)."""

    def __init__(self, base: Path, **config: Any) -> None:
        self.base = base
        base.mkdir(parents=True, exist_ok=True)
        for name in FOLDERS:
            (base / name).mkdir(exist_ok=True)
        self.port = free_port()
        self.config = write_config(base, api__enabled=True, api__port=self.port, **config)
        self.log = base / "api.log"
        self.process: subprocess.Popen | None = None

    url = property(lambda self: f"http://127.0.0.1:{self.port}")
    inbox = property(lambda self: self.base / "inbox")
    outbox = property(lambda self: self.base / "outbox")
    processing = property(lambda self: self.base / "processing")
    mailbox = property(lambda self: Mailbox(self.base / "processing"))

    def start(self) -> "StandaloneApi":
        env = {k: v for k, v in os.environ.items() if not k.startswith("KOKORO_INBOX_")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "daemon", "api", "--config", str(self.config)], cwd=self.base,
            env={**env, "PYTHONPATH": str(ROOT)}, stdout=open(self.log, "a"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{self.url}/health", timeout=5)
                return self
            except requests.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"the API did not start:\n{self.log.read_text()[-3000:]}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)

    def log_text(self) -> str:
        return self.log.read_text()

    def tickets(self) -> list[UploadTicket]:
        return self.mailbox.upload_tickets()

    def leftovers(self) -> list[str]:
        """Anything an upload may leave behind: files in the inbox, tickets, reservations."""
        requests_dir = self.processing / ".requests"
        found = [p.name for p in self.inbox.iterdir()]
        if requests_dir.exists():
            found += [p.name for p in requests_dir.iterdir()]
        return found


@pytest.fixture
def api(tmp_path) -> Iterator[Callable[..., StandaloneApi]]:
    started: list[StandaloneApi] = []

    def make(plant: Callable[[StandaloneApi], Any] | None = None, **config: Any) -> StandaloneApi:
        server = StandaloneApi(tmp_path / f"api{len(started)}", **config)
        if plant is not None:
            plant(server)
        started.append(server.start())
        return server

    yield make
    for server in started:
        server.stop()


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def make_job(number: int, status: JobStatus = JobStatus.COMPLETED, title: str | None = None,
             source: str | None = None, created: datetime | None = None, chapters: int = 5) -> Job:
    """A job as the daemon records it (the fields a real conversion fills in)."""
    stem = (source or f"Book {number:05d}.epub")[:-5]
    done = status is JobStatus.COMPLETED
    created = created or T0 + timedelta(minutes=number)
    marks = [{"index": i + 1, "title": f"Chapter {i + 1}", "chars": 2000, "start_seconds": 140.0 * i,
              "duration_seconds": 140.0, "status": "done" if done else "pending"} for i in range(chapters)]
    return Job(job_id=str(uuid.uuid4()), status=status, source=f"{stem}.epub",
               source_sha256=hashlib.sha256(stem.encode()).hexdigest(),
               settings={"voice": "af_heart", "speed": 1.0, "lang": "en-us", "bitrate": 64},
               status_file=f"{stem}.json", job_key=hashlib.sha256(f"key{number}".encode()).hexdigest(),
               progress=100.0 if done else 0.0, output_file=f"{stem}.mp3" if done else None,
               error="not an EPUB: the file is not a ZIP archive" if status is JobStatus.FAILED else None,
               error_code="not_an_epub" if status is JobStatus.FAILED else None,
               title=title or f"Book number {number}", author="A. Writer", chapters=marks,
               chars_total=2000 * chapters, chars_done=2000 * chapters if done else 0,
               audio_seconds=140.0 * chapters if done else 0.0, created_at=iso(created),
               started_at=iso(created + timedelta(seconds=5)),
               finished_at=iso(created + timedelta(minutes=10)) if done else None)


def plant_jobs(outbox: Path, processing: Path, jobs: list[Job]) -> list[Job]:
    """Status files written by the daemon's own writer, and the journal a daemon keeps."""
    store = JobStore(outbox)
    for job in jobs:
        store.save(job)
    JobStore(outbox, journal_path(processing)).load()
    return jobs


def write_heartbeat(processing: Path) -> None:
    Mailbox(processing).beat({"state": "running", "watcher": "alive", "pool": "alive", "workers": 2,
                              "chars_per_second": 0.0})


def openapi_validator(schema: str | dict = "Job") -> Any:
    """An OpenAPI 3.0 schema (a component's name, or a schema) as a JSON Schema validator:
    references resolved, ``nullable`` turned into a null type."""
    components = OPENAPI["components"]["schemas"]

    def convert(node: Any) -> Any:
        if isinstance(node, list):
            return [convert(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            return convert(components[node["$ref"].rsplit("/", 1)[1]])
        out = {k: convert(v) for k, v in node.items() if k not in ("nullable", "example", "format")}
        if node.get("nullable"):
            out["type"] = [node["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        return out

    return jsonschema_rs.validator_for(convert(components[schema] if isinstance(schema, str) else schema))


def upload(url: str, book: Path, name: str | None = None, timeout: float = 30, **fields: Any) -> requests.Response:
    data = {"voice": "af_sarah", "speed": 1.0, "lang": "en-us"} | fields
    with open(book, "rb") as handle:
        return requests.post(f"{url}/convert", files={"file": (name or book.name, handle)}, data=data,
                             timeout=timeout)


def stalled_upload(port: int, length: int = 10 << 20, sent: int = 200) -> socket.socket:
    """A client that starts an upload and then sends nothing more."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = (f"POST /convert HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {length}\r\n"
            "Content-Type: multipart/form-data; boundary=XX\r\n\r\n").encode()
    body = (b'--XX\r\nContent-Disposition: form-data; name="voice"\r\n\r\naf_heart\r\n'
            b'--XX\r\nContent-Disposition: form-data; name="file"; filename="slow.epub"\r\n\r\n')
    sock.sendall(head + (body + b"PK" * sent)[:sent])
    return sock


def read_response(sock: socket.socket, timeout: float = 10) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """True once the server has closed (or reset) the connection, within ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            if not sock.recv(65536):
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False
    return False


def completed_with_mp3(server: StandaloneApi) -> Job:
    job = make_job(1)
    plant_jobs(server.outbox, server.processing, [job])
    (server.outbox / job.output_file).write_bytes(b"ID3" + os.urandom(2000))
    return job


# --------------------------------------------------------------------------- tokens and hosts

@pytest.mark.processes
def test_access_token_in_the_query_is_taken_only_by_the_download(api, tmp_path):
    planted: list[Job] = []
    server = api(lambda s: planted.append(completed_with_mp3(s)), api__token="s3cret")
    job = planted[0]
    query, header = {"access_token": "s3cret"}, {"Authorization": "Bearer s3cret"}
    mp3 = requests.get(f"{server.url}/download/{job.job_id}", params=query)
    assert mp3.status_code == 200 and mp3.content == (server.outbox / job.output_file).read_bytes()
    book = simple_book(tmp_path / "b.epub", [("One", ["The fog lifted."])])
    elsewhere = [("GET", f"/status/{job.job_id}"), ("GET", "/jobs"), ("GET", "/metrics"),
                 ("GET", "/voices"), ("GET", "/languages"), ("DELETE", f"/jobs/{job.job_id}")]
    for method, path in elsewhere:
        refused = requests.request(method, server.url + path, params=query)
        assert refused.status_code == 401, (method, path)
        assert refused.json()["detail"]["loc"] == ["header", "Authorization"]
        assert requests.request(method, server.url + path, headers=header).status_code in (200, 409), path
    with open(book, "rb") as handle:
        refused = requests.post(f"{server.url}/convert", params=query, files={"file": handle},
                                data={"voice": "af_heart"})
    assert refused.status_code == 401 and not server.tickets()
    with open(book, "rb") as handle:
        accepted = requests.post(f"{server.url}/convert", headers=header, files={"file": handle},
                                 data={"voice": "af_heart"})
    assert accepted.status_code == 202
    assert requests.get(f"{server.url}/download/{job.job_id}", params={"access_token": "nope"}).status_code == 401


@pytest.mark.processes
def test_the_host_header_must_name_this_machine(api, tmp_path):
    server = api(api__allowed_hosts=["nas.lan", ".home.arpa"])
    me = socket.gethostname()
    allowed = ["127.0.0.1", f"127.0.0.1:{server.port}", f"[::1]:{server.port}", "[::1]", "10.1.2.3:80",
               "localhost", f"LOCALHOST:{server.port}", me, f"{me}.local:{server.port}", socket.getfqdn(),
               "nas.lan", "NAS.lan.", "books.home.arpa", "home.arpa"]
    for host in allowed:
        assert requests.get(f"{server.url}/jobs", headers={"Host": host}).status_code == 200, host
    refused = ["evil.example", f"evil.example:{server.port}", "nas.lan.evil.example",
               "localhost.evil.example", "127.0.0.1.evil.example", "home.arpa.evil.example"]
    for host in refused:
        answer = requests.get(f"{server.url}/jobs", headers={"Host": host})
        assert answer.status_code == 400, host
        assert answer.json()["detail"]["loc"] == ["header", "Host"], host
    book = simple_book(tmp_path / "b.epub", [("One", ["The fog lifted."])])
    with open(book, "rb") as handle:
        posted = requests.post(f"{server.url}/convert", headers={"Host": "evil.example"},
                               files={"file": handle}, data={"voice": "af_heart"})
    assert posted.status_code == 400 and not server.tickets() and not list(server.inbox.iterdir())
    # /health holds no data and answers probes that know the machine by any name.
    assert requests.get(f"{server.url}/health", headers={"Host": "evil.example"}).status_code == 503
    proxied = api(api__allowed_hosts=["*"])
    assert requests.get(f"{proxied.url}/jobs", headers={"Host": "evil.example"}).status_code == 200


# --------------------------------------------------------------------------- paging

def _walk(url: str, **params: Any) -> list[dict]:
    jobs, cursor, pages = [], None, 0
    while True:
        answer = requests.get(f"{url}/jobs", params={**params, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert len(body["jobs"]) <= int(params.get("limit", 50))
        jobs += body["jobs"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return jobs
        assert pages < 1000


@pytest.mark.processes
def test_jobs_come_a_page_at_a_time_newest_first(api):
    jobs = [make_job(n, JobStatus.FAILED if n % 10 == 3 else JobStatus.COMPLETED,
                     title="The Dragon Reborn" if n % 13 == 0 else None,
                     source="dragon tales.epub" if n == 20 else None) for n in range(130)]
    pending = UploadTicket(str(uuid.uuid4()), "Just Uploaded.epub", {"voice": "af_heart"},
                           iso(T0 + timedelta(days=30)))

    def plant(server: StandaloneApi) -> None:
        plant_jobs(server.outbox, server.processing, jobs)
        server.mailbox.post_upload(pending)

    server = api(plant)
    newest_first = [pending.job_id] + [j.job_id for j in reversed(jobs)]

    first = requests.get(f"{server.url}/jobs").json()
    assert [j["job_id"] for j in first["jobs"]] == newest_first[:50] and first["next_cursor"]
    assert first["jobs"][0]["status"] == "queued" and first["jobs"][0]["source"] == "Just Uploaded.epub"
    assert len(first["jobs"][1]["chapters"]) == 5, "a page holds the status files' full records"

    assert [j["job_id"] for j in _walk(server.url, limit=7)] == newest_first
    assert [j["job_id"] for j in _walk(server.url, limit=500)] == newest_first
    failed = [j.job_id for j in reversed(jobs) if j.status is JobStatus.FAILED]
    assert [j["job_id"] for j in _walk(server.url, limit=5, status="failed")] == failed
    dragons = [j.job_id for j in reversed(jobs) if "dragon" in (j.title + j.source).lower()]
    assert len(dragons) == 11
    assert [j["job_id"] for j in _walk(server.url, limit=4, q="DRAGON")] == dragons
    assert [j["job_id"] for j in _walk(server.url, q="dragon", status="failed")] == \
        [i for i in dragons if i in failed]
    assert requests.get(f"{server.url}/jobs", params={"q": "no such book"}).json() == \
        {"jobs": [], "next_cursor": None}

    for params, loc in [({"limit": 0}, "limit"), ({"limit": 501}, "limit"), ({"limit": "x"}, "limit"),
                        ({"cursor": "garbage"}, "cursor"), ({"status": "done"}, "status"),
                        ({"q": "x" * 201}, "q")]:
        answer = requests.get(f"{server.url}/jobs", params=params)
        assert answer.status_code == 400 and answer.json()["detail"]["loc"] == ["query", loc], params


@pytest.mark.processes
def test_a_cursor_stays_put_while_new_jobs_arrive(api):
    jobs = [make_job(n) for n in range(30)]
    server = api(lambda s: plant_jobs(s.outbox, s.processing, jobs))
    first = requests.get(f"{server.url}/jobs", params={"limit": 10}).json()
    newer = make_job(99, JobStatus.QUEUED, created=T0 + timedelta(days=1))
    JobStore(server.outbox, journal_path(server.processing)).save(newer)  # the daemon appends to its journal
    second = requests.get(f"{server.url}/jobs", params={"limit": 10, "cursor": first["next_cursor"]}).json()
    expected = [j.job_id for j in reversed(jobs)]
    assert [j["job_id"] for j in first["jobs"] + second["jobs"]] == expected[:20]
    assert requests.get(f"{server.url}/jobs", params={"limit": 1}).json()["jobs"][0]["job_id"] == newer.job_id
    assert requests.get(f"{server.url}/status/{newer.job_id}").json()["status"] == "queued"


@pytest.mark.processes
def test_metrics_count_every_job_and_upload(api):
    statuses = [JobStatus.COMPLETED] * 20 + [JobStatus.FAILED] * 5 + [JobStatus.QUEUED] * 3 + \
        [JobStatus.PROCESSING] * 2
    jobs = [make_job(n, status) for n, status in enumerate(statuses)]
    ticket = UploadTicket(str(uuid.uuid4()), "New.epub", {"voice": "af_heart"}, iso(T0))

    def plant(server: StandaloneApi) -> None:
        plant_jobs(server.outbox, server.processing, jobs)
        server.mailbox.post_upload(ticket)

    server = api(plant)
    metrics = requests.get(f"{server.url}/metrics").text
    for status, count in [("completed", 20), ("failed", 5), ("queued", 4), ("processing", 2), ("cancelled", 0)]:
        assert f'kokoro_inbox_jobs{{status="{status}"}} {count}\n' in metrics
    assert "kokoro_inbox_queue_depth 6\n" in metrics
    assert f"kokoro_inbox_characters_total {sum(j.chars_done for j in jobs)}\n" in metrics


def test_the_uploads_waiting_are_listed_again_whenever_the_mailbox_changes(tmp_path):
    from daemon.api.jobs import JobView, PageQuery

    mailbox = Mailbox(tmp_path / "processing")
    view = JobView(tmp_path / "outbox", tmp_path / "processing", mailbox)
    (tmp_path / "outbox").mkdir()
    first = UploadTicket(str(uuid.uuid4()), "First.epub", {"voice": "af_heart"}, iso(T0))
    second = UploadTicket(str(uuid.uuid4()), "Second.epub", {"voice": "af_heart"}, iso(T0 + timedelta(1)))

    def listed() -> list[str]:
        return [r["source"] for r in view.page(PageQuery.from_request(bottle.FormsDict()))[0]]

    ages = iter(range(60, 0, -1))

    def age_folder() -> None:  # as if each change were long past, so only the stamp can tell
        old = time.time() - next(ages)
        os.utime(mailbox.requests, (old, old))

    mailbox.post_upload(first)
    assert listed() == ["First.epub"]  # a folder changed within the last second is always listed
    age_folder()
    assert listed() == ["First.epub"] and listed() == ["First.epub"]
    mailbox.post_upload(second)
    age_folder()
    assert listed() == ["Second.epub", "First.epub"]
    mailbox.close_upload(first.job_id)  # the daemon took the book in
    age_folder()
    assert listed() == ["Second.epub"]
    third = UploadTicket(str(uuid.uuid4()), "Third.epub", {"voice": "af_heart"}, iso(T0 + timedelta(2)))
    mailbox.post_upload(third)
    assert listed() == ["Third.epub", "Second.epub"]
    # a second change within the same clock tick leaves the folder's stamp as it was
    stamp = os.stat(mailbox.requests).st_mtime_ns
    mailbox.close_upload(second.job_id)
    os.utime(mailbox.requests, ns=(stamp, stamp))
    assert listed() == ["Third.epub"]


# --------------------------------------------------------------------------- uploads

@pytest.mark.processes
def test_uploads_beyond_the_bound_get_503_at_once_without_their_body_read(api, tmp_path):
    server = api(api__max_concurrent_uploads=2)
    stalled = [stalled_upload(server.port) for _ in range(2)]
    time.sleep(1.0)  # both hold their upload slot
    extra = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    extra.sendall((f"POST /convert HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {50 << 20}\r\n"
                   "Content-Type: multipart/form-data; boundary=XX\r\n\r\n").encode())
    began = time.monotonic()
    head = read_response(extra).decode("latin-1")
    assert head.startswith("HTTP/1.1 503"), head
    assert re.search(r"(?im)^Retry-After: \d+\r$", head) and re.search(r"(?im)^Connection: close\r$", head)
    assert time.monotonic() - began < 5, "answered without waiting for the 50 MB body"
    assert closed_by_server(extra, within=10)

    book = simple_book(tmp_path / "b.epub", [("One", ["The fog lifted."] * 2000)])
    refused = upload(server.url, book)  # the whole body sent: the client still reads the 503
    assert refused.status_code == 503 and int(refused.headers["Retry-After"]) > 0
    assert refused.json()["detail"]["type"] == "service_unavailable"
    for sock in stalled:
        sock.close()
    deadline = time.monotonic() + 15
    while (answer := upload(server.url, book)).status_code == 503:  # the slots come free
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert answer.status_code == 202
    assert [t.source for t in server.tickets()] == ["b.epub"]


@pytest.mark.processes
def test_the_queue_has_a_cap(api, tmp_path):
    queued = [make_job(n, JobStatus.QUEUED) for n in range(2)]
    server = api(lambda s: plant_jobs(s.outbox, s.processing, queued), api__max_queue=3)
    book = simple_book(tmp_path / "b.epub", [("One", ["The fog lifted."])])
    assert upload(server.url, book).status_code == 202  # 2 queued jobs + this upload = 3
    full = upload(server.url, book, name="Another.epub")
    assert full.status_code == 503 and int(full.headers["Retry-After"]) > 0
    assert full.json()["detail"]["loc"] == ["queue"]
    assert [t.source for t in server.tickets()] == ["b.epub"]
    assert sorted(p.name for p in server.inbox.iterdir()) == ["b.epub"]


@pytest.mark.processes
def test_concurrent_uploads_of_one_name_each_get_their_own_book(api, tmp_path):
    server = api(api__max_concurrent_uploads=40)
    books = [simple_book(tmp_path / f"b{n}.epub", [("One", [f"This is book number {n}."])])
             for n in range(40)]
    with ThreadPoolExecutor(40) as pool:
        answers = list(pool.map(lambda book: upload(server.url, book, name="Same Name.epub", timeout=60), books))
    assert [a.status_code for a in answers] == [202] * 40, [a.text for a in answers if a.status_code != 202]
    job_ids = [a.json()["job_id"] for a in answers]
    tickets = {t.job_id: t for t in server.tickets()}
    assert sorted(tickets) == sorted(job_ids) and len(set(job_ids)) == 40
    assert len({t.source for t in tickets.values()}) == 40
    for job_id, book in zip(job_ids, books):
        assert (server.inbox / tickets[job_id].source).read_bytes() == book.read_bytes(), job_id
    assert sorted(p.name for p in server.inbox.iterdir()) == sorted(t.source for t in tickets.values())
    assert not [p for p in (server.processing / ".requests").iterdir() if not p.name.startswith("upload-")]


@pytest.mark.processes
def test_an_upload_named_folder_epub_writes_no_sidecar(api, tmp_path):
    server = api()
    book = simple_book(tmp_path / "b.epub", [("One", ["The fog lifted."])])
    answer = upload(server.url, book, name="folder.epub", voice="bf_emma", speed=1.3)
    assert answer.status_code == 202
    assert sorted(p.name for p in server.inbox.iterdir()) == ["folder.epub"]
    [ticket] = server.tickets()
    assert ticket.source == "folder.epub" and ticket.settings == {"voice": "bf_emma", "speed": 1.3,
                                                                  "lang": "en-us"}
    # A user's sidecar rules its name out: it would apply to the uploaded book.
    (server.inbox / "Mine.yaml").write_text("voice: am_adam\n")
    mine = upload(server.url, book, name="Mine.epub").json()["job_id"]
    assert server.mailbox.upload_ticket(mine).source == "Mine (2).epub"


@pytest.mark.processes
def test_failed_uploads_leave_nothing_behind(api, tmp_path):
    server = api(api__max_upload_mb=1)
    book = simple_book(tmp_path / "b.epub", [("One", ["The fog lifted."])])
    notes = tmp_path / "notes.epub"
    notes.write_text("just notes")
    big = tmp_path / "big.epub"
    big.write_bytes(os.urandom(3 << 20))
    assert upload(server.url, book, voice="af_nobody").status_code == 400
    assert upload(server.url, notes).status_code == 400
    assert upload(server.url, big).status_code == 413
    half = stalled_upload(server.port, length=200_000, sent=50_000)
    half.close()  # gone half-way through the book
    deadline = time.monotonic() + 10
    while server.leftovers():
        assert time.monotonic() < deadline, server.leftovers()
        time.sleep(0.1)
    assert "Traceback" not in server.log_text()


@pytest.mark.processes
def test_an_inbox_that_cannot_take_an_upload_is_one_sentence(api, tmp_path):
    server = api()
    server.inbox.rmdir()
    answer = upload(server.url, simple_book(tmp_path / "b.epub", [("One", ["The fog lifted."])]))
    assert answer.status_code == 500 and answer.json()["detail"]["type"] == "storage_error"
    assert "cannot be stored" in answer.json()["detail"]["msg"] and str(tmp_path) not in answer.text
    assert not server.tickets()
    log = server.log_text()
    assert "Traceback" not in log and len([line for line in log.splitlines() if " ERROR " in line]) == 1


@pytest.mark.processes
def test_a_port_in_use_is_one_sentence_and_exit_code_2(api):
    server = api()
    second = subprocess.run([sys.executable, "-m", "daemon", "api", "--config", str(server.config)],
                            cwd=server.base, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            capture_output=True, text=True, timeout=60)
    assert second.returncode == 2
    lines = [line for line in second.stderr.splitlines() if "kokoro-inbox:" in line]
    assert len(lines) == 1 and f"127.0.0.1:{server.port}" in lines[0] and "in use" in lines[0], second.stderr
    assert "Traceback" not in second.stderr


# --------------------------------------------------------------------------- slow clients

def _drip(port: int, stop: threading.Event, data: bytes, pause: float) -> None:
    """A client that sends one byte at a time, and comes back when it is dropped."""
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                for byte in data:
                    if stop.wait(pause):
                        return
                    sock.sendall(bytes([byte]))
        except OSError:
            stop.wait(0.2)


@pytest.mark.processes
def test_slow_clients_do_not_starve_the_api(api):
    jobs = [make_job(n) for n in range(10)]
    server = api(lambda s: plant_jobs(s.outbox, s.processing, jobs))
    stop = threading.Event()
    head = b"GET /status/x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"a" * 500 + b"\r\n\r\n"
    drippers = [threading.Thread(target=_drip, args=(server.port, stop, head, 0.5), daemon=True)
                for _ in range(20)]
    for thread in drippers:
        thread.start()
    stalled = [stalled_upload(server.port) for _ in range(100)]
    try:
        time.sleep(2)
        for _ in range(10):
            assert requests.get(f"{server.url}/health", timeout=5).status_code == 503  # no daemon
            status = requests.get(f"{server.url}/status/{jobs[3].job_id}", timeout=5)
            assert status.status_code == 200 and status.json()["job_id"] == jobs[3].job_id
            assert requests.get(f"{server.url}/jobs", params={"limit": 5}, timeout=5).status_code == 200
            time.sleep(0.3)
    finally:
        stop.set()
        for sock in stalled:
            sock.close()
        for thread in drippers:
            thread.join(10)
    log = server.log_text()
    assert "Traceback" not in log and " ERROR " not in log, log[-3000:]


@pytest.mark.processes
def test_a_client_dripping_its_body_is_dropped_with_one_info_line(api):
    server = api()  # the defaults: at least 500 bytes/s over each 10 s window
    sock = stalled_upload(server.port, length=100_000, sent=300)
    client_port = sock.getsockname()[1]
    began = time.monotonic()
    dropped = False
    while time.monotonic() - began < 30:
        try:
            sock.sendall(b"x")  # one byte every 5 s
        except OSError:
            dropped = True
            break
        if closed_by_server(sock, within=5):
            dropped = True
            break
    assert dropped and time.monotonic() - began < 25
    time.sleep(0.5)
    lines = [line for line in server.log_text().splitlines() if f"127.0.0.1:{client_port}" in line]
    assert len(lines) == 1 and " INFO " in lines[0] and "dropped client" in lines[0], lines
    assert "Traceback" not in server.log_text()
    assert not server.leftovers()


@pytest.mark.processes
def test_a_client_dripping_its_headers_gets_408_and_one_info_line(api):
    server = api(api__header_timeout_seconds=2)
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    client_port = sock.getsockname()[1]
    began = time.monotonic()
    answer = b""
    for byte in b"GET /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100:
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            break
        sock.settimeout(0.3)
        try:
            answer = sock.recv(4096)
        except socket.timeout:
            continue
        break
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert time.monotonic() - began < 10
    time.sleep(0.5)
    lines = [line for line in server.log_text().splitlines() if f"127.0.0.1:{client_port}" in line]
    assert len(lines) == 1 and " INFO " in lines[0] and "request line and headers" in lines[0], lines
    # A connection that never says anything is closed without a word (a browser's spare one).
    idle = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    assert closed_by_server(idle, within=8)
    assert requests.get(f"{server.url}/jobs", timeout=5).status_code == 200


# --------------------------------------------------------------------------- the OpenAPI description

@pytest.mark.processes
def test_status_files_and_api_records_match_the_openapi_job_schema(api):
    jobs = [make_job(0), make_job(1, JobStatus.FAILED), make_job(2, JobStatus.QUEUED, chapters=0),
            make_job(3, JobStatus.PROCESSING)]
    jobs[3].eta_seconds, jobs[3].progress = 321.5, 42.0
    jobs[1].duplicate_of = jobs[0].job_id
    ticket = UploadTicket(str(uuid.uuid4()), "Fresh.epub", {"voice": "af_heart", "speed": 1.0,
                                                            "lang": "en-us"}, iso(T0))

    def plant(server: StandaloneApi) -> None:
        plant_jobs(server.outbox, server.processing, jobs)
        server.mailbox.post_upload(ticket)

    server = api(plant)
    job_schema = openapi_validator()
    for path in server.outbox.glob("*.json"):
        job_schema.validate(json.loads(path.read_text()))
    for job_id in [j.job_id for j in jobs] + [ticket.job_id]:
        job_schema.validate(requests.get(f"{server.url}/status/{job_id}").json())
    page_schema = openapi_validator(
        OPENAPI["paths"]["/jobs"]["get"]["responses"]["200"]["content"]["application/json"]["schema"])
    page = requests.get(f"{server.url}/jobs", params={"limit": 2}).json()
    page_schema.validate(page)
    assert page["next_cursor"]
    page_schema.validate(requests.get(f"{server.url}/jobs").json())
    assert not job_schema.is_valid({**requests.get(f"{server.url}/status/{ticket.job_id}").json(),
                                    "status": "done"}), "the validator does check"


# --------------------------------------------------------------------------- the page

@pytest.mark.processes
def test_the_page_shows_a_page_of_jobs_more_on_demand_and_searches(api):
    if not shutil.which("chromium"):
        pytest.fail("Debian's chromium is not installed (make test installs it)")
    from playwright.sync_api import expect, sync_playwright

    jobs = [make_job(n, title="The Dragon Reborn" if n % 20 == 0 else None) for n in range(120)]
    server = api(lambda s: plant_jobs(s.outbox, s.processing, jobs), api__token="s3cret")
    asked: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=[
            "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
        page = browser.new_page()
        page.on("request", lambda request: asked.append(request.url))
        page.goto(server.url + "/")
        expect(page.locator("#token-box")).to_have_attribute("open", "")  # it asks for the token
        page.fill("#token", "s3cret")
        page.dispatch_event("#token", "change")
        rows = page.locator("#jobs li")
        expect(rows).to_have_count(50)
        expect(rows.first).to_have_attribute("data-job", jobs[-1].job_id)
        assert "access_token=s3cret" in rows.first.locator("audio").get_attribute("src")
        page.click("#more")
        expect(rows).to_have_count(100)
        expect(rows.nth(99)).to_have_attribute("data-job", jobs[20].job_id)
        page.wait_for_timeout(2500)  # a poll keeps all 100
        expect(rows).to_have_count(100)
        page.click("#more")
        expect(rows).to_have_count(120)
        expect(page.locator("#more")).to_be_hidden()
        page.fill("#search", "dragon")
        expect(rows).to_have_count(6)
        expect(rows.first.locator(".job-title")).to_have_text("The Dragon Reborn")
        page.fill("#search", "no such book")
        expect(rows).to_have_count(0)
        expect(page.locator("#empty")).to_be_visible()
        browser.close()
    listed = [url for url in asked if "/jobs" in url]
    assert listed and all("limit=" in url for url in listed), listed
    assert not [url for url in asked if "access_token" in url and "/download/" not in url]


# --------------------------------------------------------------------------- covers

def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.mark.processes
def test_concurrent_requests_for_a_huge_cover_are_served_from_one_file_in_flat_memory(api, tmp_path):
    import soundfile
    from mutagen.id3 import APIC, ID3

    from .epubs import tiny_png

    planted: list[Job] = []

    def plant(server: StandaloneApi) -> None:
        planted.append(completed_with_mp3(server))
        mp3 = server.outbox / planted[0].output_file
        soundfile.write(mp3, [0.0] * 24000, 24000, format="MP3")
        tags = ID3()  # a PNG that fits the cap, padded to 40 MB (players and Pillow ignore what follows it)
        tags.add(APIC(encoding=3, mime="image/png", type=3, desc="Cover", data=tiny_png() + bytes(40 << 20)))
        tags.save(mp3)

    server = api(plant)
    url = f"{server.url}/cover/{planted[0].job_id}"
    before = _peak_rss_mb(server.process.pid)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: requests.get(url, timeout=60), range(8)))
    grown = _peak_rss_mb(server.process.pid) - before
    assert [a.status_code for a in answers] == [200] * 8
    assert {a.headers["Content-Type"] for a in answers} == {"image/jpeg"}  # refitted: 40 MB is over the cap
    assert all(len(a.content) <= 300_000 for a in answers)
    [made] = list((server.processing / "covers").iterdir())
    assert made.name == f"{planted[0].job_id}.jpg" and made.read_bytes() == answers[0].content
    # one tag block read once (+160 MB here); before, eight at once: +1,040 MB
    assert grown < 240, f"the API's peak memory grew by {grown:.0f} MB"


# --------------------------------------------------------------------------- voice samples

def _children(pid: int, marker: str) -> list[int]:
    """Live (not zombie) processes whose parent is ``pid`` and whose command line has ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue
        state, parent = stat.rpartition(")")[2].split()[:2]
        if int(parent) == pid and state != "Z" and marker in command:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.model
@pytest.mark.processes
def test_sample_requests_hold_no_thread_and_the_sample_process_dies_with_the_api(api, real_models):
    from daemon.speech.languages import VOICES

    server = api()
    voices = list(VOICES)[:20]
    with ThreadPoolExecutor(20) as pool:
        samples = [pool.submit(requests.get, f"{server.url}/voices/{v}/sample", timeout=30) for v in voices]
        time.sleep(0.2)  # the sample requests arrive first
        began = time.monotonic()
        health = requests.get(f"{server.url}/health", timeout=30)
        waited = time.monotonic() - began
        answers = [s.result() for s in samples]
    assert health.status_code == 503 and waited < 1.0, f"/health took {waited:.1f} s"  # before: 9.5 s
    assert {a.status_code for a in answers} == {202} and {a.headers["Retry-After"] for a in answers} == {"3"}
    deadline = time.monotonic() + 10
    while not (makers := _children(server.process.pid, "daemon.synth.voice_samples")):
        assert time.monotonic() < deadline, "no sample process started"
        time.sleep(0.05)
    assert len(makers) == 1  # one at a time, however many were asked for
    server.process.kill()
    server.process.wait(10)
    deadline = time.monotonic() + 5
    while _alive(makers[0]):
        assert time.monotonic() < deadline, "the sample process outlived the API"
        time.sleep(0.05)


# --------------------------------------------------------------------------- the feed's token

@pytest.mark.processes
def test_the_feed_token_reads_the_feed_and_what_it_links_to_and_nothing_else(api, tmp_path):
    from daemon.config import feed_token

    planted: list[Job] = []
    server = api(lambda s: planted.append(completed_with_mp3(s)), api__token="s3cret")
    job, feed = planted[0], feed_token("s3cret", None)
    as_feed, as_admin = {"Authorization": f"Bearer {feed}"}, {"Authorization": "Bearer s3cret"}
    listing = requests.get(f"{server.url}/feed.xml", params={"access_token": feed})
    assert listing.status_code == 200
    assert set(re.findall(r"access_token=([^&\"]+)", listing.text)) == {feed}  # before: the admin token
    assert "s3cret" not in listing.text
    readable = [f"/download/{job.job_id}", f"/chapters/{job.job_id}", "/feed.xml"]
    for path in readable:
        assert requests.get(server.url + path, params={"access_token": feed}).status_code == 200, path
        assert requests.get(server.url + path, headers=as_feed).status_code == 200, path
    assert requests.get(f"{server.url}/cover/{job.job_id}", headers=as_feed).status_code == 404  # no cover, not 401
    book = simple_book(tmp_path / "b.epub", [("One", ["The fog lifted."])])
    refused = [("GET", f"/status/{job.job_id}"), ("GET", "/jobs"), ("GET", "/metrics"), ("GET", "/voices"),
               ("GET", "/languages"), ("DELETE", f"/jobs/{job.job_id}"), ("GET", "/voices/af_heart/sample")]
    for method, path in refused:
        assert requests.request(method, server.url + path, headers=as_feed).status_code == 401, path
        assert requests.request(method, server.url + path, params={"access_token": feed}).status_code == 401, path
    with open(book, "rb") as handle:
        upload = requests.post(f"{server.url}/convert", headers=as_feed, files={"file": handle},
                               data={"voice": "af_heart"})
    assert upload.status_code == 401 and not server.tickets()
    for method, path in refused[:-1] + [("GET", readable[0]), ("GET", readable[2])]:  # the admin token: all
        assert requests.request(method, server.url + path, headers=as_admin).status_code in (200, 409), path
    with open(book, "rb") as handle:
        assert requests.post(f"{server.url}/convert", headers=as_admin, files={"file": handle},
                             data={"voice": "af_heart"}).status_code == 202


@pytest.mark.processes
def test_a_part_in_other_digits_and_a_host_with_userinfo_are_refused_and_never_echoed(api):
    planted: list[Job] = []
    server = api(lambda s: planted.append(completed_with_mp3(s)))
    download = f"{server.url}/download/{planted[0].job_id}"
    for part in ("%B2", "%C2%B2", "%D9%A3", "+1", "1%00"):  # "²" and "٣" are digits to str.isdigit()
        answer = requests.get(f"{download}?part={part}")
        assert answer.status_code == 400 and answer.json()["detail"]["loc"] == ["query", "part"], part
    assert requests.get(f"{download}?part=1").status_code == 200
    for host in ("[::1]@evil.example", "127.0.0.1@evil.example", f"[::1]:{server.port}@evil.example",
                 "[evil.example]", "localhost:80:80", "localhost/evil", "localhost:99999", "::1"):
        answer = requests.get(f"{server.url}/feed.xml", headers={"Host": host})
        assert answer.status_code == 400 and answer.json()["detail"]["loc"] == ["header", "Host"], host
    assert "Traceback" not in server.log_text()  # before: 500 and a traceback for "²"
    proxied = api(api__allowed_hosts=["*"])  # the check off: the feed's links still name no stranger
    feed = requests.get(f"{proxied.url}/feed.xml", headers={"Host": "[::1]@evil.example"})
    assert feed.status_code == 200 and "evil.example" not in feed.text
    assert re.search(rf'<atom:link href="http://[a-z0-9.-]+:{proxied.port}/feed.xml"', feed.text)  # this machine
    named = requests.get(f"{proxied.url}/feed.xml", headers={"Host": f"[::1]:{proxied.port}"})
    assert f'href="http://[::1]:{proxied.port}/feed.xml"' in named.text
