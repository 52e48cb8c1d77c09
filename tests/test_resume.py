"""Checkpoints and the stored plan: a resumed book is the same book, whatever changed around it."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import soundfile

from daemon.converter import BookRun, ConversionResult, checkpoint_path, place, prepare
from daemon.converter import convert as pipeline
from daemon.errors import SynthesisFailed
from daemon.service.scheduler import Scheduler, convert
from daemon.settings import BookSettings
from daemon.synth.engine import EngineKind
from daemon.synth.executors import LocalPool
from daemon.synth.stand_ins import stand_in_settings

from .epubs import simple_book

pytestmark = pytest.mark.processes  # the local worker pool

SENTENCES = [f"Sentence {n} is read aloud here, slowly, and it is long enough to matter." for n in range(60)]
TONE = stand_in_settings(EngineKind.TONE)


def _prepared(tmp_path: Path, speed: float = 1.0):
    book = tmp_path / "book.epub"
    if not book.exists():  # built once: the same bytes every time
        simple_book(book, [("One", SENTENCES[:30]), ("Two", SENTENCES[30:])])
    return prepare(book, BookSettings(speed=speed))


def _interrupted(tmp_path: Path, job_dir: Path, workers: int, segments_wanted: int) -> BookRun:
    """A run stopped after some segments, its checkpoints kept (as a kill would leave them)."""
    run = BookRun(_prepared(tmp_path), tmp_path / "partial.mp3", job_dir, workers)
    pool = LocalPool(TONE, workers)
    pool.start()
    scheduler = Scheduler(pool)
    scheduler.add(run)
    try:
        while len(run.done) < segments_wanted:
            scheduler.step(timeout=0.5)
    finally:
        scheduler.remove(run)
        run.abort(keep_checkpoints=True)
        scheduler.close()
    return run


def test_a_resume_with_another_worker_count_reuses_the_plan_and_the_checkpoints(tmp_path):
    job_dir = tmp_path / "job"
    first = _interrupted(tmp_path, job_dir, workers=2, segments_wanted=3)
    kept = {index for index in first.done}
    resumed = BookRun(_prepared(tmp_path), tmp_path / "resumed.mp3", job_dir, workers=3)
    assert resumed.segments == first.segments, "the stored plan, not one cut for three workers"
    assert set(resumed.done) >= kept and resumed.resumed >= 3
    result = convert(resumed, LocalPool(TONE, 3))
    fresh = convert(BookRun(_prepared(tmp_path), tmp_path / "fresh.mp3", tmp_path / "fresh-job", 3),
                    LocalPool(TONE, 3))
    resumed_audio, _ = soundfile.read(result.output)
    fresh_audio, _ = soundfile.read(fresh.output)
    assert abs(len(resumed_audio) - len(fresh_audio)) <= 2 * 1152  # an MP3 frame or two
    assert [c.start_seconds for c in result.chapters] == [c.start_seconds for c in fresh.chapters]


def test_checkpoints_of_other_settings_are_not_used(tmp_path, caplog):
    job_dir = tmp_path / "job"
    first = _interrupted(tmp_path, job_dir, workers=2, segments_wanted=2)
    kept = min(first.done)  # two workers finish in either order: not always segment 0
    assert checkpoint_path(job_dir, kept).exists()
    faster = _prepared(tmp_path, speed=1.5)
    with caplog.at_level(logging.WARNING):
        run = BookRun(faster, tmp_path / "faster.mp3", job_dir, workers=2)
    assert run.resumed == 0 and not checkpoint_path(job_dir, kept).exists()
    assert "holds checkpoints of other settings" in caplog.text
    stored = json.loads((job_dir / "plan.json").read_text())
    assert stored["fingerprint"] != ""
    run.abort(keep_checkpoints=False)


@pytest.mark.processes
def test_the_pipeline_drops_a_failed_books_staging_folder_keeps_its_checkpoints_and_publishes_a_rerun(tmp_path):
    """``kokoro-inbox convert`` and the daemon share ``converter.convert``'s steps: placed, read,
    then published or, failed, the library's staging folder gone (the checkpoints stay)."""
    book = tmp_path / "book.epub"
    simple_book(book, [("One", SENTENCES[:10])], title="The Lamps", author="A. Writer")
    prepared = prepare(book, BookSettings(layout="audiobookshelf"))
    library, job_dir = tmp_path / "library", tmp_path / "job"

    def fails_halfway(run: BookRun, executor) -> ConversionResult:
        scheduler = Scheduler(executor)
        scheduler.add(run)
        try:
            while len(run.done) < 2:
                scheduler.step(timeout=0.5)
        finally:
            scheduler.remove(run)
            run.abort(keep_checkpoints=True)
            scheduler.close()
        raise SynthesisFailed("a worker died")

    with pytest.raises(SynthesisFailed):
        pipeline(prepared, place(library, "book", prepared, "f" * 16), job_dir, LocalPool(TONE, 2), fails_halfway)
    assert not list(library.glob(".*")), "no staging folder left"
    assert list(job_dir.glob("segment-*.flac")), "the finished segments are kept for a rerun"
    result = pipeline(prepared, place(library, "book", prepared, "f" * 16), job_dir, LocalPool(TONE, 2), convert)
    assert result.output == library / "A. Writer" / "The Lamps" / "The Lamps.mp3" and result.output.is_file()
    assert result.segments_resumed >= 2 and not job_dir.exists()
    assert not list(library.glob(".*"))
