"""The scheduler's decisions (order, strikes, cancels, several books) on a fake executor:
no process is started, so these run with the logic tests. The real pool: test_scheduler.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import soundfile
from mutagen.id3 import ID3

from daemon.converter import BookRun, prepare
from daemon.errors import OutputError, SynthesisFailed
from daemon.service.scheduler import MAX_STRIKES, Scheduler, convert
from daemon.settings import BookSettings

from .epubs import simple_book
from .fake_executor import SIGKILL, FakeExecutor, tone_audio

SENTENCES = [f"Sentence number {n} of the book is here, and it is long enough to count." for n in range(40)]
SEGMENT_CHARS = 300  # a few sentences a segment: many segments, so the order has something to show


def _run(tmp_path: Path, name: str, paragraphs: list[str], workers: int = 2) -> BookRun:
    book = simple_book(tmp_path / f"{name}.epub", [("One", paragraphs[: len(paragraphs) // 2]),
                                                   ("Two", paragraphs[len(paragraphs) // 2:])])
    return BookRun(prepare(book, BookSettings()), tmp_path / f"{name}.mp3", tmp_path / "processing" / name, workers,
                   segment_chars=SEGMENT_CHARS)


def _started(**options) -> FakeExecutor:
    executor = FakeExecutor(**options)
    executor.start()
    return executor


def _scheduler(executor: FakeExecutor, *runs: BookRun) -> Scheduler:
    scheduler = Scheduler(executor)
    for run in runs:
        scheduler.add(run)
    return scheduler


def _drive(scheduler: Scheduler, expected: int, steps: int = 500) -> list:
    """Step until ``expected`` books ended; the fake executor never waits, so a bound on steps will do."""
    events: list = []
    for _ in range(steps):
        if len(events) >= expected:
            break
        events.extend(scheduler.step(timeout=0.5))
    return events


def _keys_of(scheduler: Scheduler, run: BookRun) -> set:
    return {key for key, (owner, _) in scheduler.in_flight.items() if owner is run}


def _segment_with(run: BookRun, word: str) -> int:
    return next(s.index for s in run.segments if any(word in text for text, _ in s.pieces))


def test_books_are_read_in_arrival_order_with_no_worker_idle_between_them(tmp_path):
    executor = _started()
    first, second = _run(tmp_path, "first", SENTENCES), _run(tmp_path, "second", SENTENCES[:10])
    scheduler = _scheduler(executor, first, second)
    segments = len(first.segments) + len(second.segments)
    assert segments > 2 * executor.capacity, "enough segments to keep the executor full for a while"

    events = _drive(scheduler, 2)

    assert [e.run for e in events] == [first, second] and all(e.error is None for e in events)
    books = [key[0] for key in executor.submitted]
    assert books == sorted(books) and len(set(books)) == 2, "every segment of the first book went out first"
    assert [key[1] for key in executor.submitted if key[0] == books[0]] == [s.index for s in first.segments], \
        "a book's segments go out in reading order"
    assert len(executor.submitted) == segments, "each segment read once"
    full_until = segments - executor.capacity  # only the last few waits find less than a full queue
    assert all(held == executor.capacity for held in executor.held_at_wait[: full_until // executor.workers]), \
        f"the executor waited with free room while segments were left: {executor.held_at_wait}"
    for event in events:
        audio, rate = soundfile.read(event.result.output)
        assert abs(len(audio) / rate - event.result.audio_seconds) < 0.1
        assert [c.sub_frames["TIT2"].text[0] for c in ID3(event.result.output).getall("CHAP")] == ["One", "Two"]
    assert not (tmp_path / "processing" / "first").exists(), "a finished book's checkpoints are gone"
    assert not scheduler.busy and not scheduler.in_flight


def test_a_segment_that_kills_its_worker_three_times_fails_its_book_with_the_signal_and_others_go_on(tmp_path):
    executor = _started(deaths={"CRASH": 99})
    doomed = _run(tmp_path, "doomed", SENTENCES[:6] + ["Here the worker will CRASH."] + SENTENCES[6:12])
    healthy = _run(tmp_path, "healthy", SENTENCES[:12])
    scheduler = _scheduler(executor, doomed, healthy)

    outcome = {e.run: e for e in _drive(scheduler, 2)}

    crashing = _segment_with(doomed, "CRASH")
    error = outcome[doomed].error
    assert isinstance(error, SynthesisFailed)
    assert SIGKILL in error.message and f"{MAX_STRIKES} times" in error.message
    assert f"segment {crashing} " in error.message, "the death is pinned on its segment"
    assert doomed.strikes == {crashing: MAX_STRIKES}, "no other segment was blamed"
    assert executor.deaths["CRASH"] == 99 - MAX_STRIKES, "given up after the third death, not tried again"
    assert outcome[healthy].error is None and outcome[healthy].result.output.exists()
    assert not doomed.output.exists() and (tmp_path / "processing" / "doomed").exists(), \
        "the failed book keeps its checkpoints for a retry"


def test_a_segment_retried_after_a_worker_died_goes_out_next_and_the_book_completes(tmp_path):
    executor = _started(deaths={"CRASH": MAX_STRIKES - 1})
    run = _run(tmp_path, "book", ["Here the worker will CRASH."] + SENTENCES)  # early: much left to hand out
    scheduler = _scheduler(executor, run)

    events = _drive(scheduler, 1)

    crashing = _segment_with(run, "CRASH")
    assert events[0].error is None and run.output.exists()
    assert run.strikes == {crashing: MAX_STRIKES - 1}
    key = next(key for key in executor.submitted if key[1] == crashing)
    its_life = [what for what, k in executor.log if k == key]
    assert its_life == ["submit", "death"] * (MAX_STRIKES - 1) + ["submit", "read"], "read until it came through"
    submissions = [(what, k) for what, k in executor.log if what in ("submit", "death")]
    for n, (what, k) in enumerate(submissions[:-1]):
        if what == "death":
            assert submissions[n + 1] == ("submit", key), "a retried segment is the next one handed out"


def test_a_cancelled_book_is_forgotten_by_the_executor_and_the_other_book_goes_on(tmp_path):
    executor = _started()
    cancelled, kept = _run(tmp_path, "cancelled", SENTENCES), _run(tmp_path, "kept", SENTENCES[:10])
    scheduler = _scheduler(executor, cancelled, kept)
    scheduler.step(timeout=0.5)
    in_flight = _keys_of(scheduler, cancelled)
    assert in_flight, "the first book had segments out when it was cancelled"
    submitted_before = len(executor.submitted)

    scheduler.remove(cancelled)
    cancelled.abort(keep_checkpoints=False)
    events = _drive(scheduler, 1)

    assert set(executor.forgotten) == in_flight, "exactly its segments in flight were dropped"
    assert not _keys_of(scheduler, cancelled)
    book = next(iter(in_flight))[0]
    assert not [key for key in executor.submitted[submitted_before:] if key[0] == book], "nothing more of it went out"
    assert [e.run for e in events] == [kept] and events[0].error is None and kept.output.exists()
    assert scheduler.step(timeout=0.5) == [] and not scheduler.busy, "no event ever comes for the cancelled book"


def test_an_outcome_that_comes_after_its_book_was_cancelled_is_ignored(tmp_path):
    executor = _started(drops_forgotten=False)  # a cluster may finish a segment as it is forgotten
    cancelled, kept = _run(tmp_path, "cancelled", SENTENCES), _run(tmp_path, "kept", SENTENCES[:10])
    scheduler = _scheduler(executor, cancelled, kept)
    scheduler.step(timeout=0.5)
    late = _keys_of(scheduler, cancelled)
    scheduler.remove(cancelled)
    cancelled.abort(keep_checkpoints=False)

    events = _drive(scheduler, 1)

    assert late <= set(executor.log_of("read")), "the cancelled book's segments still came back"
    assert [e.run for e in events] == [kept] and events[0].error is None
    assert not cancelled.job_dir.exists(), "no checkpoint of the cancelled book was written after all"


def test_a_segment_the_engine_refuses_fails_its_book_with_that_error(tmp_path):
    executor = _started(failures=frozenset({"UNREADABLE"}))
    refused = _run(tmp_path, "refused", SENTENCES[:4] + ["An UNREADABLE sentence."] + SENTENCES[4:8])
    other = _run(tmp_path, "other", SENTENCES[:8])
    scheduler = _scheduler(executor, refused, other)

    outcome = {e.run: e for e in _drive(scheduler, 2)}

    assert isinstance(outcome[refused].error, SynthesisFailed)
    assert "UNREADABLE" in outcome[refused].error.message and not refused.strikes, "an error is no strike"
    assert not refused.output.exists() and (tmp_path / "processing" / "refused").exists()
    assert outcome[other].error is None and outcome[other].result.output.exists()


def test_a_checkpoint_that_cannot_be_kept_fails_only_its_book(tmp_path):
    executor = _started()
    broken, other = _run(tmp_path, "broken", SENTENCES[:8]), _run(tmp_path, "other", SENTENCES[:8])
    shutil.rmtree(broken.job_dir)
    broken.job_dir.write_text("a file where the job's folder should be")  # fails even for root
    scheduler = _scheduler(executor, broken, other)

    outcome = {e.run: e for e in _drive(scheduler, 2)}

    assert isinstance(outcome[broken].error, OutputError)
    assert "cannot keep the finished part of the book" in outcome[broken].error.message
    assert outcome[other].error is None and outcome[other].result.output.exists()


def test_segment_keys_never_repeat_across_books(tmp_path):
    executor = _started()
    scheduler = Scheduler(executor)
    for name in ("a", "b", "c"):
        run = _run(tmp_path, name, SENTENCES[:4])
        scheduler.add(run)
        _drive(scheduler, 1)
    assert len(executor.submitted) == len(set(executor.submitted)), \
        "a late outcome can never be taken for another book's"
    assert len({key[0] for key in executor.submitted}) == 3


def test_with_books_waiting_and_no_room_on_the_executor_the_scheduler_waits_instead_of_spinning(tmp_path):
    executor = _started(workers=0, trouble="no worker has joined the cluster")  # a cluster before its workers
    scheduler = Scheduler(executor)
    scheduler.add(_run(tmp_path, "book", SENTENCES[:4]))
    assert scheduler.step(timeout=0.5) == []
    assert executor.held_at_wait == [0] and not executor.submitted, "it waited on the executor, sent nothing"
    assert scheduler.problem() == "no worker has joined the cluster"


def test_a_book_read_wholly_before_a_restart_ends_on_the_first_step_without_waiting(tmp_path):
    before = _run(tmp_path, "book", SENTENCES[:8])
    for segment in before.segments:
        before.completed(segment.index, tone_audio(" ".join(text for text, _ in segment.pieces)))
    before.abort(keep_checkpoints=True)  # the daemon stopped before the book was finished
    executor = _started()
    scheduler = Scheduler(executor)
    resumed = _run(tmp_path, "book", SENTENCES[:8])
    assert resumed.complete

    scheduler.add(resumed)
    [event] = scheduler.step(timeout=30)

    assert event.run is resumed and event.error is None and resumed.output.exists()
    assert executor.held_at_wait == [] and not executor.submitted, "nothing was read or waited for"


def test_an_idle_scheduler_returns_at_once_without_waiting():
    executor = _started()
    assert Scheduler(executor).step(timeout=30) == [] and executor.held_at_wait == []


def test_convert_starts_the_executor_returns_the_book_and_closes_it(tmp_path):
    executor = FakeExecutor()
    run = _run(tmp_path, "book", SENTENCES[:8])
    result = convert(run, executor)
    assert executor.started and executor.closed
    assert result.output == run.output and run.output.exists()


def test_convert_raises_the_books_error_and_closes_the_executor(tmp_path):
    executor = FakeExecutor(deaths={"CRASH": 99})
    run = _run(tmp_path, "book", SENTENCES[:4] + ["Here the worker will CRASH."])
    with pytest.raises(SynthesisFailed, match=SIGKILL):
        convert(run, executor)
    assert executor.closed and not run.output.exists() and run.job_dir.exists()


def test_convert_interrupted_drops_its_segments_keeps_its_checkpoints_and_closes(tmp_path):
    executor = FakeExecutor(interrupt_on_wait=3)
    run = _run(tmp_path, "book", SENTENCES)
    with pytest.raises(KeyboardInterrupt):
        convert(run, executor)
    assert executor.closed and executor.forgotten, "the segments in flight were dropped"
    assert list(run.job_dir.glob("*.flac")), "what was read before Ctrl-C is kept for a resume"
    assert not run.output.exists()


def test_an_unwritable_outbox_fails_before_any_work(tmp_path):
    book = simple_book(tmp_path / "b.epub", [("One", SENTENCES[:2])])
    prepared = prepare(book, BookSettings())
    blocker = tmp_path / "outbox"
    blocker.write_text("a file where the outbox folder should be")  # fails even for root
    with pytest.raises(OutputError) as caught:
        BookRun(prepared, blocker / "b.mp3", tmp_path / "job", 2)
    assert "cannot write the audiobook" in caught.value.message and "missing" in caught.value.message
