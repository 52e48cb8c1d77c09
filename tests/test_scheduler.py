"""Several books on one process pool, and workers that die. Real processes, tone engine."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
import soundfile
from mutagen.id3 import ID3

from daemon.converter import BookRun, Scheduler, prepare
from daemon.engine import EngineSettings, start_pool
from daemon.errors import SynthesisFailed
from daemon.settings import BookSettings

from .epubs import simple_book

SENTENCES = [f"Sentence number {n} of the book is here, and it is long enough to count." for n in range(40)]


def _engine(kind: str) -> EngineSettings:
    return EngineSettings("unused.onnx", "unused.bin", kind=kind)


def _run(tmp_path: Path, name: str, paragraphs: list[str], engine: EngineSettings) -> BookRun:
    book = simple_book(tmp_path / f"{name}.epub", [("One", paragraphs[: len(paragraphs) // 2]),
                                                   ("Two", paragraphs[len(paragraphs) // 2:])])
    prepared = prepare(book, BookSettings())
    return BookRun(prepared, tmp_path / f"{name}.mp3", engine, tmp_path / "processing" / name, 2)


def _drive(scheduler: Scheduler, expected: int, limit: float = 120) -> list:
    events, deadline = [], time.monotonic() + limit
    while len(events) < expected and time.monotonic() < deadline:
        events.extend(scheduler.step(timeout=0.5))
    return events


def test_books_share_the_pool_in_arrival_order(tmp_path):
    engine = _engine("tone")
    scheduler = Scheduler(lambda: start_pool(engine, 2), 2)
    first, second = _run(tmp_path, "first", SENTENCES, engine), _run(tmp_path, "second", SENTENCES[:10], engine)
    scheduler.add(first)
    scheduler.add(second)
    try:
        events = _drive(scheduler, 2)
    finally:
        scheduler.close(wait=True)
    assert [e.run for e in events] == [first, second] and all(e.error is None for e in events)
    for event in events:
        audio, rate = soundfile.read(event.result.output)
        assert abs(len(audio) / rate - event.result.audio_seconds) < 0.1
        assert [c.sub_frames["TIT2"].text[0] for c in ID3(event.result.output).getall("CHAP")] in (
            ["One", "Two"], ["Two", "One"])
    assert not (tmp_path / "processing" / "first").exists()


def test_a_segment_that_kills_its_worker_fails_its_book_with_the_signal_and_others_go_on(tmp_path):
    engine = _engine("tone-crash")
    scheduler = Scheduler(lambda: start_pool(engine, 2), 2)
    doomed = _run(tmp_path, "doomed", SENTENCES[:6] + ["Here the worker will CRASH."] + SENTENCES[6:12], engine)
    healthy = _run(tmp_path, "healthy", SENTENCES[:12], engine)
    scheduler.add(doomed)
    scheduler.add(healthy)
    try:
        events = _drive(scheduler, 2)
    finally:
        scheduler.close(wait=True)
    outcome = {e.run: e for e in events}
    assert isinstance(outcome[doomed].error, SynthesisFailed)
    assert "signal 9, SIGKILL" in outcome[doomed].error.message
    assert "3 times" in outcome[doomed].error.message
    assert outcome[healthy].error is None and outcome[healthy].result.output.exists()
    assert not doomed.output.exists() and (tmp_path / "processing" / "doomed").exists()


def test_a_worker_killed_from_outside_does_not_lose_the_book(tmp_path):
    engine = _engine("tone-slow")
    executors = []

    def factory():
        executors.append(start_pool(engine, 2))
        return executors[-1]

    scheduler = Scheduler(factory, 2)
    run = _run(tmp_path, "book", SENTENCES[:16], engine)
    scheduler.add(run)

    def kill_one_worker():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list((tmp_path / "processing" / "book").glob("*.flac")):
            time.sleep(0.1)
        os.kill(next(iter(executors[0]._processes)), signal.SIGKILL)

    killer = threading.Thread(target=kill_one_worker)
    killer.start()
    try:
        events = _drive(scheduler, 1, limit=180)
    finally:
        killer.join()
        scheduler.close(wait=True)
    assert len(executors) >= 2, "the pool was rebuilt"
    assert events and events[0].error is None and run.output.exists()


def test_an_unwritable_outbox_fails_before_any_work(tmp_path):
    from daemon.errors import OutputError

    book = simple_book(tmp_path / "b.epub", [("One", SENTENCES[:2])])
    prepared = prepare(book, BookSettings())
    blocker = tmp_path / "outbox"
    blocker.write_text("a file where the outbox folder should be")  # fails even for root
    with pytest.raises(OutputError) as caught:
        BookRun(prepared, blocker / "b.mp3", _engine("tone"), tmp_path / "job", 2)
    assert "cannot write the audiobook" in caught.value.message
