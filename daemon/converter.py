"""Converting one book: EPUB in, chaptered and tagged MP3 out.

The parent plans the book into segments, hands them to an executor, and
appends the finished checkpoints to the MP3 strictly in order as they become
available, so memory stays flat and the MP3 is ready moments after the last
segment.  Every finished segment stays under the job's processing folder until
the MP3 is in place: a conversion that is killed and started again redoes
only the segments that were in flight.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from .audio import BookTags, ChapterMark, Mp3Writer
from .engine import SAMPLE_RATE, EngineSettings, SegmentResult, SegmentTask, checkpoint_frames, synthesize_segment
from .epub import Book, Chapter, read_book
from .languages import ISO639_2
from .errors import InvalidSetting, NoText, OutputError, SynthesisFailed
from .settings import BookSettings
from .spoken import Segment, plan_segments

log = logging.getLogger(__name__)

PLAN_VERSION = 1


@dataclass(frozen=True)
class PreparedBook:
    """A book read and its settings resolved: everything but the audio."""

    source: Path
    source_sha256: str
    book: Book
    settings: BookSettings  # voice and lang resolved
    chapters: tuple[Chapter, ...]  # the ones to be read

    @property
    def title(self) -> str:
        return self.settings.title or self.book.title

    @property
    def author(self) -> str:
        return self.settings.author or self.book.author

    @property
    def chars_total(self) -> int:
        return sum(c.chars for c in self.chapters)


@dataclass(frozen=True)
class Progress:
    chapter: int
    chapter_title: str
    chars_done: int
    chars_total: int
    audio_seconds: float
    chars_per_second: float
    eta_seconds: float | None
    segments_done: int
    segments_total: int

    @property
    def percent(self) -> float:
        return 100.0 * self.chars_done / self.chars_total if self.chars_total else 100.0


@dataclass(frozen=True)
class ChapterResult:
    index: int
    title: str
    chars: int
    start_seconds: float
    duration_seconds: float


@dataclass(frozen=True)
class ConversionResult:
    output: Path
    chapters: tuple[ChapterResult, ...]
    audio_seconds: float
    chars_total: int
    segments_resumed: int
    segments_synthesised: int
    seconds: float


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def prepare(source: Path, requested: BookSettings, default_lang: str = "en-us",
            english_voice: str = "af_heart", keep_boilerplate: bool = False) -> PreparedBook:
    """Read the book and settle its settings; raises InboxError subclasses."""
    book = read_book(source, keep_boilerplate=keep_boilerplate)
    settings = requested.resolve(book.language, default_lang, english_voice)
    if requested.chapters is not None:
        unknown = sorted(requested.chapters - {c.index for c in book.chapters})
        if unknown:
            raise InvalidSetting(
                f"chapters: the book has chapters 1 to {len(book.chapters)}, not {unknown[0]}; "
                "see 'kokoro-inbox inspect' for the numbers", key="chapters")
    chapters = tuple(book.readable(requested.chapters))
    if not chapters:
        raise NoText("none of the selected chapters has text to read; "
                     "see 'kokoro-inbox inspect' for what each chapter holds")
    return PreparedBook(source, file_sha256(source), book, settings, chapters)


def job_fingerprint(prepared: PreparedBook) -> str:
    """Same book and settings -> same fingerprint (names the checkpoint folder)."""
    record = {"sha256": prepared.source_sha256, "settings": prepared.settings.as_record(),
              "chapters": [c.index for c in prepared.chapters], "plan": PLAN_VERSION}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


# --------------------------------------------------------------------------- plan on disk

def load_or_plan(prepared: PreparedBook, job_dir: Path, workers: int) -> list[Segment]:
    """The segment plan, reused from ``job_dir`` when it belongs to this same job.

    Storing the plan keeps checkpoints valid when a resumed run has a
    different number of workers (which changes how the tail is cut).
    """
    plan_file = job_dir / "plan.json"
    fingerprint = job_fingerprint(prepared)
    try:
        stored = json.loads(plan_file.read_text(encoding="utf-8"))
        if stored.get("fingerprint") == fingerprint:
            return [Segment(s["index"], s["chapter"], tuple((t, p) for t, p in s["pieces"]), s["last"])
                    for s in stored["segments"]]
        log.warning("%s holds checkpoints of other settings; starting afresh", job_dir)
    except FileNotFoundError:
        pass
    except (ValueError, KeyError, TypeError):
        log.warning("%s has an unreadable plan; starting afresh", job_dir)
    if job_dir.exists():
        shutil.rmtree(job_dir)
    job_dir.mkdir(parents=True)
    english = (prepared.settings.lang or "").startswith("en")
    segments = plan_segments(list(prepared.chapters), workers=workers, english=english)
    payload = {"fingerprint": fingerprint, "segments": [
        {"index": s.index, "chapter": s.chapter, "pieces": s.pieces, "last": s.last_of_chapter}
        for s in segments]}
    tmp = plan_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload), encoding="utf-8")
    os.replace(tmp, plan_file)
    return segments


def checkpoint_path(job_dir: Path, index: int) -> Path:
    return job_dir / f"segment-{index:05d}.flac"


# --------------------------------------------------------------------------- conversion

def convert(prepared: PreparedBook, output: Path, executor: Executor, engine: EngineSettings,
            job_dir: Path, workers: int,
            on_progress: Callable[[Progress], None] | None = None) -> ConversionResult:
    """Synthesise the prepared book on ``executor`` and write ``output``."""
    started = time.monotonic()
    segments = load_or_plan(prepared, job_dir, workers)
    done: dict[int, int] = {}  # segment index -> frames, for finished checkpoints
    for segment in segments:
        frames = checkpoint_frames(checkpoint_path(job_dir, segment.index))
        if frames is not None:
            done[segment.index] = frames
    resumed = len(done)
    if resumed:
        log.info("%s: resuming, %d of %d segments already done", prepared.source.name,
                 resumed, len(segments))

    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        writer = Mp3Writer(output, prepared.settings.bitrate)
    except (OSError, RuntimeError) as error:
        raise OutputError(f"cannot write the audiobook to {output.parent}: {error}") from None

    tracker = _Tracker(prepared, segments, done, on_progress)
    try:
        _run_segments(prepared, segments, done, executor, engine, job_dir, workers, writer, tracker)
        result_chapters = tracker.chapter_results()
        marks = tuple(ChapterMark(c.title, c.start_seconds, c.start_seconds + c.duration_seconds)
                      for c in result_chapters)
        tags = BookTags(prepared.title, prepared.author,
                        ISO639_2.get(prepared.settings.lang or "", ""), marks, prepared.book.cover)
        writer.finish(tags)
    except OSError as error:
        writer.abort()
        raise OutputError(f"cannot write the audiobook to {output.parent}: {error.strerror or error}") from None
    except BaseException:
        writer.abort()
        raise
    shutil.rmtree(job_dir, ignore_errors=True)
    return ConversionResult(
        output=output, chapters=result_chapters, audio_seconds=writer.frames / SAMPLE_RATE,
        chars_total=prepared.chars_total, segments_resumed=resumed,
        segments_synthesised=len(segments) - resumed, seconds=time.monotonic() - started,
    )


def _run_segments(prepared: PreparedBook, segments: list[Segment], done: dict[int, int],
                  executor: Executor, engine: EngineSettings, job_dir: Path, workers: int,
                  writer: Mp3Writer, tracker: "_Tracker") -> None:
    queue = deque(s for s in segments if s.index not in done)
    in_flight: dict[Future[SegmentResult], int] = {}
    window = max(2 * workers, 2)  # enough queued that no worker waits on the parent
    settings = prepared.settings
    next_to_write = 0
    try:
        while next_to_write < len(segments):
            while queue and len(in_flight) < window:
                segment = queue.popleft()
                task = SegmentTask(engine, segment.pieces, settings.voice or "", settings.speed,
                                   settings.lang or "en-us", str(checkpoint_path(job_dir, segment.index)))
                in_flight[executor.submit(synthesize_segment, task)] = segment.index
            while next_to_write < len(segments) and next_to_write in done:
                tracker.written(next_to_write, writer.append_checkpoint(
                    checkpoint_path(job_dir, next_to_write)))
                next_to_write += 1
            if next_to_write >= len(segments):
                break
            finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in finished:
                index = in_flight.pop(future)
                result = _result(future, prepared.source.name)
                done[index] = result.frames
                tracker.synthesised(index, result)
    finally:
        for future in in_flight:
            future.cancel()


def _result(future: Future[SegmentResult], name: str) -> SegmentResult:
    try:
        return future.result()
    except BrokenProcessPool:
        raise SynthesisFailed(
            "a worker process died while reading the book (killed, or out of memory); "
            "the finished parts are kept, so converting again resumes") from None


class _Tracker:
    """Progress, ETA and chapter times, from what has been synthesised and written."""

    def __init__(self, prepared: PreparedBook, segments: list[Segment], done: dict[int, int],
                 on_progress: Callable[[Progress], None] | None) -> None:
        self.prepared = prepared
        self.segments = segments
        self.on_progress = on_progress
        self.started = time.monotonic()
        self.chars_done = sum(segments[i].chars for i in done)
        self.chars_total = sum(s.chars for s in segments)
        self.chars_this_run = 0
        self.frames_done = sum(done.values())
        self.segments_done = len(done)
        self.written_frames = 0
        self.chapter_start: dict[int, int] = {}
        self.chapter_end: dict[int, int] = {}
        self.current_chapter = segments[0].chapter if segments else 0

    def synthesised(self, index: int, result: SegmentResult) -> None:
        self.chars_done += self.segments[index].chars
        self.chars_this_run += self.segments[index].chars
        self.frames_done += result.frames
        self.segments_done += 1
        self.current_chapter = self.segments[index].chapter
        self._report()

    def written(self, index: int, frames: int) -> None:
        chapter = self.segments[index].chapter
        self.chapter_start.setdefault(chapter, self.written_frames)
        self.written_frames += frames
        self.chapter_end[chapter] = self.written_frames

    def _report(self) -> None:
        if self.on_progress is None:
            return
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = self.chars_this_run / elapsed
        left = self.chars_total - self.chars_done
        titles = {c.index: c.title for c in self.prepared.chapters}
        self.on_progress(Progress(
            chapter=self.current_chapter, chapter_title=titles.get(self.current_chapter, ""),
            chars_done=self.chars_done, chars_total=self.chars_total,
            audio_seconds=self.frames_done / SAMPLE_RATE, chars_per_second=rate,
            eta_seconds=left / rate if rate > 0 else None,
            segments_done=self.segments_done, segments_total=len(self.segments),
        ))

    def chapter_results(self) -> tuple[ChapterResult, ...]:
        results = []
        for chapter in self.prepared.chapters:
            start = self.chapter_start.get(chapter.index, 0)
            end = self.chapter_end.get(chapter.index, start)
            results.append(ChapterResult(chapter.index, chapter.title, chapter.chars,
                                         start / SAMPLE_RATE, (end - start) / SAMPLE_RATE))
        return tuple(results)


def with_overrides(settings: BookSettings, **values: object) -> BookSettings:
    """Command-line flags over a sidecar: only the flags actually given."""
    given = {k: v for k, v in values.items() if v is not None}
    return settings.merged(given) if given else replace(settings)
