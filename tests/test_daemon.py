"""The real daemon as a process over temporary folders (tone engine unless the model is the point)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import soundfile
from mutagen.id3 import ID3

from .daemon_helpers import ROOT, Daemon, NotifySocket, write_config
from .epubs import simple_book

pytestmark = pytest.mark.processes  # every test starts the daemon, its CLI or systemd-analyze

CORPUS = ROOT.parent / "shared" / "corpus"
TEXT = [f"Paragraph {n}: the lamps were lit along the street, and the fog came in slowly." for n in range(12)]


def book(path: Path, paragraphs: list[str] = TEXT, **options) -> Path:
    half = len(paragraphs) // 2
    return simple_book(path, [("Part One", paragraphs[:half]), ("Part Two", paragraphs[half:])], **options)


def drop(source: Path, inbox: Path, name: str | None = None) -> Path:
    target = inbox / (name or source.name)
    shutil.copyfile(source, target)
    return target


def test_a_dropped_book_becomes_an_audiobook_and_its_source_is_archived(tmp_path, daemon):
    d = daemon().start()
    book(tmp_path / "Some Book.epub")
    (d.inbox / "shelf").mkdir()
    drop(tmp_path / "Some Book.epub", d.inbox / "shelf")
    [status] = d.wait_finished(1)
    assert status["status"] == "completed" and status["progress"] == 100
    assert status["output_file"] == "shelf/Some Book.mp3" and status["error"] is None
    assert [c["title"] for c in status["chapters"]] == ["Part One", "Part Two"]
    assert status["chapters"][1]["start_seconds"] > 0 and status["chapters"][0]["status"] == "done"
    assert (d.outbox / "shelf" / "Some Book.mp3").exists() and (d.outbox / "shelf" / "Some Book.json").exists()
    assert (tmp_path / "archive" / "shelf" / "Some Book.epub").exists()
    assert not (d.inbox / "shelf" / "Some Book.epub").exists()
    assert status["created_at"].endswith("Z") and status["finished_at"]
    # The status file is written before the line is logged: wait for the line, do not race it.
    d.wait_for(lambda: f"job {status['job_id']}: completed" in d.log.read_text(), 10, "the completion logged")


@pytest.mark.model
def test_with_the_real_model_a_dropped_book_is_read_aloud(tmp_path, daemon, real_models):
    d = daemon(engine="kokoro").start()
    drop(book(tmp_path / "Real.epub", ["The fog lifted at last.", "Then the lamps went out."]), d.inbox)
    [status] = d.wait_finished(1, timeout=180)
    assert status["status"] == "completed", status["error"]
    audio, rate = soundfile.read(d.outbox / "Real.mp3")
    assert 2 < len(audio) / rate < 15
    assert [c.sub_frames["TIT2"].text[0] for c in ID3(d.outbox / "Real.mp3").getall("CHAP")] == ["Part One", "Part Two"]


def test_bad_books_fail_alone_and_a_good_one_still_completes(tmp_path, daemon):
    d = daemon(watch__patience_seconds=4).start()  # the truncated book may be a copy that paused
    for bad in sorted((CORPUS / "bad").glob("*.epub")):
        drop(bad, d.inbox)
    sidecar_book = book(tmp_path / "Bad Sidecar.epub")
    drop(sidecar_book, d.inbox)
    (d.inbox / "Bad Sidecar.yaml").write_text("speed: 9\n")
    drop(book(tmp_path / "Good.epub"), d.inbox)
    statuses = {s["source"]: s for s in d.wait_finished(5)}
    assert statuses["Good.epub"]["status"] == "completed"
    assert "incomplete or damaged" in statuses["truncated_60pct_time-machine.epub"]["error"]
    assert "not a ZIP archive" in statuses["text-file-renamed.epub"]["error"]
    assert "no META-INF/container.xml" in statuses["plain-zip_no-mimetype-no-container.epub"]["error"]
    assert statuses["Bad Sidecar.epub"]["error"].startswith("speed: 9 is out of range")
    for name in ("truncated_60pct_time-machine.epub", "Bad Sidecar.epub", "Bad Sidecar.yaml"):
        assert (tmp_path / "failed" / name).exists(), name
    assert d.alive()


def test_a_slowly_written_book_is_taken_once_after_the_write_ends(tmp_path, daemon):
    d = daemon(watch__settle_seconds=2).start()
    source = book(tmp_path / "Slow.epub", extra_files={"OEBPS/padding.bin": os.urandom(2_600_000)})
    data = source.read_bytes()
    target = d.inbox / "Slow.epub"
    with open(target, "wb") as out:
        for start in range(0, len(data), 64 * 1024):  # 64 KiB every 0.5 s, about 20 s
            out.write(data[start:start + 64 * 1024])
            out.flush()
            time.sleep(0.5)
    write_ended = time.time()
    [status] = d.wait_finished(1)
    assert status["status"] == "completed"
    created = time.mktime(time.strptime(status["created_at"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert created >= write_ended - 1
    assert len(d.statuses()) == 1


def test_a_sidecar_written_after_its_book_is_honoured(tmp_path, daemon):
    d = daemon(watch__settle_seconds=3).start()
    drop(book(tmp_path / "Late.epub"), d.inbox)
    time.sleep(2)
    (d.inbox / "Late.yaml").write_text("voice: am_adam\nspeed: 1.25\ntitle: Late Title\n")
    [status] = d.wait_finished(1)
    assert status["settings"]["voice"] == "am_adam" and status["settings"]["speed"] == 1.25
    assert ID3(d.outbox / "Late.mp3")["TIT2"].text == ["Late Title"]
    assert (tmp_path / "archive" / "Late.yaml").exists()


def test_folder_defaults_apply_below_and_the_sidecar_wins(tmp_path, daemon):
    d = daemon().start()
    (d.inbox / "kids").mkdir()
    (d.inbox / "kids" / "folder.yaml").write_text("voice: af_sky\nbitrate: 48\n")
    drop(book(tmp_path / "A.epub"), d.inbox / "kids")
    drop(book(tmp_path / "B.epub"), d.inbox / "kids")
    (d.inbox / "kids" / "B.yaml").write_text("voice: bf_emma\n")
    statuses = {s["source"]: s["settings"] for s in d.wait_finished(2)}
    assert statuses["kids/A.epub"]["voice"] == "af_sky" and statuses["kids/A.epub"]["bitrate"] == 48
    assert statuses["kids/B.epub"]["voice"] == "bf_emma" and statuses["kids/B.epub"]["bitrate"] == 48


def test_fifty_books_at_once_are_fifty_jobs_each_exactly_once(tmp_path, daemon):
    d = daemon(watch__rescan_seconds=1).start()  # rescans while events also arrive
    staging = tmp_path / "staging"
    staging.mkdir()
    for n in range(50):
        book(staging / f"Book {n:02d}.epub", TEXT[:2], title=f"Book {n}")
    for path in staging.iterdir():
        shutil.copyfile(path, d.inbox / path.name)
    statuses = d.wait_finished(50, timeout=240)
    assert len(statuses) == 50
    assert sorted(s["source"] for s in statuses) == sorted(f"Book {n:02d}.epub" for n in range(50))
    assert all(s["status"] == "completed" for s in statuses)
    assert len(list(d.outbox.glob("*.mp3"))) == 50
    assert len({s["job_id"] for s in statuses}) == 50


def test_polling_mode_picks_up_files(tmp_path, daemon):
    d = daemon(watch__mode="polling").start()
    assert "(polling)" in d.log.read_text()
    drop(book(tmp_path / "Polled.epub"), d.inbox)
    [status] = d.wait_finished(1)
    assert status["status"] == "completed"


def test_a_book_dropped_while_the_daemon_was_down_is_converted_at_start(tmp_path, daemon):
    d = daemon()
    (tmp_path / "inbox").mkdir(exist_ok=True)
    drop(book(tmp_path / "Early.epub"), tmp_path / "inbox")
    d.start()
    [status] = d.wait_finished(1)
    assert status["status"] == "completed"


def test_removing_and_recreating_the_inbox_does_not_stop_intake(tmp_path, daemon):
    d = daemon().start()
    shutil.rmtree(d.inbox)
    d.wait_for(lambda: "intake paused" in d.log.read_text(), 10, "the pause")
    d.inbox.mkdir()
    d.wait_for(lambda: "intake resumes" in d.log.read_text(), 10, "the resume")
    drop(book(tmp_path / "After.epub"), d.inbox)
    [status] = d.wait_finished(1)
    assert status["status"] == "completed" and d.alive()


def test_the_same_book_twice_is_converted_once_but_a_fixed_one_again(tmp_path, daemon):
    d = daemon(after_success="keep", watch__rescan_seconds=1).start()
    drop(book(tmp_path / "Twice.epub"), d.inbox)
    d.wait_finished(1)
    d.stop()
    d.start()  # the kept source is seen again at start-up: not a second job
    drop(book(tmp_path / "Marker.epub", title="Marker"), d.inbox)  # taken after the rescan
    d.wait_for(lambda: any(s["source"] == "Marker.epub" and s["status"] == "completed"
                           for s in d.statuses()), 60, "the marker book")
    assert sorted(s["source"] for s in d.statuses()) == ["Marker.epub", "Twice.epub"]
    (d.inbox / "Twice.yaml").write_text("speed: 1.5\n")  # new settings: a new job
    statuses = d.wait_finished(3)
    assert sorted(s["output_file"] for s in statuses if s["source"] == "Twice.epub") == [
        "Twice (2).mp3", "Twice.mp3"]


# --------------------------------------------------------------------------- faults

def test_kill_9_mid_book_then_restart_resumes_from_checkpoints(tmp_path, daemon):
    d = daemon(engine="tone-slow").start()
    drop(book(tmp_path / "Long.epub", TEXT * 2), d.inbox)
    processing = tmp_path / "processing"
    d.wait_for(lambda: len(list(processing.glob("*/segment-*.flac"))) >= 2, 120, "two checkpoints")
    d.kill()
    finished_before = len(list(processing.glob("*/segment-*.flac")))
    # A title and a bitrate given while it was down change the tags and the encoding, not
    # what is said: every checkpoint is kept, and the status says what the book now is.
    (d.inbox / "Long.yaml").write_text("title: Long Night\nbitrate: 96\n")
    d.start()
    [status] = d.wait_finished(1, timeout=180)
    assert status["status"] == "completed"
    log = d.log.read_text()
    assert f"resuming, {finished_before} of" in log
    assert status["title"] == "Long Night" and status["settings"]["bitrate"] == 96
    assert len(list(d.outbox.glob("*.mp3"))) == 1 and len(d.statuses()) == 1

    reference = Daemon(tmp_path / "ref", engine="tone")
    reference.start()
    drop(book(tmp_path / "Long.epub", TEXT * 2), reference.inbox)
    [expected] = reference.wait_finished(1)
    reference.stop()
    resumed_audio, rate = soundfile.read(d.outbox / "Long.mp3")
    fresh_audio, _ = soundfile.read(reference.outbox / "Long.mp3")
    assert abs(len(resumed_audio) - len(fresh_audio)) <= 0.01 * len(fresh_audio)
    assert [c["title"] for c in status["chapters"]] == [c["title"] for c in expected["chapters"]]


def test_a_killed_worker_is_replaced_and_the_book_completes(tmp_path, daemon):
    d = daemon(engine="tone-slow").start()
    drop(book(tmp_path / "Sturdy.epub", TEXT * 6), d.inbox)  # still converting when the kill comes
    d.wait_for(lambda: any(s["status"] == "processing" for s in d.statuses()), 60, "processing")
    time.sleep(1.5)
    workers = subprocess.run(["pgrep", "-P", str(d.process.pid), "-f", "spawn_main"],
                             capture_output=True, text=True).stdout.split()
    assert workers, "the daemon has worker processes"
    os.kill(int(workers[0]), signal.SIGKILL)
    [status] = d.wait_finished(1, timeout=180)
    assert status["status"] == "completed"
    assert "a worker process died (signal 9, SIGKILL)" in d.log.read_text()


def test_a_book_that_always_kills_its_worker_fails_with_the_signal_and_the_next_completes(tmp_path, daemon):
    d = daemon(engine="tone-crash").start()
    drop(book(tmp_path / "Doomed.epub", TEXT[:4] + ["Here we CRASH."] + TEXT[4:8]), d.inbox)
    time.sleep(1.5)
    drop(book(tmp_path / "Fine.epub"), d.inbox)
    statuses = {s["source"]: s for s in d.wait_finished(2, timeout=180)}
    assert statuses["Fine.epub"]["status"] == "completed"
    assert statuses["Doomed.epub"]["status"] == "failed"
    assert "killed (signal 9, SIGKILL)" in statuses["Doomed.epub"]["error"]
    assert (tmp_path / "failed" / "Doomed.epub").exists()


def test_sigterm_stops_gracefully_and_systemd_hears_about_it(tmp_path, daemon):
    notify = NotifySocket(tmp_path / "notify.sock")
    try:
        d = daemon(engine="tone-slow", env={"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "10000000"})
        d.start()
        drop(book(tmp_path / "Stopped.epub", TEXT * 6), d.inbox)  # still converting when the signal comes
        processing = tmp_path / "processing"
        d.wait_for(lambda: len(list(processing.glob("*/segment-*.flac"))) >= 1, 60, "a checkpoint")
        started = time.monotonic()
        assert d.stop(signal.SIGTERM, timeout=20) == 0
        assert time.monotonic() - started < 10
        time.sleep(0.3)
    finally:
        notify.close()
    assert list(processing.glob("*/segment-*.flac")), "finished checkpoints are kept"
    messages = notify.messages
    assert "READY=1" in messages and "WATCHDOG=1" in messages and "STOPPING=1" in messages
    assert any(m.startswith("STATUS=converting Stopped.epub") for m in messages)
    assert messages.index("READY=1") < messages.index("STOPPING=1")


def test_an_unwritable_outbox_fails_the_job_and_leaves_the_source(tmp_path, daemon):
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed: cannot make a folder unwritable for root")
    d = daemon().start()
    subprocess.run(["chattr", "+i", str(d.outbox)], check=True)
    try:
        drop(book(tmp_path / "Stuck.epub"), d.inbox)
        d.wait_for(lambda: "cannot write the audiobook" in d.log.read_text(), 30, "the failure")
        time.sleep(1)
    finally:
        subprocess.run(["chattr", "-i", str(d.outbox)], check=True)
    assert (d.inbox / "Stuck.epub").exists() and not (tmp_path / "failed" / "Stuck.epub").exists()
    assert d.alive()


def test_cancelling_a_running_job(tmp_path, daemon):
    d = daemon(engine="tone-slow").start()
    # long enough (about 20 s) that a loaded machine cannot finish it before the cancel arrives
    drop(book(tmp_path / "Cancel Me.epub", TEXT * 12), d.inbox)
    d.wait_for(lambda: any(s["status"] == "processing" for s in d.statuses()), 60, "processing")
    [status] = d.statuses()
    subprocess.run([sys.executable, "-m", "daemon", "cancel", "--config", str(d.config), status["job_id"]],
                   check=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)})
    started = time.monotonic()
    [status] = d.wait_finished(1, timeout=30)
    assert time.monotonic() - started < 5
    assert status["status"] == "cancelled" and "cancelled" in status["error"]
    assert (tmp_path / "failed" / "Cancel Me.epub").exists()
    assert not (tmp_path / "processing" / status["job_id"]).exists()


# --------------------------------------------------------------------------- config and systemd

@pytest.mark.parametrize("extra, words", [
    ({"colour": "red"}, "colour: unknown key"),
    ({"paths": {"inbox": "data", "outbox": "data/out"}}, "lies inside paths.inbox"),
])
def test_config_errors_stop_start_up_with_exit_2(tmp_path, extra, words):
    config = write_config(tmp_path)
    text = config.read_text()[:-1] + "".join(f', "{k}": {__import__("json").dumps(v)}' for k, v in extra.items()) + "}"
    config.write_text(text)
    result = subprocess.run([sys.executable, "-m", "daemon", "run", "--config", str(config)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 2 and words in result.stderr


def test_the_unit_file_passes_systemd_analyze(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed on this machine")
    unit = tmp_path / "kokoro-inbox.service"
    text = (ROOT / "systemd" / "kokoro-inbox.service").read_text()
    # verify checks that ExecStart exists; point it at this checkout's venv
    unit.write_text(text.replace("/opt/kokoro-inbox/.venv/bin/kokoro-inbox", str(ROOT / ".venv/bin/kokoro-inbox")))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr  # warnings count too


def test_journald_lines_carry_priorities(tmp_path):
    result = subprocess.run([sys.executable, "-c",
                             "import logging; from daemon.cli import setup_logging; setup_logging(logging.INFO);"
                             "logging.getLogger('x').error('job 1: failed'); logging.getLogger('x').info('hi')"],
                            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT),
                                                                 "JOURNAL_STREAM": "8:1234"})
    assert result.stderr.splitlines() == ["<3>x: job 1: failed", "<6>x: hi"]


def test_the_daemon_convert_and_inspect_give_a_book_the_same_settings(tmp_path, daemon):
    """config defaults -> every folder.yaml from the inbox down -> the sidecar -> flags, for all three."""
    import json as _json

    from mutagen.mp3 import MP3

    d = daemon(defaults={"speed": 0.9})
    (d.inbox / "kids" / "bedtime").mkdir(parents=True)
    (d.inbox / "folder.yaml").write_text("bitrate: 48\n")
    (d.inbox / "kids" / "folder.yaml").write_text("voice: af_sky\nspeed: 1.1\n")
    (d.inbox / "kids" / "bedtime" / "Story.yml").write_text("speed: 1.3\n")
    staged = book(tmp_path / "Story.epub")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    target = d.inbox / "kids" / "bedtime" / "Story.epub"
    shutil.copyfile(staged, target)
    inspected = _json.loads(subprocess.run(
        [sys.executable, "-m", "daemon", "inspect", "--json", "--config", str(d.config), str(target)],
        capture_output=True, text=True, check=True, env=env).stdout)["settings"]
    converted = subprocess.run(
        [sys.executable, "-m", "daemon", "convert", "--quiet", "--engine", "tone", "--config", str(d.config),
         "-o", str(tmp_path / "Story.mp3"), str(target)], capture_output=True, text=True, env=env)
    assert converted.returncode == 0, converted.stderr
    d.start()
    [status] = d.wait_finished(1)
    expected = {"voice": "af_sky", "speed": 1.3, "lang": "en-us", "bitrate": 48, "notes": "inline",
                "tables": "rows"}
    assert status["settings"] == inspected == expected
    assert MP3(tmp_path / "Story.mp3").info.bitrate == MP3(d.outbox / status["output_file"]).info.bitrate == 48000
    assert "voice af_sky" in converted.stderr


def test_after_success_delete_removes_the_source_and_its_sidecar(tmp_path, daemon):
    d = daemon(after_success="delete").start()
    drop(book(tmp_path / "Gone.epub"), d.inbox)
    (d.inbox / "Gone.yaml").write_text("speed: 1.1\n")
    [status] = d.wait_finished(1)
    assert status["status"] == "completed" and (d.outbox / "Gone.mp3").exists()
    assert not (d.inbox / "Gone.epub").exists() and not (d.inbox / "Gone.yaml").exists()
    assert not (tmp_path / "archive").exists() or not any((tmp_path / "archive").iterdir())
