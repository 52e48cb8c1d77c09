"""Several books on one worker pool, and workers that die. Real processes, stand-in engines.

The scheduler's decisions alone, without processes: test_scheduler_logic.py."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
import soundfile
from mutagen.id3 import ID3

from daemon.converter import BookRun, prepare
from daemon.errors import SynthesisFailed
from daemon.service.scheduler import Scheduler
from daemon.settings import BookSettings
from daemon.synth.engine import EngineKind
from daemon.synth.executors import LocalPool
from daemon.synth.stand_ins import stand_in_settings

from .epubs import simple_book

pytestmark = pytest.mark.processes  # the local worker pool, and processes killed under it

SENTENCES = [f"Sentence number {n} of the book is here, and it is long enough to count." for n in range(40)]


def _run(tmp_path: Path, name: str, paragraphs: list[str], workers: int = 2) -> BookRun:
    book = simple_book(tmp_path / f"{name}.epub", [("One", paragraphs[: len(paragraphs) // 2]),
                                                   ("Two", paragraphs[len(paragraphs) // 2:])])
    prepared = prepare(book, BookSettings())
    return BookRun(prepared, tmp_path / f"{name}.mp3", tmp_path / "processing" / name, workers)


def _drive(scheduler: Scheduler, expected: int, limit: float = 120) -> list:
    events, deadline = [], time.monotonic() + limit
    while len(events) < expected and time.monotonic() < deadline:
        events.extend(scheduler.step(timeout=0.5))
    return events


def _started(kind: EngineKind, workers: int = 2) -> LocalPool:
    pool = LocalPool(stand_in_settings(kind), workers)
    pool.start()
    return pool


def test_books_share_the_pool_in_arrival_order(tmp_path):
    scheduler = Scheduler(_started(EngineKind.TONE))
    first, second = _run(tmp_path, "first", SENTENCES), _run(tmp_path, "second", SENTENCES[:10])
    scheduler.add(first)
    scheduler.add(second)
    try:
        events = _drive(scheduler, 2)
    finally:
        scheduler.close()
    assert [e.run for e in events] == [first, second] and all(e.error is None for e in events)
    for event in events:
        audio, rate = soundfile.read(event.result.output)
        assert abs(len(audio) / rate - event.result.audio_seconds) < 0.1
        assert [c.sub_frames["TIT2"].text[0] for c in ID3(event.result.output).getall("CHAP")] == ["One", "Two"]
    assert not (tmp_path / "processing" / "first").exists()


def test_a_segment_that_kills_its_worker_fails_its_book_with_the_signal_and_others_go_on(tmp_path):
    scheduler = Scheduler(_started(EngineKind.TONE_CRASH))
    doomed = _run(tmp_path, "doomed", SENTENCES[:6] + ["Here the worker will CRASH."] + SENTENCES[6:12])
    healthy = _run(tmp_path, "healthy", SENTENCES[:12])
    scheduler.add(doomed)
    scheduler.add(healthy)
    try:
        events = _drive(scheduler, 2)
    finally:
        scheduler.close()
    outcome = {e.run: e for e in events}
    assert isinstance(outcome[doomed].error, SynthesisFailed)
    assert "signal 9, SIGKILL" in outcome[doomed].error.message
    assert "3 times" in outcome[doomed].error.message
    crashing = next(s.index for s in doomed.segments if any("CRASH" in t for t, _ in s.pieces))
    assert f"segment {crashing} " in outcome[doomed].error.message, "the death is pinned on its segment"
    assert set(doomed.strikes) == {crashing}, "no other segment was blamed"
    assert outcome[healthy].error is None and outcome[healthy].result.output.exists()
    assert not doomed.output.exists() and (tmp_path / "processing" / "doomed").exists()


def test_a_worker_killed_from_outside_is_replaced_and_the_book_completes(tmp_path):
    pool = _started(EngineKind.TONE_SLOW)
    scheduler = Scheduler(pool)
    run = _run(tmp_path, "book", SENTENCES[:16])
    scheduler.add(run)
    workers_before = set(pool.worker_pids())

    def kill_one_worker():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list((tmp_path / "processing" / "book").glob("*.flac")):
            time.sleep(0.1)
        os.kill(next(iter(workers_before)), signal.SIGKILL)

    killer = threading.Thread(target=kill_one_worker)
    killer.start()
    try:
        events = _drive(scheduler, 1, limit=180)
        workers_after = set(pool.worker_pids())
    finally:
        killer.join()
        scheduler.close()
    assert events and events[0].error is None and run.output.exists()
    assert len(workers_after) == 2 and workers_after != workers_before, "the dead worker was replaced"
    assert len(workers_after & workers_before) == 1, "the other worker kept its model"


def test_workers_die_with_their_parent(tmp_path):
    """A daemon killed with -9 leaves no worker behind (they would hold the model's memory)."""
    import subprocess
    import sys
    script = ("import time; from daemon.synth.executors import LocalPool; from daemon.synth.engine import EngineKind; "
              "from daemon.synth.stand_ins import stand_in_settings; "
              "p = LocalPool(stand_in_settings(EngineKind.TONE), 2); p.start(); "
              "print(*p.worker_pids(), flush=True); time.sleep(60)")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[1])
    pids = [int(p) for p in parent.stdout.readline().split()]
    assert len(pids) == 2
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in pids)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except OSError:
        return False
