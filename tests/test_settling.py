"""Settling, with a fake clock: when a book copied into the inbox is taken, and when it is not."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from daemon.watcher import InboxWatcher, SettleTracker

from .epubs import simple_book

ROOT = Path(__file__).resolve().parents[1]

SETTLE = 5.0


def test_an_entry_settles_after_it_stops_changing():
    tracker = SettleTracker(SETTLE)
    tracker.observe("book", (100, 1), now=0.0)
    assert tracker.settled(now=4.9) == []
    assert tracker.settled(now=5.0) == ["book"]


def test_every_change_restarts_the_timer():
    tracker = SettleTracker(SETTLE)
    tracker.observe("book", (100, 1), now=0.0)
    tracker.observe("book", (200, 2), now=4.0)  # still being copied
    assert tracker.settled(now=8.9) == []
    tracker.observe("book", (200, 2), now=8.9)  # the same again: no restart
    assert tracker.settled(now=9.0) == ["book"]


def test_a_handed_over_entry_is_not_reported_again_unless_it_changes():
    tracker = SettleTracker(SETTLE)
    tracker.observe("book", (100, 1), now=0.0)
    tracker.hand_over("book")
    tracker.observe("book", (100, 1), now=10.0)
    assert tracker.settled(now=100.0) == []
    tracker.observe("book", (300, 3), now=100.0)  # replaced by a new version
    assert tracker.settled(now=105.0) == ["book"]


def test_an_entry_that_vanishes_is_dropped_and_arrival_order_is_kept():
    tracker = SettleTracker(SETTLE)
    tracker.observe("second", (1, 1), now=1.0)
    tracker.observe("first", (1, 1), now=0.0)
    tracker.observe("gone", (1, 1), now=0.5)
    tracker.observe("gone", None, now=2.0)
    assert tracker.settled(now=10.0) == ["first", "second"]


def test_mark_taken_and_forget():
    tracker = SettleTracker(SETTLE)
    tracker.mark_taken("resumed", (1, 1))
    tracker.observe("resumed", (1, 1), now=0.0)
    assert tracker.settled(now=10.0) == []
    tracker.forget("resumed")  # archived: a new file of that name is new
    tracker.observe("resumed", (1, 1), now=10.0)
    assert tracker.settled(now=15.0) == ["resumed"]


def _watcher(inbox: Path) -> InboxWatcher:
    return InboxWatcher(inbox, "native", SETTLE, rescan_seconds=0.0)  # every poll rescans


def test_the_watcher_takes_a_settled_book_once(tmp_path):
    book = simple_book(tmp_path / "Book.epub", [("One", ["Hello."])])
    inbox = tmp_path
    watcher = _watcher(inbox)
    assert watcher.poll(now=0.0) == []
    assert watcher.poll(now=4.0) == []
    assert watcher.poll(now=5.0) == [book]
    assert watcher.poll(now=50.0) == []


def test_a_sidecar_arriving_late_restarts_the_timer(tmp_path):
    book = simple_book(tmp_path / "Book.epub", [("One", ["Hello."])])
    watcher = _watcher(tmp_path)
    watcher.poll(now=0.0)
    (tmp_path / "Book.yaml").write_text("speed: 1.2\n")
    assert watcher.poll(now=4.0) == []
    assert watcher.poll(now=8.9) == []
    assert watcher.poll(now=9.0) == [book]


def test_a_file_that_may_still_become_a_zip_waits_for_the_patience(tmp_path):
    """A copy that pauses (a network stall, a batch copier that creates every file first,
    smbclient reading a pipe) is not failed while it may still be written."""
    partial = tmp_path / "Half.epub"
    partial.write_bytes(b"PK\x03\x04 only the start of an archive")
    (tmp_path / "Empty.epub").write_bytes(b"")
    (tmp_path / "Allocated.epub").write_bytes(bytes(4096))  # pre-allocated, not yet written
    watcher = InboxWatcher(tmp_path, "native", SETTLE, rescan_seconds=0.0, patience_seconds=120.0)
    watcher.poll(now=0.0)
    assert watcher.poll(now=15.0) == [], "three settle times are not enough for a paused copy"
    assert watcher.poll(now=119.0) == []
    assert sorted(p.name for p in watcher.poll(now=120.0)) == ["Allocated.epub", "Empty.epub", "Half.epub"]


def test_a_file_that_can_never_become_a_zip_goes_to_intake_after_three_settle_times(tmp_path):
    text = tmp_path / "Notes.epub"
    text.write_text("a text file renamed to .epub")
    watcher = InboxWatcher(tmp_path, "native", SETTLE, rescan_seconds=0.0, patience_seconds=120.0)
    watcher.poll(now=0.0)
    assert watcher.poll(now=5.0) == []
    assert watcher.poll(now=15.0) == [text], "it fails at intake with a reason, without the long wait"


def test_a_book_a_program_still_has_open_for_writing_is_not_taken(tmp_path):
    """Where Linux can tell (a read lease), a copy in progress is seen as such even when what
    is there so far opens as a ZIP (a new version being written over an old one)."""
    book = simple_book(tmp_path / "Book.epub", [("One", ["Hello."])])
    watcher = InboxWatcher(tmp_path, "native", SETTLE, rescan_seconds=0.0, patience_seconds=120.0)
    with open(book, "ab"):
        watcher.poll(now=0.0)
        assert watcher.poll(now=5.0) == []
        assert watcher.poll(now=60.0) == [], "still open for writing"
    assert watcher.poll(now=61.0) == [book]


@pytest.mark.processes
def test_asking_about_a_copy_never_ends_a_process_that_does_not_ignore_sigio(tmp_path):
    """A lease broken in the instant it is held sends SIGIO, which ends a process by default
    (a pytest worker died of it).  Only a process that ignores SIGIO takes leases."""
    script = textwrap.dedent("""
        import signal, sys, threading
        from pathlib import Path
        from daemon.files import open_for_writing
        signal.signal(signal.SIGIO, signal.SIG_DFL)  # as a process that never asked (pytest ignores it)
        book = Path(sys.argv[1]); book.write_bytes(b"PK")
        def write():
            while True:
                with open(book, "ab") as handle:
                    handle.write(b"x")
        threading.Thread(target=write, daemon=True).start()
        answers = {open_for_writing(book) for _ in range(20000)}
        print(sorted(map(str, answers)))
    """)
    ran = subprocess.run([sys.executable, "-c", script, str(tmp_path / "Book.epub")], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, f"ended by signal {-ran.returncode}: {ran.stderr}"
    assert ran.stdout.strip() == "['None']", "no lease is taken where a broken one would kill"


def test_an_entry_offered_again_later_is_handed_over_again(tmp_path):
    book = simple_book(tmp_path / "Book.epub", [("One", ["Hello."])])
    watcher = InboxWatcher(tmp_path, "native", SETTLE, rescan_seconds=1000.0)
    watcher.poll(now=0.0)
    assert watcher.poll(now=5.0) == [book]
    watcher.look_again(book, 15.0, now=6.0)  # an I/O error while it was read: try again later
    assert watcher.poll(now=20.0) == []
    watcher.poll(now=21.0)
    assert watcher.poll(now=26.0) == [book]


def test_polling_lists_only_folders_that_changed(tmp_path):
    """On a network mount the inbox is polled: a stat per folder, a listing only where an entry
    was added, removed or renamed."""
    from daemon.watcher import FolderPoller

    for n in range(3):
        (tmp_path / f"shelf{n}").mkdir()
        simple_book(tmp_path / f"shelf{n}" / "Old.epub", [("One", ["Hello."])])
    poller = FolderPoller(tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in poller.changes() if p.suffix == ".epub") == \
        ["shelf0/Old.epub", "shelf1/Old.epub", "shelf2/Old.epub"]
    assert poller.changes() == []
    new = simple_book(tmp_path / "shelf1" / "New.epub", [("One", ["Hello."])])
    os.utime(tmp_path / "shelf1", ns=(0, 10**18))  # coarse clocks on network mounts: make it differ
    changed = poller.changes()
    assert new in changed
    assert {p.parent.name for p in changed} == {"shelf1"}, "unchanged folders are not listed"


def test_entries_that_are_not_files_are_reported_without_being_opened(tmp_path):
    os.mkfifo(tmp_path / "pipe.epub")
    (tmp_path / "folder.epub").mkdir()
    (tmp_path / "folder.epub" / "inner.epub").write_text("inside a folder named like a book")
    watcher = _watcher(tmp_path)
    found: list[Path] = []

    def poll() -> None:
        watcher.poll(now=0.0)
        found.extend(watcher.poll(now=5.0))

    worker = threading.Thread(target=poll, daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "polling blocked on the FIFO"
    assert sorted(p.name for p in found) == ["folder.epub", "pipe.epub"]
