"""What a network share does to the running daemon: books replaced while they convert, copies
that pause, I/O errors, moves that fail, names that are not UTF-8, books too slow to read, full
disks, old files. Real daemon processes over temporary folders, stand-in engine; where a real
share cannot be had, a local stand-in (a writer that pauses, an injected EIO, an immutable
folder, a small tmpfs)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from mutagen.id3 import ID3

from daemon.files import FileIdentity
from daemon.status import Job, JobStatus

from .daemon_helpers import ROOT, free_port
from .test_daemon import CORPUS, TEXT, book, drop


def _by_title(statuses: list[dict]) -> dict[str, dict]:
    return {s["title"]: s for s in statuses}


def _processing(d) -> bool:
    return any(s["status"] == "processing" for s in d.statuses())


@pytest.mark.processes
def test_a_book_replaced_while_it_converts_is_converted_again_and_never_deleted_unconverted(tmp_path, daemon):
    """after_success: delete, and a new version copied over the book (in place, as Samba
    does) while the old one converts: the old job must not delete the new version."""
    d = daemon(engine="tone-slow", after_success="delete").start()
    (tmp_path / "v1").mkdir()
    (tmp_path / "v2").mkdir()
    first = book(tmp_path / "v1" / "Book.epub", TEXT * 3, title="First Edition")
    second = book(tmp_path / "v2" / "Book.epub", TEXT[:4], title="Second Edition")
    drop(first, d.inbox)
    d.wait_for(lambda: _processing(d), 60, "the first edition to convert")
    shutil.copyfile(second, d.inbox / "Book.epub")
    statuses = _by_title(d.wait_finished(2, timeout=240))
    assert statuses["First Edition"]["status"] == "completed"
    assert statuses["Second Edition"]["status"] == "completed", "the new version was converted"
    assert ID3(d.outbox / statuses["Second Edition"]["output_file"])["TIT2"].text == ["Second Edition"]
    assert "was replaced by another file while the book was converted" in d.log.read_text()
    d.wait_for(lambda: not (d.inbox / "Book.epub").exists(), 10, "the second edition deleted after its own job")


@pytest.mark.processes
def test_a_new_version_still_being_copied_when_the_old_one_ends_stays(tmp_path, daemon):
    """A slow copy over the book, still running when the old version's job ends."""
    d = daemon(engine="tone-slow", after_success="delete").start()
    (tmp_path / "v2").mkdir()
    drop(book(tmp_path / "Book.epub", TEXT * 2, title="First Edition"), d.inbox)
    data = book(tmp_path / "v2" / "Book.epub", TEXT[:4], title="Second Edition").read_bytes()
    d.wait_for(lambda: _processing(d), 60, "the first edition to convert")
    with open(d.inbox / "Book.epub", "wb") as out:  # the copy begins; the old job ends meanwhile
        for start in range(0, len(data), 512):
            out.write(data[start:start + 512])
            out.flush()
            time.sleep(0.25)
            if start == 0:
                d.wait_for(lambda: any(s["status"] == "completed" for s in d.statuses()), 60,
                           "the first edition to finish")
        assert (d.inbox / "Book.epub").exists(), "the old job left the file being copied alone"
    statuses = _by_title(d.wait_finished(2, timeout=120))
    assert statuses["Second Edition"]["status"] == "completed"


@pytest.mark.processes
def test_a_copy_that_pauses_or_starts_empty_is_not_failed(tmp_path, daemon):
    """A network stall of longer than three settle times, and a file created empty and filled
    later (smbclient reading a pipe, batch copiers), each closed between its writes."""
    d = daemon(watch__settle_seconds=1).start()
    paused = book(tmp_path / "Paused.epub").read_bytes()
    empty_first = book(tmp_path / "Empty First.epub").read_bytes()
    (d.inbox / "Paused.epub").write_bytes(paused[: len(paused) // 3])
    (d.inbox / "Empty First.epub").write_bytes(b"")
    time.sleep(8)  # the old daemon failed both here, and moved them while they were being written
    with open(d.inbox / "Paused.epub", "ab") as out:
        out.write(paused[len(paused) // 3:])
    (d.inbox / "Empty First.epub").write_bytes(empty_first)
    statuses = d.wait_finished(2, timeout=60)
    assert [s["status"] for s in statuses] == ["completed", "completed"]
    assert not any((tmp_path / "failed").iterdir())


@pytest.mark.processes
def test_an_io_error_from_the_share_is_tried_again_not_failed(tmp_path, daemon):
    d = daemon(env={"PYTHONPATH": f"{ROOT / 'tests' / 'share_faults'}{os.pathsep}{ROOT}",
                    "KOKORO_TEST_EIO": "Flaky:1"}).start()
    drop(book(tmp_path / "Flaky.epub"), d.inbox)
    [status] = d.wait_finished(1, timeout=90)
    assert status["status"] == "completed"
    log = d.log.read_text()
    assert "Flaky.epub: cannot look at it now: Input/output error; trying again" in log
    assert "Traceback" not in log


@pytest.mark.processes
def test_a_source_that_cannot_leave_the_inbox_is_retried_and_not_a_new_job_after_a_restart(tmp_path, daemon):
    archive = tmp_path / "archive"
    archive.mkdir()
    if subprocess.run(["chattr", "+i", str(archive)], capture_output=True).returncode:
        pytest.skip("chattr +i is not available here")  # ext4 as root: CI has it
    try:
        first = daemon().start()
        drop(book(tmp_path / "Stuck.epub"), first.inbox)
        [status] = first.wait_finished(1)
        assert status["status"] == "completed"
        first.wait_for(lambda: "Stuck.epub cannot leave the inbox yet" in first.log.read_text(), 10,
                       "the failed move to be logged")
        first.stop()
        second = daemon().start()  # the source is still in the inbox: the rescan sees it
        second.wait_for(lambda: "is still in the inbox though its job ended" in second.log.read_text(), 30,
                        "the leftover to be noticed")
        assert len(second.statuses()) == 1, "a leftover source is not another job"
    finally:
        subprocess.run(["chattr", "-i", str(archive)], check=True)
    second.wait_for(lambda: (archive / "Stuck.epub").exists() and not (second.inbox / "Stuck.epub").exists(),
                    40, "the move to be tried again")
    # The record is written just after the move: wait for it rather than race it.
    second.wait_for(lambda: [r.get("moved_to") for r in second.statuses()] == ["Stuck.epub"], 10,
                    "the status file to say where the book went")


@pytest.mark.processes
def test_a_name_that_is_not_utf8_and_a_lone_surrogate_in_a_sidecar_are_converted(tmp_path, daemon):
    d = daemon().start()
    shutil.copyfile(book(tmp_path / "x.epub"), os.fsencode(d.inbox) + b"/Caf\xe9.epub")
    drop(book(tmp_path / "Odd.epub"), d.inbox)
    (d.inbox / "Odd.yaml").write_text('title: "Na\\udce9ve"\n')  # a YAML escape: not UTF-8
    statuses = {s["source"]: s for s in d.wait_finished(2)}
    cafe = statuses["Caf\ufffd.epub"]
    assert cafe["status"] == "completed" and cafe["source_bytes"] == "Caf%E9.epub"
    assert (d.outbox / cafe["output_file"]).is_file()
    assert os.path.exists(os.fsencode(tmp_path / "archive") + b"/Caf\xe9.epub"), "the very bytes archived"
    odd = statuses["Odd.epub"]  # libyaml refuses the escape; PyYAML's own loader reads it
    if odd["status"] == "failed":
        assert odd["error"].startswith("Odd.yaml: not valid YAML (") and "\n" not in odd["error"]
    else:
        assert odd["status"] == "completed" and odd["title"] == "Na\ufffdve"


@pytest.mark.processes
def test_a_book_slower_to_read_than_its_budget_fails_and_the_others_go_on(tmp_path, daemon):
    port = free_port()
    d = daemon(watch__read_seconds=0.3, api__enabled=True, api__port=port).start()
    drop(CORPUS / "se_austen_pride-and-prejudice.epub", d.inbox, "Long.epub")  # about 1.5 s to read
    drop(book(tmp_path / "Short.epub"), d.inbox)
    statuses = {s["source"]: s for s in d.wait_finished(2)}
    assert statuses["Long.epub"]["status"] == "failed"
    assert statuses["Long.epub"]["error_code"] == "too_slow_to_read"
    assert "raise watch.read_seconds" in statuses["Long.epub"]["error"]
    assert statuses["Short.epub"]["status"] == "completed"
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as answer:
        assert answer.status == 200


@pytest.mark.processes
def test_a_book_waits_for_disk_space_and_starts_when_there_is_room(tmp_path, daemon):
    small = tmp_path / "small"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(small)],
                      capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")  # root on CI's machines: it can
    try:
        d = daemon(paths__outbox=str(small / "outbox"), paths__processing=str(small / "processing")).start()
        drop(book(tmp_path / "Big.epub"), d.inbox)
        outbox = small / "outbox"
        d.wait_for(lambda: (outbox / "Big.json").exists()
                   and json.loads((outbox / "Big.json").read_text()).get("waiting"), 30, "the wait")
        status = json.loads((outbox / "Big.json").read_text())
        assert status["status"] == "queued"
        assert status["waiting"].startswith("waiting for disk space: the book needs about")
        subprocess.run(["mount", "-o", "remount,size=1g", str(small)], check=True)
        d.wait_for(lambda: json.loads((outbox / "Big.json").read_text())["status"] == "completed", 60,
                   "the book to start once there is room")
        assert json.loads((outbox / "Big.json").read_text())["waiting"] is None
        d.stop()
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)


def _planted(outbox: Path, name: str, status: JobStatus, days_ago: float, **values) -> Job:
    ended = (datetime.now(timezone.utc) - timedelta(days=days_ago)).isoformat(timespec="seconds")
    values = {"job_key": f"key-{name}", **values}
    job = Job(job_id=str(uuid.uuid4()), status=status, source=f"{name}.epub", source_sha256="ab" * 32,
              settings={}, status_file=f"{name}.json", created_at=ended,
              finished_at=ended.replace("+00:00", "Z"), **values)
    (outbox / job.status_file).write_text(json.dumps(job.record()))
    return job


@pytest.mark.processes
def test_retention_removes_what_old_jobs_left_and_nothing_else(tmp_path, daemon):
    outbox, archive, failed = (tmp_path / n for n in ("outbox", "archive", "failed"))
    for folder in (outbox, archive, failed):
        folder.mkdir()
    for name in ("Old.mp3", "Recent.mp3", "Shared.mp3"):
        (outbox / name).write_bytes(b"audio")
    (archive / "Old.epub").write_bytes(b"book")
    (archive / "Old.yaml").write_text("voice: am_adam\n")
    (failed / "Broken.epub").write_bytes(b"not a book")
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "keep.mp3").write_bytes(b"not the daemon's")
    (outbox / "escape").symlink_to(secret)
    old = _planted(outbox, "Old", JobStatus.COMPLETED, 40, output_file="Old.mp3", moved_to="Old.epub")
    _planted(outbox, "Recent", JobStatus.COMPLETED, 2, output_file="Recent.mp3")
    _planted(outbox, "Broken", JobStatus.FAILED, 10, moved_to="Broken.epub", error="not an EPUB")
    shared = _planted(outbox, "Shared", JobStatus.COMPLETED, 40, output_file="Shared.mp3", job_key="key-Shared")
    _planted(outbox, "Shared copy", JobStatus.COMPLETED, 3, output_file="Shared.mp3",
             duplicate_of=shared.job_id, job_key="key-Shared")
    _planted(outbox, "Escape", JobStatus.COMPLETED, 40, output_file="escape/keep.mp3")
    _planted(outbox, "Ancient", JobStatus.FAILED, 400, error="not an EPUB")
    d = daemon(retention={"outputs_days": 30, "archive_days": 30, "failed_days": 7,
                          "status_days": 365}).start()
    d.wait_for(lambda: "retention:" in d.log.read_text() and "removals done" in d.log.read_text(), 30,
               "the clean-up at start-up")
    assert not (outbox / "Old.mp3").exists() and not (archive / "Old.epub").exists()
    assert not (archive / "Old.yaml").exists(), "the sidecar went with its book"
    assert not (failed / "Broken.epub").exists()
    assert (outbox / "Recent.mp3").exists(), "younger than 30 days"
    assert (outbox / "Shared.mp3").exists(), "a duplicate 3 days old still shares it"
    assert (secret / "keep.mp3").exists(), "a link out of the outbox is never followed"
    assert not (outbox / "Ancient.json").exists(), "the status file of a job ended 400 days ago"
    record = json.loads((outbox / "Old.json").read_text())
    assert record["output_file"] is None and record["outputs_removed_at"]
    assert f"job {old.job_id}: retention: its audiobook Old removed" in d.log.read_text()


@pytest.mark.processes
def test_a_late_sidecar_is_told_once_and_leaves_with_its_book_as_do_appledouble_files(tmp_path, daemon):
    d = daemon(engine="tone-slow").start()
    drop(book(tmp_path / "Late.epub", TEXT * 4), d.inbox)
    (d.inbox / "._Late.epub").write_bytes(b"\x00\x05\x16\x07 Finder's metadata")
    d.wait_for(lambda: _processing(d), 60, "the book to convert")
    (d.inbox / "Late.yaml").write_text("voice: am_adam\n")
    [status] = d.wait_finished(1, timeout=120)
    assert status["settings"]["voice"] == "af_heart", "the conversion keeps the settings it started with"
    assert d.log.read_text().count("arrived or changed after the book was taken") == 1
    for name in ("Late.epub", "Late.yaml", "._Late.epub"):
        assert (tmp_path / "archive" / name).exists(), name
    assert not any(d.inbox.iterdir())


@pytest.mark.processes
def test_a_failed_incomplete_copy_that_goes_on_growing_is_taken_back(tmp_path, daemon):
    """Where nothing can tell that a writer still has the file (a FUSE or cifs mount: no lease),
    a copy paused longer than the patience is failed; when it then grows in failed/, the copy
    was still running: the book comes back and is converted."""
    d = daemon(watch__patience_seconds=3, watch__settle_seconds=1).start()
    data = book(tmp_path / "Slow.epub").read_bytes()
    (d.inbox / "Slow.epub").write_bytes(data[:100])
    d.wait_for(lambda: (tmp_path / "failed" / "Slow.epub").exists(), 30, "the incomplete copy to fail")
    with open(tmp_path / "failed" / "Slow.epub", "ab") as out:  # the writer's handle goes on
        out.write(data[100:])
    d.wait_for(lambda: any(s["status"] == "completed" for s in d.statuses()), 60, "the book to come back")
    assert [s["status"] for s in d.statuses()] == ["completed"], "the failure was forgotten"
    assert "kept changing after it was failed as incomplete" in d.log.read_text()


def test_the_identity_of_a_file_is_what_a_status_file_keeps(tmp_path):
    path = tmp_path / "a.epub"
    path.write_bytes(b"one")
    identity = FileIdentity.of(path)
    assert FileIdentity.from_record(identity.record()) == identity
    path.write_bytes(b"two, longer")
    assert FileIdentity.of(path) != identity
    assert FileIdentity.from_record(["1", 2, 3, 4]) is None and FileIdentity.from_record(None) is None


def test_a_record_keeps_the_bytes_of_a_name_that_is_not_utf8():
    name = os.fsdecode(b"shelf/Caf\xe9.epub")
    job = Job(job_id=str(uuid.uuid4()), status=JobStatus.QUEUED, source=name, source_sha256="",
              settings={"title": "Na\udce9ve"}, status_file="shelf/Caf\ufffd.json", job_key="k",
              source_identity=FileIdentity(1, 2, 3, 4))
    record = job.record()
    assert record["source"] == "shelf/Caf\ufffd.epub" and record["source_bytes"] == "shelf/Caf%E9.epub"
    back = Job.from_record(json.loads(json.dumps(record)))
    assert back.source == name and back.source_identity == FileIdentity(1, 2, 3, 4)
    from daemon.status import json_bytes
    assert "Na\ufffdve" in json_bytes(record).decode("utf-8")


@pytest.mark.processes
def test_the_book_reader_never_holds_the_main_loop(tmp_path):
    """BookReader.wait never blocks longer than asked, even while a book is being read."""
    from daemon.config import load_config
    from daemon.service.planner import BookReader, ReadRequest

    reader = BookReader(budget=60)
    config = load_config(None, environ={})
    try:
        reader.submit("long", ReadRequest(config, CORPUS / "se_austen_pride-and-prejudice.epub", None, 2, 2000))
        started = time.monotonic()
        outcomes = []
        waits = []
        while not outcomes and time.monotonic() - started < 60:
            before = time.monotonic()
            outcomes = reader.wait(0.2)
            waits.append(time.monotonic() - before)
        assert outcomes and outcomes[0].book is not None and len(outcomes[0].book.segments) > 100
        assert max(waits) < 1.0, f"the main loop waited {max(waits):.1f} s on a book"
    finally:
        reader.close()


@pytest.mark.processes
def test_a_book_to_resume_that_the_share_cannot_give_now_is_resumed_later(tmp_path, daemon):
    first = daemon(engine="tone-slow").start()
    drop(book(tmp_path / "Resumed.epub", TEXT * 3), first.inbox)
    first.wait_for(lambda: _processing(first), 60, "the book to convert")
    first.kill()
    again = daemon(engine="tone-slow", env={"PYTHONPATH": f"{ROOT / 'tests' / 'share_faults'}{os.pathsep}{ROOT}",
                                            "KOKORO_TEST_EIO": "Resumed:1"}).start()
    [status] = again.wait_finished(1, timeout=120)
    assert status["status"] == "completed"
    assert "cannot read Resumed.epub now (Input/output error); trying again" in again.log.read_text()
