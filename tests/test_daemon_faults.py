"""What a hostile or unlucky user does to the running daemon: it stays up, every entry gets a
status, nothing outside its folders is touched. Real daemon processes, stand-in engine."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from .daemon_helpers import ROOT, free_port, write_config
from .test_daemon import TEXT, book, drop

pytestmark = pytest.mark.processes  # every test starts the daemon


def _by_source(statuses: list[dict]) -> dict[str, dict]:
    return {s["source"]: s for s in statuses}


def test_a_fifo_a_socket_and_a_folder_named_epub_are_refused_and_intake_goes_on(tmp_path, daemon):
    d = daemon().start()
    os.mkfifo(d.inbox / "pipe.epub")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(d.inbox / "socket.epub"))
    (d.inbox / "folder.epub").mkdir()
    (d.inbox / "folder.epub" / "chapter.xhtml").write_text("<p>unpacked</p>")
    drop(book(tmp_path / "Good.epub"), d.inbox)
    statuses = _by_source(d.wait_finished(4, timeout=60))
    listener.close()
    assert statuses["Good.epub"]["status"] == "completed"
    assert statuses["pipe.epub"]["status"] == "failed"
    assert statuses["pipe.epub"]["error"].startswith("a named pipe (FIFO), not a book file")
    assert statuses["socket.epub"]["error"].startswith("a socket, not a book file")
    assert statuses["folder.epub"]["error"].startswith("a folder, not a book file")
    assert "zip it" in statuses["folder.epub"]["error"]
    assert (tmp_path / "failed" / "pipe.epub").is_fifo(), "moved by renaming, never opened"
    assert d.alive()


def test_links_out_of_the_inbox_are_refused_and_links_inside_are_read(tmp_path, daemon):
    d = daemon().start()
    secret = book(tmp_path / "Elsewhere.epub")
    (d.inbox / "outside.epub").symlink_to(secret)
    (d.inbox / "zero.epub").symlink_to("/dev/zero")
    (d.inbox / "shelf").mkdir()
    inner = drop(book(tmp_path / "Inner.epub", TEXT[:4]), d.inbox / "shelf")
    (d.inbox / "inside.epub").symlink_to(inner)
    statuses = _by_source(d.wait_finished(4, timeout=60))
    assert "outside the inbox" in statuses["outside.epub"]["error"]
    assert "outside the inbox" in statuses["zero.epub"]["error"]
    assert statuses["outside.epub"]["source_sha256"] == "", "the target was never read"
    inside, inner = statuses["inside.epub"], statuses["shelf/Inner.epub"]
    assert inside["status"] == inner["status"] == "completed"
    # the link is the very book it points to: whichever of the two was taken second follows the first
    original, follower = (inner, inside) if inside.get("duplicate_of") else (inside, inner)
    assert follower["duplicate_of"] == original["job_id"] and original.get("duplicate_of") is None
    assert follower["output_file"] == original["output_file"]
    assert secret.exists(), "the link's target is left alone"
    assert d.alive()


def test_a_second_daemon_on_the_same_folders_refuses_to_start(tmp_path, daemon):
    first = daemon(api__enabled=True, api__port=free_port()).start()
    result = subprocess.run([sys.executable, "-m", "daemon", "run", "--config", str(first.config),
                             "--engine", "tone"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 2
    assert "another kokoro-inbox daemon (pid " in result.stderr
    assert str(first.process.pid) in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert first.alive()


def test_a_port_in_use_is_one_sentence_and_exit_2(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(tmp_path, api={"enabled": True, "port": port})
        result = subprocess.run([sys.executable, "-m", "daemon", "run", "--config", str(config),
                                 "--engine", "tone"], cwd=tmp_path, capture_output=True, text=True,
                                timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if "kokoro-inbox:" in line]
    assert len(errors) == 1 and f"cannot listen on 127.0.0.1:{port}" in errors[0]
    assert "in use" in errors[0] and "api.port" in errors[0]
    assert "Traceback" not in result.stderr


def test_a_duplicate_dropped_while_running_gets_a_status_pointing_at_the_original(tmp_path, daemon):
    d = daemon(engine="tone-slow").start()
    source = book(tmp_path / "Twin.epub", TEXT * 2)
    drop(source, d.inbox)
    d.wait_for(lambda: any(s["status"] == "processing" for s in d.statuses()), 60, "processing")
    drop(source, d.inbox, "Twin copy.epub")
    statuses = _by_source(d.wait_finished(2, timeout=180))
    original, copy = statuses["Twin.epub"], statuses["Twin copy.epub"]
    assert original["status"] == copy["status"] == "completed"
    assert copy["duplicate_of"] == original["job_id"]
    assert copy["output_file"] == original["output_file"] == "Twin.mp3"
    assert len(list(d.outbox.glob("*.mp3"))) == 1, "converted once"
    assert (tmp_path / "archive" / "Twin copy.epub").exists() and not (d.inbox / "Twin copy.epub").exists()
    assert f"is the same book and settings as job {original['job_id']}" in d.log.read_text()


def test_a_duplicate_of_a_book_whose_audiobook_was_deleted_is_converted_again(tmp_path, daemon):
    d = daemon().start()
    source = book(tmp_path / "Again.epub")
    drop(source, d.inbox)
    [first] = d.wait_finished(1)
    (d.outbox / first["output_file"]).unlink()
    drop(source, d.inbox)
    statuses = d.wait_finished(2)
    second = next(s for s in statuses if s["job_id"] != first["job_id"])
    assert second["status"] == "completed" and second.get("duplicate_of") is None
    assert (d.outbox / second["output_file"]).exists()


def test_cancelling_a_queued_job(tmp_path, daemon):
    # Two books convert at a time, so of three one stays queued while the first is
    # unfinished: the first is long enough (~20 s) that a slow machine cannot finish it
    # before the other two are taken in, and it is cancelled afterwards to keep this short.
    # The two dropped together may be taken in either order; both say "queued" while the first
    # converts (a book says "processing" once a worker has its first segment): one is cancelled.
    d = daemon(engine="tone-slow").start()
    drop(book(tmp_path / "First.epub", TEXT * 12), d.inbox)
    d.wait_for(lambda: any(s["status"] == "processing" for s in d.statuses()), 60, "processing")
    drop(book(tmp_path / "Second.epub", TEXT * 4, title="Second"), d.inbox)
    drop(book(tmp_path / "Third.epub", TEXT * 4, title="Third"), d.inbox)
    d.wait_for(lambda: len(d.statuses()) == 3, 30, "three jobs")
    statuses = _by_source(d.statuses())
    assert statuses["First.epub"]["status"] == "processing", "the first book ended too soon to test this"
    waiting = sorted((s for s in statuses.values() if s["status"] == "queued"), key=lambda s: s["source"])
    assert [s["source"] for s in waiting] == ["Second.epub", "Third.epub"], "neither is read yet"
    queued, other = waiting[1], waiting[0]
    cancel = [sys.executable, "-m", "daemon", "cancel", "--config", str(d.config)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(cancel + [queued["job_id"]], check=True, cwd=tmp_path, env=env)
    d.wait_for(lambda: _by_source(d.statuses())[queued["source"]]["status"] == "cancelled", 10, "the cancel")
    assert (tmp_path / "failed" / queued["source"]).exists()
    subprocess.run(cancel + [statuses["First.epub"]["job_id"]], check=True, cwd=tmp_path, env=env)
    statuses = _by_source(d.wait_finished(3, timeout=240))
    assert statuses["First.epub"]["status"] == "cancelled"
    assert statuses[other["source"]]["status"] == "completed"


def test_planted_status_files_are_data_not_orders(tmp_path, daemon):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    elsewhere = tmp_path / "elsewhere.epub"
    elsewhere.write_text("not yours")
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    planted = {"job_id": "../../victim", "status": "processing", "source": "../victim/precious.txt",
               "source_sha256": "", "settings": {}, "status_file": "evil.json", "job_key": "x"}
    (outbox / "evil.json").write_text(json.dumps(planted))
    absolute = dict(planted, job_id=str(uuid.uuid4()), source=str(elsewhere), status="queued")
    (outbox / "absolute.json").write_text(json.dumps(absolute))
    d = daemon().start()
    drop(book(tmp_path / "Fine.epub"), d.inbox)
    d.wait_for(lambda: any(s.get("source") == "Fine.epub" and s["status"] == "completed"
                           for s in d.statuses()), 60, "the good book")
    assert (victim / "precious.txt").read_text() == "keep me"
    assert elsewhere.read_text() == "not yours" and not (tmp_path / "failed" / "elsewhere.epub").exists()
    log = d.log.read_text()
    assert "ignoring status file" in log and "is not a UUID" in log and "not a plain relative name" in log


@pytest.mark.parametrize("sidecar, words", [
    ("a: &a [1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nspeed: [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n",
     "anchors and aliases"),
    ("chapters: 1-1000000000\n", "goes beyond chapter 10000"),
    ("title: " + "x" * 2000 + "\n", "title: 2000 characters is too long"),
])
def test_hostile_sidecars_fail_fast_and_small(tmp_path, daemon, sidecar, words):
    d = daemon().start()
    drop(book(tmp_path / "Side.epub"), d.inbox)
    (d.inbox / "Side.yaml").write_text(sidecar)
    [status] = d.wait_finished(1, timeout=60)
    assert status["status"] == "failed" and words in status["error"]
    assert len(status["error"]) < 400
    assert (d.outbox / "Side.json").stat().st_size < 10_000
    assert d.alive()


def test_a_huge_sidecar_is_refused_without_reading_it(tmp_path, daemon):
    d = daemon().start()
    drop(book(tmp_path / "Big.epub"), d.inbox)
    with open(d.inbox / "Big.yaml", "w") as handle:
        handle.write("voice: af_heart\n" + "# padding\n" * 5_000_000)  # 50 MB
    [status] = d.wait_finished(1, timeout=60)
    assert "larger than 64 KB" in status["error"]


def test_a_book_with_a_name_near_the_filesystem_limit_is_converted(tmp_path, daemon):
    d = daemon().start()
    name = "Ä" * 124 + ".epub"  # 253 bytes: every temporary or numbered name must still fit
    drop(book(tmp_path / "Long.epub"), d.inbox, name)
    [status] = d.wait_finished(1)
    assert status["status"] == "completed", status["error"]
    assert (d.outbox / status["output_file"]).exists()
    assert len(status["output_file"].encode()) <= 255


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


def test_a_full_outbox_fails_the_job_cleans_up_and_the_daemon_stays_up(tmp_path, daemon):
    outbox = tmp_path / "outbox"
    if not _mount_tmpfs(outbox, "2m"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        d = daemon().start()
        drop(book(tmp_path / "Huge.epub", TEXT * 40), d.inbox)  # about 5 MB of MP3 at 64 kbps
        d.wait_for(lambda: "job " in d.log.read_text() and "disk holding" in d.log.read_text(), 120,
                   "the failure")
        assert d.alive()
        assert not [p for p in outbox.iterdir() if p.name.startswith(".partial")], "no partial MP3 left"
        assert (d.inbox / "Huge.epub").exists(), "the source stays for another try"
        log = d.log.read_text()
        assert "Traceback" not in log
    finally:
        if "d" in locals() and d.alive():
            d.stop()
        subprocess.run(["umount", str(outbox)], check=False)


def test_a_deleted_processing_folder_is_a_sentence_not_a_system_error(tmp_path, daemon):
    d = daemon(engine="tone-slow").start()
    drop(book(tmp_path / "Gone.epub", TEXT * 2), d.inbox)
    d.wait_for(lambda: any(s["status"] == "processing" for s in d.statuses()), 60, "processing")
    shutil.rmtree(tmp_path / "processing")
    [status] = d.wait_finished(1, timeout=60)
    assert status["status"] == "failed"
    assert "System error" not in status["error"]
    assert "is missing" in status["error"]
    assert d.alive()


def test_after_kill_9_no_worker_survives(tmp_path, daemon):
    d = daemon().start()
    workers = subprocess.run(["pgrep", "-P", str(d.process.pid)], capture_output=True,
                             text=True).stdout.split()
    assert len(workers) >= 2
    os.kill(d.process.pid, signal.SIGKILL)  # the daemon alone, as systemd's view of a crash
    d.process.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in workers):
        time.sleep(0.1)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]


def test_memory_stays_bounded_with_a_device_link(tmp_path, daemon):
    d = daemon().start()
    (d.inbox / "zero2.epub").symlink_to("/dev/zero")
    [status] = d.wait_finished(1, timeout=30)
    assert status["status"] == "failed"
    rss_kb = int(next(line.split()[1] for line in Path(f"/proc/{d.process.pid}/status").read_text().splitlines()
                      if line.startswith("VmRSS")))
    assert rss_kb < 400_000, f"the daemon holds {rss_kb} kB"


def test_an_upload_cancelled_before_the_daemon_takes_it_ends_cancelled(tmp_path, daemon):
    import requests

    d = daemon(api__enabled=True, api__port=free_port(), watch__settle_seconds=4).start()
    with open(book(tmp_path / "Early.epub"), "rb") as handle:
        job_id = requests.post(f"{d.url}/convert", files={"file": ("Early.epub", handle)},
                               data={"voice": "af_heart"}).json()["job_id"]
    assert requests.delete(f"{d.url}/jobs/{job_id}").status_code == 202  # before it settles
    [status] = d.wait_finished(1, timeout=60)
    assert status["job_id"] == job_id and status["status"] == "cancelled"
    assert (tmp_path / "failed" / "Early.epub").exists() and not list(d.outbox.glob("*.mp3"))
