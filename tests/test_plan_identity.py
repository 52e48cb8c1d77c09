"""What a job is and what its checkpoints are: two identities, each of exactly what it covers.

The plan's identity is what is synthesised (the speech, voice, speed, language and the
lexicon entries that occur), so a resume after a change of bitrate, format, title, author
or layout reuses every checkpoint; the job's identity is everything that changes the
output, so such a change is another job, not a duplicate of the first.  The model-free
tone engine reads in this process: no worker pool (but for the command line's own run).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile

from daemon.converter import (
    BookRun,
    PreparedBook,
    checkpoint_path,
    job_fingerprint,
    plan_fingerprint,
    prepare,
)
from daemon.settings import BookSettings
from daemon.cli import checkpoint_folder
from daemon.synth.engine import EngineKind, load_engine, synthesize_segment

from .epubs import simple_book
from .test_resume import SENTENCES, TONE


def prepared_book(folder: Path, **settings) -> PreparedBook:
    book = folder / "book.epub"
    if not book.exists():  # built once: the same bytes every time
        simple_book(book, [("One", SENTENCES[:30]), ("Two", SENTENCES[30:])])
    return prepare(book, BookSettings().merged(settings))


def checkpointed(prepared: PreparedBook, job_dir: Path, workers: int = 2) -> int:
    """Every segment of the book read into its checkpoint, the audiobook not finished (as a
    run killed in its last moments leaves it); the number of segments."""
    run = BookRun(prepared, job_dir.parent / "partial.mp3", job_dir, workers)
    engine = load_engine(TONE)
    for segment in run.segments:
        run.completed(segment.index, synthesize_segment(engine, run.task(segment.index)))
    run.abort(keep_checkpoints=True)
    assert all(checkpoint_path(job_dir, s.index).exists() for s in run.segments)
    return len(run.segments)


def test_a_new_bitrate_title_author_format_or_layout_reuses_every_checkpoint(tmp_path):
    job_dir = tmp_path / "job"
    total = checkpointed(prepared_book(tmp_path), job_dir)
    assert total >= 3
    for change in ({"bitrate": 96}, {"title": "Another Title"}, {"author": "Someone Else"},
                   {"format": "m4b", "split": "chapter", "loudness_lufs": None}, {"layout": "audiobookshelf"}):
        run = BookRun(prepared_book(tmp_path, **change), tmp_path / "again.mp3", job_dir, workers=3)
        assert run.resumed == total, change
        run.abort(keep_checkpoints=True)
    run = BookRun(prepared_book(tmp_path, bitrate=96, title="Another Title"), tmp_path / "new.mp3", job_dir, 3)
    assert run.complete, "everything was read before"
    result = run.finish()
    assert (result.segments_resumed, result.segments_synthesised) == (total, 0)
    assert soundfile.info(result.output).duration > 10 and not job_dir.exists()


@pytest.mark.parametrize("change", [{"voice": "am_adam"}, {"speed": 1.25}, {"lang": "en-gb"},
                                    {"chapters": "2"}, {"notes": "skip", "pronounce": {"Sentence": "Phrase"}}])
def test_what_is_heard_changes_the_plan(tmp_path, change):
    job_dir = tmp_path / "job"
    checkpointed(prepared_book(tmp_path), job_dir)
    run = BookRun(prepared_book(tmp_path, **change), tmp_path / "other.mp3", job_dir, workers=2)
    assert run.resumed == 0 and not checkpoint_path(job_dir, 1).exists(), change
    run.abort(keep_checkpoints=False)


def test_a_lexicon_entry_is_in_the_plan_only_where_its_word_is_read(tmp_path):
    plain = prepared_book(tmp_path)
    unused = prepared_book(tmp_path, pronounce={"Zanzibar": "/zˈænzɪbɑː/"})
    used = prepared_book(tmp_path, pronounce={"aloud": "/əlˈaʊd/"})
    assert plan_fingerprint(plain) == plan_fingerprint(unused) != plan_fingerprint(used)


def test_the_job_is_everything_that_changes_the_output(tmp_path):
    plain = prepared_book(tmp_path)
    assert job_fingerprint(plain) == job_fingerprint(prepared_book(tmp_path))
    for change in ({"bitrate": 96}, {"title": "Another Title"}, {"layout": "audiobookshelf"}, {"speed": 1.25}):
        other = prepared_book(tmp_path, **change)
        assert job_fingerprint(other) != job_fingerprint(plain), change


@pytest.mark.processes
def test_convert_resumes_after_a_new_bitrate_and_title(tmp_path):
    """The command line keeps a book's checkpoints in a folder named by the plan's identity,
    so a rerun with another bitrate (a flag) and title (a sidecar) finds every one of them."""
    processing = tmp_path / "processing"
    job_dir = processing / checkpoint_folder(prepared_book(tmp_path), EngineKind.TONE, "int8")
    total = checkpointed(prepared_book(tmp_path), job_dir)
    (tmp_path / "book.yaml").write_text("title: Another Title\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOKORO_INBOX_")} | {
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "KOKORO_INBOX_PATHS_PROCESSING": str(processing)}
    result = subprocess.run([sys.executable, "-m", "daemon", "convert", str(tmp_path / "book.epub"), "--engine",
                             "tone", "--workers", "2", "--bitrate", "96", "--output", str(tmp_path / "out.mp3")],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    assert "Another Title by" in result.stderr and f"resumed {total} finished segments" in result.stderr
    assert (tmp_path / "out.mp3").exists() and not job_dir.exists()
