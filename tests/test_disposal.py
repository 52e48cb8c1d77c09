"""Where sources go, what the clean-up removes and when a book waits for space: the logic alone
(no daemon), with the filesystem's refusals stood in where a real share cannot be had."""

from __future__ import annotations

import errno
import os
import shutil
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from daemon import files
from daemon.config import Paths, Retention
from daemon.errors import NotAnEpub
from daemon.files import FileIdentity, SourceLeft, move_file
from daemon.service.disposal import SourceDisposal
from daemon.service.retention import due
from daemon.service.space import Need, estimate, shortfall
from daemon.status import Job, JobStatus


def _paths(tmp_path: Path) -> Paths:
    paths = Paths(*(tmp_path / n for n in ("inbox", "outbox", "archive", "failed", "processing")))
    for folder in (paths.inbox, paths.outbox):
        folder.mkdir()
    return paths


def _job(source: Path, inbox: Path, status: JobStatus = JobStatus.COMPLETED, **values) -> Job:
    return Job(job_id=str(uuid.uuid4()), status=status, source=source.relative_to(inbox).as_posix(),
               source_sha256=files.sha256_of(source), settings={}, status_file="Book.json", job_key="k",
               source_identity=FileIdentity.of(source), **values)


def _across_filesystems(monkeypatch, *, xattrs_refused: bool = True) -> None:
    """os.rename says EXDEV, as between a share and a local disk; the share refuses metadata."""
    real_rename = os.rename

    def rename(source, target, *args, **kwargs):
        if "archive" in os.fspath(target) or "failed" in os.fspath(target):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_rename(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "rename", rename)
    if xattrs_refused:
        def copystat(*args, **kwargs):
            raise OSError(errno.EOPNOTSUPP, "Operation not supported")
        monkeypatch.setattr(shutil, "copystat", copystat)


def test_a_move_across_filesystems_is_not_stopped_by_metadata_the_share_refuses(tmp_path, monkeypatch):
    _across_filesystems(monkeypatch)
    (tmp_path / "archive").mkdir()
    (tmp_path / "Book.epub").write_bytes(b"the book")
    move_file(tmp_path / "Book.epub", tmp_path / "archive" / "Book.epub")
    assert (tmp_path / "archive" / "Book.epub").read_bytes() == b"the book"
    assert not (tmp_path / "Book.epub").exists()
    assert [p.name for p in (tmp_path / "archive").iterdir()] == ["Book.epub"], "no temporary left"


def test_a_source_whose_removal_fails_is_removed_later_and_copied_once(tmp_path, monkeypatch):
    _across_filesystems(monkeypatch)
    paths = _paths(tmp_path)
    book = paths.inbox / "Book.epub"
    book.write_bytes(b"the book")
    job = _job(book, paths.inbox)
    real_unlink, refusals = os.unlink, [1]

    def unlink(path, *args, **kwargs):
        if os.fspath(path) == os.fspath(book) and refusals[0]:
            refusals[0] -= 1
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", unlink)
    forgotten: list[Path] = []
    disposal = SourceDisposal(paths, "archive", forgotten.append)
    disposal.completed(job)
    assert book.exists() and (paths.archive / "Book.epub").exists() and disposal.waiting() == 1
    disposal.retry_due(now=10**9)
    assert not book.exists() and forgotten == [book]
    assert sorted(p.name for p in paths.archive.iterdir()) == ["Book.epub"], "copied once"
    with pytest.raises(SourceLeft):
        refusals[0] = 1
        (paths.inbox / "Other.epub").write_bytes(b"x")
        book = paths.inbox / "Other.epub"
        move_file(book, paths.archive / "Other.epub")


def test_a_replaced_book_stays_and_the_converted_one_is_recognised_by_its_bytes(tmp_path):
    paths = _paths(tmp_path)
    book = paths.inbox / "Book.epub"
    book.write_bytes(b"first edition")
    job = _job(book, paths.inbox)
    book.unlink()
    book.write_bytes(b"second edition, longer")  # a new version copied over it
    SourceDisposal(paths, "delete", lambda path: None).completed(job)
    assert book.read_bytes() == b"second edition, longer", "never deleted unconverted"
    book.unlink()
    book.write_bytes(b"first edition")  # the same bytes under a new inode (a remounted share)
    SourceDisposal(paths, "delete", lambda path: None).completed(job)
    assert not book.exists()


def test_a_source_open_for_writing_waits(tmp_path):
    paths = _paths(tmp_path)
    book = paths.inbox / "Book.epub"
    book.write_bytes(b"a book")
    job = _job(book, paths.inbox)
    disposal = SourceDisposal(paths, "archive", lambda path: None)
    with open(book, "ab"):
        disposal.completed(job)
        assert book.exists() and disposal.waiting() == 1
    disposal.retry_due(now=10**9)
    assert not book.exists() and (paths.archive / "Book.epub").exists()


def test_a_failed_incomplete_source_that_keeps_growing_comes_back(tmp_path, monkeypatch):
    monkeypatch.setattr("daemon.service.disposal.open_for_writing", lambda path: None)  # a FUSE mount: no lease
    paths = _paths(tmp_path)
    book = paths.inbox / "shelf" / "Book.epub"
    book.parent.mkdir()
    book.write_bytes(b"PK\x03\x04 the start")
    job = _job(book, paths.inbox, JobStatus.FAILED)
    taken_back: list[Job] = []
    disposal = SourceDisposal(paths, "archive", lambda path: None, patience=600)
    disposal.on_taken_back = taken_back.append
    disposal.failed(job, NotAnEpub("the ZIP archive is incomplete"))
    moved = paths.failed / "shelf" / "Book.epub"
    assert moved.exists() and not book.exists()
    start = time.monotonic()
    disposal.retry_due(now=start + 6)  # unchanged: it stays in failed/
    assert moved.exists()
    with open(moved, "ab") as out:
        out.write(b" and the rest")
    disposal.retry_due(now=start + 12)
    assert book.read_bytes() == b"PK\x03\x04 the start and the rest" and taken_back == [job]


def test_appledouble_companions_go_with_their_book(tmp_path):
    paths = _paths(tmp_path)
    book = paths.inbox / "Book.epub"
    book.write_bytes(b"a book")
    (paths.inbox / "._Book.epub").write_bytes(b"\x00\x05\x16\x07")
    SourceDisposal(paths, "archive", lambda path: None).completed(_job(book, paths.inbox))
    assert sorted(p.name for p in paths.archive.iterdir()) == ["._Book.epub", "Book.epub"]


# --------------------------------------------------------------------------- retention

NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)


def _ended(name: str, status: JobStatus, days: float, **values) -> Job:
    when = (NOW - timedelta(days=days)).isoformat().replace("+00:00", "Z")
    values = {"job_key": name, **values}
    return Job(job_id=str(uuid.uuid4()), status=status, source=f"{name}.epub", source_sha256="",
               settings={}, status_file=f"{name}.json", finished_at=when, **values)


def test_retention_takes_only_what_is_old_enough_and_never_an_active_job():
    policy = Retention(outputs_days=30, archive_days=30, failed_days=7, status_days=None)
    old = _ended("Old", JobStatus.COMPLETED, 31, output_file="Old.mp3", moved_to="Old.epub")
    young = _ended("Young", JobStatus.COMPLETED, 29, output_file="Young.mp3", moved_to="Young.epub")
    failed = _ended("Bad", JobStatus.FAILED, 8, moved_to="Bad.epub")
    running = _ended("Running", JobStatus.PROCESSING, 400, output_file="Running.mp3")
    removed = {(r.job.source, r.what) for r in due([old, young, failed, running], policy, NOW)}
    assert removed == {("Old.epub", "outputs"), ("Old.epub", "archive"), ("Bad.epub", "failed")}


def test_an_audiobook_shared_by_duplicates_goes_only_when_all_are_old():
    policy = Retention(outputs_days=30)
    original = _ended("Book", JobStatus.COMPLETED, 40, output_file="Book.mp3")
    duplicate = _ended("Copy", JobStatus.COMPLETED, 2, output_file="Book.mp3", duplicate_of=original.job_id)
    assert due([original, duplicate], policy, NOW) == []
    assert [r.what for r in due([original], policy, NOW)] == ["outputs"]
    assert due([original], Retention(), NOW) == [], "off by default"


# --------------------------------------------------------------------------- disk space

def test_a_book_that_does_not_fit_is_told_how_much_is_missing(tmp_path):
    need = estimate(680_000, 1.0, 64)  # a long novel
    assert 1.0e9 < need.checkpoints < 1.6e9 and 0.5e9 < need.audiobook < 1.0e9
    assert shortfall([Need(0, 0)], tmp_path, tmp_path) is None
    problem = shortfall([Need(1 << 60, 0)], tmp_path, tmp_path)
    assert problem.startswith("waiting for disk space: the book needs about") and str(tmp_path) in problem


def test_a_share_that_cannot_say_what_is_there_is_asked_again(tmp_path, monkeypatch):
    """An I/O error is not "the source is gone" (os.path.lexists would say so)."""
    import daemon.service.disposal as disposal_module

    paths = _paths(tmp_path)
    book = paths.inbox / "Book.epub"
    book.write_bytes(b"a book")
    real, failures = disposal_module.present, [1]

    def present(path: Path) -> bool:
        if failures[0]:
            failures[0] -= 1
            raise OSError(errno.EIO, "Input/output error")
        return real(path)

    monkeypatch.setattr(disposal_module, "present", present)
    disposal = SourceDisposal(paths, "archive", lambda path: None)
    disposal.completed(_job(book, paths.inbox))
    assert book.exists()
    disposal.retry_due(now=time.monotonic() + 60)
    assert not book.exists() and (paths.archive / "Book.epub").exists()
