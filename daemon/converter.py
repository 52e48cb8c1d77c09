"""Converting one book: EPUB in, chaptered and tagged MP3 out.

The parent plans the book into segments; the scheduler hands them to an
executor; as each segment's audio comes back, ``BookRun`` keeps it as a FLAC
checkpoint and appends the checkpoints to the MP3 strictly in order as they
become available, so memory stays flat and the MP3 is ready moments after the
last segment.  Every finished segment stays under the job's processing folder
until the MP3 is in place: a conversion that is killed and started again
redoes only the segments that were in flight.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import shutil
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from daemon.audio import covers, library
from daemon.audio.book_audio import BookAudio, BookTags, ChapterMark, LoudnessReport
from daemon.audio.formats import SAMPLE_RATE
from daemon.audio.placement import Placement
from daemon.audio.tags import narrator
from daemon.book.epub import Book, Chapter, read_book
from daemon.speech.g2p import check_reader
from daemon.speech.languages import ISO639_2
from daemon.speech.pronounce import Lexicon, respell, words_in
from daemon.speech.spoken import SEGMENT_CHARS, Segment, plan_segments
from daemon.synth.engine import SegmentAudio, SegmentTask, checkpoint_frames
from daemon.synth.executors import Shape

from .config import Config
from .errors import InboxError, InvalidSetting, NotAnEpub, NoText, OutputError, TryLater
from .files import FileIdentity, atomic_write_bytes, sha256_of, transient, why_unwritable
from .settings import Affects, BookSettings, output_options, reading_options, requested_settings

if TYPE_CHECKING:
    from daemon.synth.executors import SegmentExecutor

log = logging.getLogger(__name__)

PLAN_VERSION = 3  # 2: notes, tables and the parts of a book read anew; 3: the plan's identity is its speech


@dataclass(frozen=True)
class PreparedBook:
    """A book read and its settings resolved: everything but the audio."""

    source: Path
    source_sha256: str
    book: Book
    settings: BookSettings  # voice and lang resolved
    chapters: tuple[Chapter, ...]  # the ones to be read
    requested: BookSettings = BookSettings()  # what was asked for, before the book decided the rest

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
    output: Path  # the book's file; with split: chapter, the first chapter's
    chapters: tuple[ChapterResult, ...]
    audio_seconds: float
    chars_total: int
    segments_resumed: int
    segments_synthesised: int
    seconds: float
    outputs: tuple[Path, ...] = ()  # every file written, in order (one per chapter when split)
    loudness: LoudnessReport | None = None


def prepare_book(config: Config, source: Path, flags: Mapping[str, Any] | None = None,
                 upload: Mapping[str, Any] | None = None) -> PreparedBook:
    """Read a book with the settings the config, its folders, its sidecar (or upload form)
    and any flags ask for: the same for the daemon, ``convert`` and ``inspect``."""
    defaults = config.book_defaults
    requested = requested_settings(source, defaults.settings, config.paths.inbox, upload, flags)
    return prepare(source, requested, defaults.lang, defaults.voice, keep_boilerplate=not config.skip_boilerplate)


def prepare(source: Path, requested: BookSettings, default_lang: str = "en-us",
            english_voice: str = "af_heart", keep_boilerplate: bool = False) -> PreparedBook:
    """Read the book and settle its settings; raises InboxError subclasses."""
    book = read_book(source, reading_options(requested, keep_boilerplate))
    settings = requested.resolve(book.language, default_lang, english_voice)
    check_reader(settings.lang or default_lang)
    if requested.chapters is not None:
        unknown = sorted(requested.chapters - {c.index for c in book.chapters})
        if unknown:
            raise InvalidSetting(
                f"chapters: the book has chapters 1 to {len(book.chapters)}, not {unknown[0]}; "
                "see 'kokoro-inbox inspect' for the numbers", key="chapters")
    chapters = tuple(_respelled(c, requested.pronounce) for c in book.readable(requested.chapters))
    if not chapters:
        raise NoText("none of the selected chapters has text to read; "
                     "see 'kokoro-inbox inspect' for what each chapter holds")
    return PreparedBook(source, sha256_of(source), book, settings, chapters, requested)


@dataclass(frozen=True)
class PlannedBook:
    """A book read, its settings resolved and its speech cut into segments: what the daemon's
    book reader (daemon/service/planner.py) hands back to the main thread."""

    prepared: PreparedBook
    segments: tuple[Segment, ...]
    identity: FileIdentity  # the file as it was read, unchanged from start to end


def read_and_plan(config: Config, source: Path, upload: Mapping[str, Any] | None, workers: int,
                  segment_chars: int = SEGMENT_CHARS) -> PlannedBook:
    """Everything about a book that needs no model: read it, resolve its settings, turn its
    text into speech and cut that into segments.  A file that changes while it is read is
    not this book yet (``TryLater``), nor is one a network share cannot read right now."""
    try:
        before = FileIdentity.of(source)
        prepared = prepare_book(config, source, upload=upload)
        segments = plan_segments(list(prepared.chapters), workers=workers, lang=prepared.settings.lang,
                                 target=segment_chars)
        after = FileIdentity.of(source)
    except OSError as error:
        if transient(error):
            raise TryLater(f"cannot read the file now: {error.strerror or error}") from None
        raise NotAnEpub(f"cannot read the file: {error.strerror or error}") from None
    if before is None or before != after:
        raise TryLater("the file changed while it was being read")
    return PlannedBook(prepared, tuple(segments), before)


def _respelled(chapter: Chapter, lexicon: Lexicon) -> Chapter:
    """The chapter with the lexicon's respellings read instead of their words."""
    if not any(entry.respelling for entry in lexicon):
        return chapter
    return dataclasses.replace(chapter, paragraphs=tuple(
        dataclasses.replace(p, text=respell(p.text, lexicon)) for p in chapter.paragraphs))


def job_fingerprint(prepared: PreparedBook) -> str:
    """The job's identity: the same source and every setting that changes what comes out
    (its sound, its encoding, its tags, where it goes) -> the same job, and a second drop is
    a duplicate of the first.  So a book dropped for the library is converted for the library,
    not pointed at a flat MP3 made earlier, while both share the plan (``plan_fingerprint``).
    The text read is in it too: the config's ``skip_boilerplate`` changes it without a setting."""
    text = hashlib.sha256()
    for chapter in prepared.chapters:
        for paragraph in chapter.paragraphs:
            text.update(paragraph.text.encode("utf-8", "surrogatepass") + b"\0")
    record = {"sha256": prepared.source_sha256, "settings": prepared.settings.plain(),
              "chapters": [c.index for c in prepared.chapters], "text": text.hexdigest(), "plan": PLAN_VERSION}
    return _digest(record)


def plan_fingerprint(prepared: PreparedBook, segments: Sequence[Segment] | None = None) -> str:
    """The plan's identity: exactly what is synthesised, so checkpoints stay good whatever
    else changes (bitrate, format, loudness, title, author, layout).  That is the speech of
    the segments, chapter by chapter (the text after respellings, notes, tables and the
    chapters chosen), read with this voice, speed and language and the lexicon entries whose
    words occur in it.  It does not depend on how the speech is cut into segments (the
    number of workers), so ``segments`` may be any cut of this book; without them the book
    is cut now."""
    if segments is None:
        segments = plan_segments(list(prepared.chapters), lang=prepared.settings.lang)
    speech = hashlib.sha256()
    for segment in segments:
        for text, pause in segment.pieces:
            speech.update(json.dumps([segment.chapter, text, pause]).encode("utf-8") + b"\n")
    settings = prepared.settings
    spoken = " ".join(text for segment in segments for text, _ in segment.pieces)
    lexicon = [[entry.word, entry.ipa] for entry in words_in(settings.pronounce, spoken)]
    heard = settings.plain((Affects.AUDIO,)) | {"pronounce": lexicon}  # voice, speed, lang
    return _digest({"speech": speech.hexdigest(), "settings": heard, "plan": PLAN_VERSION})


def _digest(record: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- plan on disk

def load_or_plan(prepared: PreparedBook, job_dir: Path, workers: int,
                 segment_chars: int = SEGMENT_CHARS,
                 planned: tuple[Segment, ...] | None = None) -> list[Segment]:
    """The segment plan, reused from ``job_dir`` when it belongs to this same job, else
    ``planned`` (cut by the daemon's book reader), else cut now.

    Storing the plan keeps checkpoints valid when a resumed run has a
    different number of workers (which changes how the tail is cut).
    """
    plan_file = job_dir / "plan.json"
    segments = list(planned) if planned is not None else plan_segments(
        list(prepared.chapters), workers=workers, lang=prepared.settings.lang, target=segment_chars)
    fingerprint = plan_fingerprint(prepared, segments)
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
    payload = {"fingerprint": fingerprint, "segments": [
        {"index": s.index, "chapter": s.chapter, "pieces": s.pieces, "last": s.last_of_chapter}
        for s in segments]}
    atomic_write_bytes(plan_file, json.dumps(payload).encode("utf-8"))
    return segments


def checkpoint_path(job_dir: Path, index: int) -> Path:
    return job_dir / f"segment-{index:05d}.flac"


# --------------------------------------------------------------------------- one book

class BookRun:
    """One book's conversion: its plan, finished segments, and the MP3 being written.

    The scheduler asks it for tasks and hands back results; it appends
    checkpoints to the audiobook strictly in order as they become available.

    ``output`` is where the book goes: a ``Placement`` (daemon/audio/placement.py names its
    file, or its chapter files, in the book's format), or a file whose suffix becomes
    the format's, in a folder that is the book's own when ``own_folder``.
    """

    def __init__(self, prepared: PreparedBook, output: Path | Placement, job_dir: Path, workers: int,
                 on_progress: Callable[[Progress], None] | None = None, label: str = "",
                 segment_chars: int = SEGMENT_CHARS, own_folder: bool = False,
                 planned: tuple[Segment, ...] | None = None) -> None:
        self.prepared = prepared
        self.options = output_options(prepared.settings)
        self.placement = output if isinstance(output, Placement) else Placement.of_file(output, own_folder)
        self.output = self.placement.book_file(self.options)
        self.job_dir = job_dir
        self.label = label or prepared.source.name
        self.started = time.monotonic()
        try:
            self.segments = load_or_plan(prepared, job_dir, workers, segment_chars, planned)
        except OSError as error:
            raise OutputError(f"cannot keep the work in progress: "
                              f"{why_unwritable(job_dir.parent, error)}") from None
        self.done: dict[int, int] = {}  # segment index -> frames, for finished checkpoints
        for segment in self.segments:
            frames = checkpoint_frames(checkpoint_path(job_dir, segment.index))
            if frames is not None:
                self.done[segment.index] = frames
        self.resumed = len(self.done)
        if self.resumed:
            log.info("%s: resuming, %d of %d segments already done", self.label, self.resumed,
                     len(self.segments))
        self.pending = deque(s.index for s in self.segments if s.index not in self.done)
        self.strikes: dict[int, int] = {}  # segment index -> worker deaths while it was being read
        self.tracker = _Tracker(prepared, self.segments, self.done, on_progress)
        self.next_to_write = 0
        self.position = {c.index: n for n, c in enumerate(prepared.chapters)}  # chapter -> its place
        try:
            self.output.parent.mkdir(parents=True, exist_ok=True)
            self.audio = BookAudio(self.output, self.options, [c.title for c in prepared.chapters])
        except (OSError, RuntimeError) as error:
            raise self._output_error(error) from None
        self.flush()  # what a previous run finished goes in first

    def _output_error(self, error: BaseException) -> OutputError:
        return OutputError(f"cannot write the audiobook: {why_unwritable(self.output.parent, error)}")

    def task(self, index: int) -> SegmentTask:
        settings = self.prepared.settings
        pieces = self.segments[index].pieces
        return SegmentTask(pieces, settings.voice or "", settings.speed, settings.lang or "en-us",
                           words_in(settings.pronounce, " ".join(text for text, _ in pieces)))

    def completed(self, index: int, audio: SegmentAudio) -> None:
        """Keep a segment's audio as its checkpoint, then append what is next in line."""
        try:
            atomic_write_bytes(checkpoint_path(self.job_dir, index), audio.flac)
        except OSError as error:
            raise OutputError(f"cannot keep the finished part of the book: "
                              f"{why_unwritable(self.job_dir, error)}") from None
        self.done[index] = audio.frames
        self.tracker.synthesised(index, audio)
        self.flush()

    def flush(self) -> None:
        """Append every checkpoint that is next in line to the audiobook."""
        try:
            while self.next_to_write < len(self.segments) and self.next_to_write in self.done:
                segment = self.segments[self.next_to_write]
                frames = self.audio.add(checkpoint_path(self.job_dir, segment.index),
                                        self.position[segment.chapter], segment.last_of_chapter)
                self.tracker.written(self.next_to_write, frames)
                self.next_to_write += 1
        except (OSError, RuntimeError) as error:  # libsndfile's and FFmpeg's errors are RuntimeErrors
            raise self._output_error(error) from None

    @property
    def complete(self) -> bool:
        return self.next_to_write >= len(self.segments)

    def finish(self) -> ConversionResult:
        """Check the loudness, tag the audiobook, rename it into place, and drop the checkpoints."""
        chapters = self.tracker.chapter_results()
        marks = tuple(ChapterMark(c.title, c.start_seconds, c.start_seconds + c.duration_seconds)
                      for c in chapters)
        prepared = self.prepared
        tags = BookTags(prepared.title, prepared.author,
                        ISO639_2.get(prepared.settings.lang or "", ""), marks,
                        covers.fitted(prepared.book.cover, covers.BOOK, self.label),
                        narrator=narrator(prepared.settings.voice))
        try:
            outputs = self.audio.finish(tags)
        except (OSError, RuntimeError) as error:
            self.audio.abort()
            raise self._output_error(error) from None
        shutil.rmtree(self.job_dir, ignore_errors=True)
        report = self.audio.report
        if report is not None and self.options.loudness_lufs is not None:
            log.info("%s: loudness %.1f LUFS as read, %.1f LUFS written (gain %+.1f dB, %d pass%s)",
                     self.label, report.model_lufs, report.output_lufs, report.gain_db, report.passes,
                     "" if report.passes == 1 else "es")
        return ConversionResult(
            output=outputs[0], outputs=tuple(outputs), loudness=report,
            chapters=chapters, audio_seconds=self.audio.frames / SAMPLE_RATE,
            chars_total=prepared.chars_total, segments_resumed=self.resumed,
            segments_synthesised=len(self.segments) - self.resumed,
            seconds=time.monotonic() - self.started,
        )

    def abort(self, keep_checkpoints: bool = True) -> None:
        """Stop: the partial audiobook goes; checkpoints stay for a resume unless told otherwise."""
        self.audio.abort()
        if not keep_checkpoints:
            shutil.rmtree(self.job_dir, ignore_errors=True)


# --------------------------------------------------------------------------- the pipeline

class Conversion:
    """One book through the pipeline that ``kokoro-inbox convert`` and the daemon share:
    placed (daemon/audio/library.py), read by the scheduler into its ``run``, then published (a
    library folder gets its cover and metadata and is renamed into place) or, when it failed,
    its staging folder discarded.  The same book and settings give the same files either way.

    The daemon reads two books at once on one scheduler, so its runner holds a
    ``Conversion`` per book and calls ``finish`` when the scheduler says the run ended; the
    command line calls ``convert``, which does it all in the foreground.
    """

    def __init__(self, prepared: PreparedBook, placement: "Placement", job_dir: Path, shape: Shape,
                 on_progress: Callable[[Progress], None] | None = None, label: str = "",
                 planned: tuple[Segment, ...] | None = None, output: Path | None = None) -> None:
        self.prepared = prepared
        self.placement = placement
        audio = output or placement.audio(output_options(prepared.settings).suffix)
        try:
            self.run = BookRun(prepared, audio, job_dir, shape.parallelism, on_progress=on_progress,
                               label=label, segment_chars=shape.segment_chars,
                               own_folder=placement.staged, planned=planned)
        except InboxError:
            library.discard(placement)
            raise

    def finish(self, result: ConversionResult | None, error: InboxError | None) -> ConversionResult:
        """The run's end: its audio where the layout puts it.  Raises the run's error, or
        publishing's, once the staging folder is gone."""
        if result is None:
            library.discard(self.placement)
            raise error or OutputError("the conversion ended without an audiobook")
        try:
            result = library.publish(self.placement, self.prepared, result)
        except InboxError:
            library.discard(self.placement)
            raise
        return result


def place(root: Path, stem: str, prepared: PreparedBook, name: str) -> "Placement":
    """Where a book's audio goes under ``root`` (the outbox, or the command line's folder);
    ``name`` (the job's id, or its fingerprint) names a library book's staging folder, so a
    rerun or a resumed job finds it."""
    return library.place(root, stem, prepared, name)


def discard_leftovers(root: Path, name: str) -> None:
    """A job that ends without running again: any staging folder it had before a restart."""
    library.discard_leftovers(root, name)


Drive = Callable[[BookRun, "SegmentExecutor"], ConversionResult]  # a run to its end (scheduler.convert)


def convert(prepared: PreparedBook, placement: "Placement", job_dir: Path, executor: "SegmentExecutor",
            drive: Drive, on_progress: Callable[[Progress], None] | None = None,
            output: Path | None = None) -> ConversionResult:
    """One book in the foreground, placed, read and published; raises InboxError.  The
    executor is closed on the way out (``drive`` closes it once it has it)."""
    try:
        executor.start()  # first: a cluster's size decides how the book's tail is cut
        conversion = Conversion(prepared, placement, job_dir, executor.shape(), on_progress, output=output)
    except BaseException:
        executor.close()
        raise
    try:
        result = drive(conversion.run, executor)
    except InboxError as error:
        return conversion.finish(None, error)
    return conversion.finish(result, None)


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
        self.chapters_done: set[int] = set()
        self.current_chapter = segments[0].chapter if segments else 0

    def synthesised(self, index: int, result: SegmentAudio) -> None:
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
        if self.segments[index].last_of_chapter:
            self.chapters_done.add(chapter)

    def chapter_states(self) -> list[dict[str, object]]:
        """The status file's chapter list: times of the chapters written so far."""
        states = []
        for chapter in self.prepared.chapters:
            state: dict[str, object] = {"index": chapter.index, "title": chapter.title,
                                        "chars": chapter.chars, "status": "queued"}
            if chapter.index in self.chapter_start:
                start = self.chapter_start[chapter.index]
                state["start_seconds"] = round(start / SAMPLE_RATE, 3)
                state["status"] = "processing"
                if chapter.index in self.chapters_done:
                    end = self.chapter_end[chapter.index]
                    state["duration_seconds"] = round((end - start) / SAMPLE_RATE, 3)
                    state["status"] = "done"
            states.append(state)
        return states

    def rate(self) -> float:
        """Characters per second read in this run."""
        return self.chars_this_run / max(time.monotonic() - self.started, 1e-6)

    def _report(self) -> None:
        if self.on_progress is None:
            return
        rate = self.rate()
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


