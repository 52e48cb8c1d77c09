"""The REST API over real HTTP on loopback, served by the daemon itself."""

from __future__ import annotations

import http.client
import io
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
import soundfile

from daemon.api.openapi import OPENAPI

from .daemon_helpers import ROOT, Daemon, free_port, write_config
from .epubs import simple_book
from .test_api_faults import StandaloneApi, make_job, openapi_validator, plant_jobs, write_heartbeat

TEXT = ["The fog lifted at last over the river.", "Then the lamps went out one by one."]


def api_daemon(base: Path, engine: str = "tone", **config) -> Daemon:
    return Daemon(base, engine=engine, api__enabled=True, api__port=free_port(), **config)


@pytest.fixture
def served(tmp_path):
    started: list[Daemon] = []

    def make(engine: str = "tone", **config) -> Daemon:
        daemon = api_daemon(tmp_path / f"d{len(started)}", engine, **config)
        started.append(daemon.start())
        return daemon

    yield make
    for daemon in started:
        if daemon.alive():
            daemon.stop()


JOB_SCHEMA = openapi_validator("Job")


def wait_status(url: str, job_id: str, wanted: str = "completed", timeout: float = 120, **kwargs) -> dict:
    """Poll a job until it ends; every answer on the way must match the OpenAPI Job schema."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = requests.get(f"{url}/status/{job_id}", **kwargs).json()
        JOB_SCHEMA.validate(status)
        if status["status"] in ("completed", "failed", "cancelled"):
            assert status["status"] == wanted, status
            return status
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not finish")


def upload(url: str, path: Path, name: str | None = None, **fields) -> requests.Response:
    data = {"voice": "af_sarah", "speed": 1.0, "lang": "en-us"} | fields
    with open(path, "rb") as handle:
        return requests.post(f"{url}/convert", files={"file": (name or path.name, handle)}, data=data)


@pytest.mark.model
@pytest.mark.processes
def test_the_original_examples_work_unchanged(tmp_path, served, real_models, monkeypatch):
    daemon = served(engine="kokoro")
    monkeypatch.chdir(tmp_path)
    simple_book(tmp_path / "book.epub", [("One", TEXT[:1]), ("Two", TEXT[1:])])
    port = daemon.url.rsplit(":", 1)[1]

    # --- the Python example, verbatim but for the port ---
    files = {'file': open('book.epub', 'rb')}
    data = {'voice': 'af_sarah', 'speed': 1.0, 'lang': 'en-us'}
    response = requests.post(f'http://localhost:{port}/convert', files=files, data=data)
    job_id = response.json()['job_id']
    status = requests.get(f'http://localhost:{port}/status/{job_id}')
    # ---
    assert response.status_code == 202
    assert response.json() == {"job_id": job_id, "message": "Conversion started", "status": "queued"}
    assert response.headers["Location"] == f"/status/{job_id}"
    assert status.status_code == 200 and status.json()["status"] in ("queued", "processing")
    done = wait_status(daemon.url, job_id, timeout=240)
    assert done["settings"]["voice"] == "af_sarah" and done["output_file"] == "book.mp3"

    # --- the curl example, verbatim but for the port ---
    curl = (f'curl -s -X POST "http://localhost:{port}/convert" -H "accept: application/json" '
            f'-H "Content-Type: multipart/form-data" -F "file=@book.epub" '
            f'-F "voice=af_sarah" -F "speed=1.0" -F "lang=en-us"')
    answer = json.loads(subprocess.run(curl, shell=True, capture_output=True, text=True, check=True).stdout)
    second = json.loads(subprocess.run(f'curl -s "http://localhost:{port}/status/{answer["job_id"]}"',
                                       shell=True, capture_output=True, text=True, check=True).stdout)
    assert answer["status"] == "queued" and second["job_id"] == answer["job_id"]
    again = wait_status(daemon.url, answer["job_id"])  # the same book and settings: not read twice
    assert again["output_file"] == "book.mp3"

    mp3 = tmp_path / "download.mp3"
    mp3.write_bytes(requests.get(f"{daemon.url}/download/{job_id}").content)
    audio, rate = soundfile.read(mp3)
    assert rate == 24000 and len(audio) / rate > 2


@pytest.mark.processes
@pytest.mark.parametrize("fields, status, loc, msg", [
    ({"voice": "af_nobody"}, 400, ["voice"], "Invalid voice selection"),
    ({"speed": 3}, 400, ["speed"], "Speed must be between 0.5 and 2.0"),
    ({"lang": "xx"}, 400, ["lang"], "Unsupported language"),
])
def test_bad_form_fields_get_the_original_error_body(tmp_path, served, fields, status, loc, msg):
    daemon = served()
    book = simple_book(tmp_path / "b.epub", [("One", TEXT)])
    response = upload(daemon.url, book, **fields)
    assert response.status_code == status
    detail = response.json()["detail"]
    assert detail["type"] == "value_error" and detail["loc"] == loc and detail["msg"].startswith(msg)
    assert not [p for p in daemon.inbox.iterdir()], "nothing reached the inbox"


@pytest.mark.processes
def test_not_an_epub_and_a_missing_file_are_400(tmp_path, served):
    daemon = served()
    text = tmp_path / "notes.epub"
    text.write_text("just notes")
    response = upload(daemon.url, text)
    assert response.status_code == 400 and response.json()["detail"]["loc"] == ["body", "file"]
    assert "not an EPUB" in response.json()["detail"]["msg"]
    response = requests.post(f"{daemon.url}/convert", data={"voice": "af_heart"},
                             files={"other": ("x.txt", b"x")})
    assert response.status_code == 400 and response.json()["detail"]["loc"] == ["body", "file"]
    assert not list(daemon.inbox.iterdir())


@pytest.mark.processes
def test_an_over_limit_upload_is_refused_before_it_is_stored(tmp_path, served):
    daemon = served(api__max_upload_mb=1)
    big = tmp_path / "big.epub"
    big.write_bytes(os.urandom(3 << 20))
    response = upload(daemon.url, big)
    assert response.status_code == 413 and response.json()["detail"]["loc"] == ["file"]
    assert not list(daemon.inbox.iterdir())
    # A client that lies about the length is cut off at the limit, and nothing is kept.
    connection = http.client.HTTPConnection("127.0.0.1", int(daemon.url.rsplit(":", 1)[1]), timeout=30)
    body = (b"--XX\r\nContent-Disposition: form-data; name=\"voice\"\r\n\r\naf_heart\r\n"
            b"--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.epub\"\r\n\r\n"
            + os.urandom(2 << 20) + b"\r\n--XX--\r\n")
    connection.request("POST", "/convert", body=body, headers={
        "Content-Type": "multipart/form-data; boundary=XX", "Content-Length": str(1 << 20)})
    assert connection.getresponse().status in (400, 413)
    assert not list(daemon.inbox.iterdir())


@pytest.mark.processes
def test_chunked_uploads_without_a_length_are_refused(tmp_path, served):
    daemon = served()
    book = simple_book(tmp_path / "b.epub", [("One", TEXT)])

    def chunks():
        yield book.read_bytes()

    response = requests.post(f"{daemon.url}/convert", data=chunks(),
                             headers={"Content-Type": "multipart/form-data; boundary=XX"})
    assert response.status_code == 411
    assert response.json()["detail"]["loc"] == ["header", "Content-Length"]


@pytest.mark.processes
def test_upload_names_are_sanitised_and_do_not_collide(tmp_path, served):
    daemon = served()
    book = simple_book(tmp_path / "b.epub", [("One", TEXT)])
    first = upload(daemon.url, book, name="../../etc/My Book.epub").json()["job_id"]
    second = upload(daemon.url, book, name="../../etc/My Book.epub", voice="am_adam").json()["job_id"]
    one, two = wait_status(daemon.url, first), wait_status(daemon.url, second)
    assert {one["source"], two["source"]} == {"My Book.epub", "My Book (2).epub"}
    assert not (tmp_path / "etc").exists()


@pytest.mark.processes
def test_unknown_malformed_and_traversal_ids_are_404(served):
    daemon = served()
    for path in ("/status/00000000-0000-0000-0000-000000000000", "/status/not-an-id",
                 "/download/..%2F..%2Fetc%2Fpasswd", "/download/../../etc/passwd",
                 "/status/a/b", "/download/%2Fetc%2Fpasswd"):
        response = requests.get(daemon.url + path)
        assert response.status_code == 404, path
        assert response.json()["detail"]["msg"] in ("Job not found", "Not found")


@pytest.mark.processes
def test_download_supports_range_etag_and_last_modified(tmp_path, served):
    daemon = served()
    job_id = upload(daemon.url, simple_book(tmp_path / "b.epub", [("One", TEXT)])).json()["job_id"]
    wait_status(daemon.url, job_id)
    whole = requests.get(f"{daemon.url}/download/{job_id}")
    assert whole.status_code == 200 and whole.headers["Content-Type"] == "audio/mpeg"
    assert whole.headers["Last-Modified"] and whole.headers["ETag"]
    part = requests.get(f"{daemon.url}/download/{job_id}", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == whole.content[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(whole.content)}"
    cached = requests.get(f"{daemon.url}/download/{job_id}", headers={"If-None-Match": whole.headers["ETag"]})
    assert cached.status_code == 304


@pytest.mark.processes
def test_a_symlinked_output_leading_out_of_the_outbox_is_not_served(tmp_path, served):
    daemon = served()
    job_id = upload(daemon.url, simple_book(tmp_path / "b.epub", [("One", TEXT)])).json()["job_id"]
    status = wait_status(daemon.url, job_id)
    mp3 = daemon.outbox / status["output_file"]
    mp3.unlink()
    secret = tmp_path / "secret.mp3"
    secret.write_bytes(b"not yours")
    mp3.symlink_to(secret)
    assert requests.get(f"{daemon.url}/download/{job_id}").status_code == 404


@pytest.mark.processes
def test_jobs_list_cancel_metrics_and_health(tmp_path, served):
    daemon = served(engine="tone-slow")
    book = simple_book(tmp_path / "b.epub", [("One", TEXT * 12), ("Two", TEXT * 12)])
    job_id = upload(daemon.url, book).json()["job_id"]
    deadline = time.monotonic() + 60
    while requests.get(f"{daemon.url}/status/{job_id}").json()["status"] != "processing":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    listed = requests.get(f"{daemon.url}/jobs", params={"status": "processing"}).json()["jobs"]
    assert [j["job_id"] for j in listed] == [job_id]
    # /jobs is paged since issue 10: the body also carries the next page's cursor.
    assert requests.get(f"{daemon.url}/jobs", params={"status": "failed"}).json() == \
        {"jobs": [], "next_cursor": None}
    metrics = requests.get(f"{daemon.url}/metrics").text
    assert 'kokoro_inbox_jobs{status="processing"} 1' in metrics and "kokoro_inbox_workers 2" in metrics
    assert 'kokoro_inbox_disk_free_bytes{folder="outbox"} ' in metrics
    health = requests.get(f"{daemon.url}/health").json()
    assert health["status"] == "ok"
    assert health["disk_free_bytes"]["processing"] == shutil.disk_usage(tmp_path).free or \
        abs(health["disk_free_bytes"]["processing"] - shutil.disk_usage(tmp_path).free) < 1 << 30
    cancel = requests.delete(f"{daemon.url}/jobs/{job_id}")
    assert cancel.status_code == 202
    wait_status(daemon.url, job_id, wanted="cancelled", timeout=30)
    assert requests.delete(f"{daemon.url}/jobs/{job_id}").status_code == 409


@pytest.mark.model
@pytest.mark.processes
def test_voices_keep_their_original_shape_with_details_beside_and_a_sample_by_ear(served, real_models):
    daemon = served()
    body = requests.get(f"{daemon.url}/voices").json()
    assert body["voices"][:2] == ["af_alloy", "af_aoede"] and len(body["voices"]) == 54
    emma = next(d for d in body["details"] if d["id"] == "bf_emma")
    assert emma["label"] == "Emma \u2014 British English, female" and emma["lang"] == "en-gb"
    assert requests.get(f"{daemon.url}/voices/nobody/sample").status_code == 404
    deadline = time.monotonic() + 60
    while (sample := requests.get(daemon.url + emma["sample"])).status_code == 202:
        assert sample.headers["Retry-After"] and time.monotonic() < deadline, sample.text
        time.sleep(1)
    assert sample.status_code == 200 and sample.headers["Content-Type"] == "audio/wav"
    audio, rate = soundfile.read(io.BytesIO(sample.content))
    assert rate == 24000 and 1.5 < len(audio) / rate < 6
    began = time.monotonic()
    assert requests.get(daemon.url + emma["sample"]).content == sample.content  # kept: made once
    assert time.monotonic() - began < 1


@pytest.mark.processes
def test_a_token_guards_everything_but_health(tmp_path, served):
    daemon = served(api__token="s3cret")
    assert requests.get(f"{daemon.url}/voices").status_code == 401
    assert requests.get(f"{daemon.url}/voices", headers={"Authorization": "Bearer wrong"}).status_code == 401
    voices = requests.get(f"{daemon.url}/voices", headers={"Authorization": "Bearer s3cret"})
    assert voices.status_code == 200 and "af_heart" in voices.json()["voices"]
    assert requests.get(f"{daemon.url}/health").status_code == 200
    assert requests.get(f"{daemon.url}/languages").json()["detail"]["loc"] == ["header", "Authorization"]


@pytest.mark.processes
def test_the_api_on_its_own_reports_a_stopped_daemon(tmp_path):
    daemon = api_daemon(tmp_path).start()
    job_id = upload(daemon.url, simple_book(tmp_path / "b.epub", [("One", TEXT)])).json()["job_id"]
    wait_status(daemon.url, job_id)
    daemon.stop()
    api = subprocess.Popen([sys.executable, "-m", "daemon", "api", "--config", str(daemon.config)],
                           cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = requests.get(f"{daemon.url}/health")
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert health.status_code == 503 and "not" in health.json()["reason"]
        assert requests.get(f"{daemon.url}/status/{job_id}").json()["status"] == "completed"
    finally:
        api.terminate()
        api.wait(10)


def test_openapi_describes_every_route(tmp_path):
    """Every route the app serves is in the description, and the description has no route
    the app lacks (the static files of the page aside)."""
    from daemon.api.app import create_app
    from daemon.config import load_config
    app = create_app(load_config(write_config(tmp_path), environ={}))
    routes = {(re.sub(r"<(\w+)>", r"{\1}", r.rule), r.method.lower()) for r in app.routes
              if not r.rule.startswith("/static/")}
    described = {(path, method) for path, item in OPENAPI["paths"].items() for method in item}
    assert routes == described
    for path, method in described:
        responses = OPENAPI["paths"][path][method]["responses"]
        assert path == "/health" or "400" in responses, f"{method} {path}: the Host check's 400"
    convert = OPENAPI["paths"]["/convert"]["post"]["responses"]
    assert "Retry-After" in convert["503"]["headers"]
    params = {p["name"] for p in OPENAPI["paths"]["/jobs"]["get"]["parameters"]}
    assert params == {"status", "q", "limit", "cursor"}


@pytest.mark.processes
def test_schemathesis_finds_no_server_error(tmp_path):
    """Fuzz the description against the API on its own, over planted jobs, with a live heartbeat
    (so /health's 503 for "no daemon" is not taken for a server error)."""
    if shutil.which("st", path=str(Path(sys.executable).parent)) is None:
        pytest.fail("schemathesis is not installed (make test installs it)")
    server = StandaloneApi(tmp_path / "api")
    plant_jobs(server.outbox, server.processing, [make_job(n) for n in range(60)])
    write_heartbeat(server.processing)
    server.start()
    beating = threading.Event()

    def beat() -> None:
        while not beating.wait(3):
            write_heartbeat(server.processing)

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        result = subprocess.run([str(Path(sys.executable).parent / "st"), "run", f"{server.url}/openapi.json",
                                 "--checks", "not_a_server_error", "--max-examples", "15",
                                 "--exclude-path", "/voices/{name}/sample"],  # it starts the model
                                capture_output=True, text=True, timeout=300, cwd=tmp_path)
    finally:
        beating.set()
        thread.join()
        server.stop()
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "Traceback" not in server.log_text()
    print(result.stdout[-3000:])
