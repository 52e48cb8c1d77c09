"""Settling, with a fake clock: when a book copied into the inbox is taken, and when it is not."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from daemon.watcher import InboxWatcher, SettleTracker

from .epubs import simple_book

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


def test_a_file_that_is_not_yet_a_zip_gets_longer(tmp_path):
    partial = tmp_path / "Half.epub"
    partial.write_bytes(b"PK\x03\x04 only the start of an archive")
    watcher = _watcher(tmp_path)
    watcher.poll(now=0.0)
    assert watcher.poll(now=5.0) == [], "a writer may just have paused"
    assert watcher.poll(now=15.0) == [partial], "after three settle times it goes to intake (and fails there)"


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
