"""A job's life as methods of its record (daemon/status.py), without the daemon's processes:
each change writes the status file once, and a follower is a view of its original."""

from __future__ import annotations

import json
import time
from pathlib import Path

from daemon.converter import ChapterResult, ConversionResult, Progress
from daemon.errors import Cancelled, InboxError, NotAnEpub
from daemon.status import JobStatus, JobStore


def _store(tmp_path: Path) -> tuple[JobStore, list[tuple[str, str, str | None]]]:
    store = JobStore(tmp_path / "outbox", tmp_path / "journal")
    endings: list[tuple[str, str, str | None]] = []

    def before_ending(job, error):  # what the status file says when the source leaves the inbox
        endings.append((job.job_id, _file(store, job)["status"], error.code if error else None))
    store.before_ending = before_ending
    return store, endings


def _job(store: JobStore, name: str, key: str = "k"):
    job = store.create(source=f"{name}.epub", source_sha256="", settings={}, status_file=f"{name}.json",
                       job_key=key)
    job.save()
    return job


def _file(store: JobStore, job) -> dict:
    path = store.outbox / job.status_file
    return json.loads(path.read_text()) if path.exists() else {"status": None}


def _progress(done: int, total: int = 100) -> Progress:
    return Progress(chapter=1, chapter_title="One", chars_done=done, chars_total=total, audio_seconds=done / 10,
                    chars_per_second=10.0, eta_seconds=(total - done) / 10, segments_done=1, segments_total=2)


def _result(store: JobStore) -> ConversionResult:
    output = store.outbox / "Book.mp3"
    return ConversionResult(output=output, outputs=(output,), chapters=(ChapterResult(1, "One", 100, 0.0, 9.0),),
                            audio_seconds=9.04, chars_total=100, segments_resumed=0, segments_synthesised=2,
                            seconds=1.0)


def test_each_step_of_a_job_writes_its_status_file(tmp_path):
    store, endings = _store(tmp_path)
    job = _job(store, "Book")
    assert _file(store, job)["status"] == "queued"
    assert job.start() is True and _file(store, job)["status"] == "processing"
    started = _file(store, job)["started_at"]
    job.requeue()
    assert _file(store, job)["status"] == "queued"
    assert job.start() is False, "a resumed book started before: no second 'started'"
    assert _file(store, job)["started_at"] == started
    job.note_waiting("not enough space")
    assert _file(store, job)["waiting"] == "not enough space"
    job.complete(_result(store), [{"index": 1, "title": "One", "chars": 100, "status": "done"}])
    record = _file(store, job)
    assert (record["status"], record["progress"], record["output_file"], record["output_files"]) == \
        ("completed", 100.0, "Book.mp3", ["Book.mp3"])
    assert record["audio_seconds"] == 9.0 and record["eta_seconds"] == 0 and record["finished_at"]
    assert endings == [(job.job_id, "processing", None)], "the source leaves before the status says so"
    journal = [json.loads(line) for line in (tmp_path / "journal").read_text().splitlines()]
    assert [line.get("status") for line in journal] == \
        ["queued", "processing", "queued", "processing", "processing", "completed"]


def test_progress_is_written_at_most_once_a_second_and_not_journalled(tmp_path, monkeypatch):
    store, _ = _store(tmp_path)
    job = _job(store, "Book")
    clock = [1000.0]
    monkeypatch.setattr("daemon.status.time.monotonic", lambda: clock[0])
    job.start()
    clock[0] += 1.0
    job.advance(_progress(10), None)
    assert _file(store, job)["progress"] == 10.0
    clock[0] += 0.5
    job.advance(_progress(20), None)
    assert _file(store, job)["progress"] == 10.0, "half a second later: not written"
    clock[0] += 0.5
    job.advance(_progress(100), [{"index": 1, "title": "One", "chars": 100, "status": "processing"}])
    record = _file(store, job)
    assert record["progress"] == 99.9 and record["chars_done"] == 100 and record["chapters"][0]["status"] == "processing"
    assert len((tmp_path / "journal").read_text().splitlines()) == 2  # queued, processing


def test_a_follower_shows_its_original_and_ends_with_it(tmp_path, monkeypatch):
    store, endings = _store(tmp_path)
    original, follower = _job(store, "Book"), _job(store, "Book (2)")
    original.start()
    follower.follow(original)
    assert _file(store, follower)["status"] == "processing" and follower.duplicate_of == original.job_id
    later = time.monotonic() + 2  # past the progress interval of both files
    monkeypatch.setattr("daemon.status.time.monotonic", lambda: later)
    original.advance(_progress(40), None)
    shown = _file(store, follower)
    assert shown["progress"] == 40.0 and shown["source"] == "Book (2).epub", "its own names, the original's state"
    original.fail(NotAnEpub("not a book"))
    assert endings == [(original.job_id, "processing", NotAnEpub.code),
                       (follower.job_id, "processing", NotAnEpub.code)]
    for job in (original, follower):
        assert (_file(store, job)["status"], _file(store, job)["error"]) == ("failed", "not a book")
    assert follower.status is JobStatus.FAILED and follower.following is None
    original.status = JobStatus.QUEUED  # what the original does now is no longer the follower's
    original.save()
    assert _file(store, follower)["status"] == "failed"


def test_a_follower_of_a_completed_book_completes_at_once(tmp_path):
    store, endings = _store(tmp_path)
    original = _job(store, "Book")
    original.complete(_result(store), [])
    follower = _job(store, "Again")
    follower.follow(original)
    assert follower.status is JobStatus.COMPLETED and _file(store, follower)["output_file"] == "Book.mp3"
    assert endings[-1] == (follower.job_id, "queued", None)


def test_a_cancelled_originals_followers_stay_queued_and_one_leads(tmp_path):
    store, endings = _store(tmp_path)
    original, first, second = _job(store, "Book"), _job(store, "B2"), _job(store, "B3")
    original.start()
    original.advance(_progress(30), None)
    first.follow(original)
    second.follow(original)
    original.fail(Cancelled("cancelled at the user's request"))
    assert _file(store, original)["status"] == "cancelled"
    assert [e[0] for e in endings] == [original.job_id], "followers are not cancelled with it"
    assert first.status.active and first.progress == 30.0 and first.finished_at is None
    first.lead()
    second.follow(first)
    first.save()
    assert (_file(store, first)["status"], _file(store, first)["progress"], _file(store, first)["duplicate_of"]) \
        == ("queued", 0.0, None)
    assert _file(store, second)["duplicate_of"] == first.job_id and _file(store, second)["progress"] == 0.0


def test_a_cancelled_follower_keeps_what_it_showed(tmp_path):
    store, endings = _store(tmp_path)
    original, follower = _job(store, "Book"), _job(store, "B2")
    original.start()
    follower.follow(original)
    follower.fail(Cancelled("cancelled at the user's request"))
    assert (_file(store, follower)["status"], _file(store, follower)["started_at"]) == \
        ("cancelled", original.started_at)
    assert original.status is JobStatus.PROCESSING and _file(store, original)["status"] == "processing"
    assert endings == [(follower.job_id, "processing", Cancelled.code)]


def test_a_status_file_that_cannot_be_written_is_logged_and_the_job_goes_on(tmp_path, caplog):
    store = JobStore(tmp_path / "outbox")
    job = _job(store, "Book")
    (store.outbox / "Book.json").unlink()
    (store.outbox / "Book.json").mkdir()  # a folder where the file goes: the write fails
    job.fail(InboxError("it went wrong"))
    assert job.status is JobStatus.FAILED
    assert "cannot write its status file" in caplog.text
