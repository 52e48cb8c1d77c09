"""One book's audio output, with even loudness: fed its checkpoints in order, it writes
one file, or one file per chapter (``NN - Title.mp3`` with track numbers).

It normalises loudness without holding the book: the checkpoints are metered as they
arrive (daemon/audio/loudness.py), encoding waits until the first ``HOLD_SECONDS`` are in
(they wait on disk as checkpoints), the gain comes from them, and at the end the whole
book's measured loudness decides whether one more encoding pass from the checkpoints
(never a synthesis pass) is needed.  The formats are daemon/audio/formats.py, their
encoders daemon/audio/writers.py, the tags daemon/audio/tags.py, and the files' names
daemon/audio/placement.py.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import covers
from .formats import FORMATS, OutputOptions
from .loudness import LoudnessMeter, PeakLimiter, gain_db_for
from .placement import Part, plan_parts
from .tags import BookTags, ChapterMark
from .writers import AudioFile, open_audio, read_blocks

log = logging.getLogger(__name__)

SUFFIXES = {name: audio_format.suffix for name, audio_format in FORMATS.items()}  # by format name
HOLD_SECONDS = 60.0  # audio metered before the gain is chosen and encoding starts
TOLERANCE_LU = 0.5  # a finished book further than this from the target is encoded again
MAX_MAKEUP_DB = 3.0  # gain added for what the limiter takes off the peaks, at most


@dataclass(frozen=True)
class LoudnessReport:
    model_lufs: float  # the book as synthesised
    output_lufs: float  # as encoded (after gain and limiter, before the codec)
    gain_db: float
    passes: int  # encoding passes: 2 when the opening stretch misjudged the book


def limiter(options: OutputOptions) -> PeakLimiter:
    return PeakLimiter(options.true_peak_db, options.audio_format.codec_margin_db)


class _Pass:
    """One encoding pass: a fixed gain, the limiter, and the files being written."""

    def __init__(self, parts: list[Part], options: OutputOptions, gain_db: float) -> None:
        self.parts, self.options, self.gain_db = parts, options, gain_db
        self.gain = np.float32(10 ** (gain_db / 20))
        self.limiter = limiter(options) if options.loudness_lufs is not None else None
        self.meter = LoudnessMeter()  # what comes out, after gain and limiter
        self.open: AudioFile | None = None
        self.closed: dict[int, AudioFile] = {}  # part -> its complete file
        self.part = -1

    def enter(self, part: int) -> None:
        """The next audio belongs to ``part``: the file before it is complete."""
        if part != self.part:
            self.end_part()
            self.part = part
            self.open = open_audio(self.parts[part].path, self.options)

    def write(self, part: int, samples: np.ndarray) -> None:
        self.enter(part)
        if self.gain_db:
            samples = samples * self.gain
        self._emit(self.limiter.process(samples) if self.limiter else samples)

    def end_part(self, marks: tuple[ChapterMark, ...] = ()) -> None:
        """The current file has all its audio: what the limiter holds back goes in, and
        it is closed (an encoder and an open file per chapter would add up)."""
        if self.open is None:
            return
        if self.limiter:
            self._emit(self.limiter.flush())
        self.open.close(marks)
        self.closed[self.part] = self.open
        self.open = None

    def _emit(self, samples: np.ndarray) -> None:
        assert self.open is not None
        self.meter.add(samples)
        self.open.append_samples(samples)

    def abort(self) -> None:
        for audio in [*self.closed.values(), *([self.open] if self.open else [])]:
            audio.abort()
        self.closed, self.open = {}, None


class BookAudio:
    """Everything written for one book, fed its checkpoints in order.

    Encoding starts once ``HOLD_SECONDS`` of audio are metered (the checkpoints
    before that wait on disk), with the gain that takes them to the target plus
    the make-up for what the limiter will take off their peaks (found by running
    the limiter over them, without encoding).  At ``finish`` a book that came out
    more than ``TOLERANCE_LU`` off is encoded once more from its checkpoints: with
    the gain the whole book's loudness asks for when the opening misjudged it
    (gating is relative, so a gain shifts integrated loudness exactly), or with
    more make-up when the limiter took more than the opening showed.
    """

    def __init__(self, output: Path, options: OutputOptions, chapter_titles: list[str]) -> None:
        self.options = options
        self.parts = plan_parts(output, options.split, chapter_titles)
        self.meter = LoudnessMeter()  # the model's own level
        self.pieces: list[tuple[Path, int]] = []  # (checkpoint, part), in book order
        self.frames = 0
        self.passes = 0
        self.makeup_db = 0.0  # gain beyond the exact one, for the peaks the limiter takes off
        self.report: LoudnessReport | None = None
        self.current: _Pass | None = None
        if options.loudness_lufs is None:
            self.current = self._new_pass(0.0)

    def add(self, checkpoint: Path, chapter: int, last_of_chapter: bool) -> int:
        """Meter a checkpoint (``chapter``: its position among the chapters read) and encode
        it, or keep it waiting until the gain is known; return its frames."""
        part = chapter if self.options.by_chapter else 0
        self.pieces.append((checkpoint, part))
        frames = 0
        if self.current is not None:
            self.current.enter(part)
        for block in read_blocks(checkpoint):
            self.meter.add(block)
            if self.current is not None:
                self.current.write(part, block)
            frames += len(block)
        if self.current is not None and last_of_chapter and self.options.by_chapter:
            self.current.end_part()
        self.frames += frames
        if self.current is None and self.meter.seconds >= HOLD_SECONDS:
            self._encode_all(self._opening_gain())
        return frames

    def finish(self, tags: BookTags) -> list[Path]:
        """Close, check the loudness (encoding again when it is off), tag, rename into place."""
        marks = tags.chapters if not self.options.by_chapter else ()
        self.close(marks)
        assert self.current is not None
        measured = self.current.meter.integrated()
        second = self._second_gain(measured)
        if second is not None:
            log.info("%s: came out at %.1f LUFS, not %.1f; encoding again from the checkpoints",
                     self.parts[0].path.name, measured, self.options.loudness_lufs)
            self._encode_all(second)
            self.current.end_part(marks)
            measured = self.current.meter.integrated()
        self.report = LoudnessReport(self.meter.integrated(), measured, self.current.gain_db, self.passes)
        thumbnail = covers.fitted(tags.cover, covers.THUMBNAIL) if len(self.parts) > 1 else None
        return [self.current.closed[n].finish(self._tags(tags, part, thumbnail))
                for n, part in enumerate(self.parts) if n in self.current.closed]

    def close(self, marks: tuple[ChapterMark, ...] = ()) -> None:
        """Encode what still waits for the gain (a book shorter than the opening stretch) and
        close the last file: every sample is written, nothing is checked, tagged or renamed."""
        if self.current is None:
            self._encode_all(self._opening_gain())
        assert self.current is not None
        self.current.end_part(marks)

    def abort(self) -> None:
        if self.current is not None:
            self.current.abort()

    def _exact_gain(self) -> float:
        """dB from the model's level (as metered so far) to the target."""
        assert self.options.loudness_lufs is not None
        return gain_db_for(self.meter.integrated(), self.options.loudness_lufs)

    def _opening_gain(self) -> float:
        """The exact gain plus the make-up; more gain means more limiting, so twice over."""
        exact = self._exact_gain()
        for _ in range(2):
            self.makeup_db = min(max(self._limiter_loss(exact + self.makeup_db), 0.0), MAX_MAKEUP_DB)
        return exact + self.makeup_db

    def _limiter_loss(self, gain_db: float) -> float:
        """LU the limiter takes off the audio so far at ``gain_db`` (a dry run: nothing encoded)."""
        peaks, meter = limiter(self.options), LoudnessMeter()
        scale = np.float32(10 ** (gain_db / 20))
        for checkpoint, _ in self.pieces:
            for block in read_blocks(checkpoint):
                meter.add(peaks.process(block * scale))
        meter.add(peaks.flush())
        limited = meter.integrated()
        return self.meter.integrated() + gain_db - limited if math.isfinite(limited) else 0.0

    def _second_gain(self, measured: float) -> float | None:
        """The gain of one more encoding pass, or None when this one is close enough (or
        another would not come closer)."""
        target = self.options.loudness_lufs
        assert self.current is not None
        if target is None or not math.isfinite(measured) or abs(measured - target) <= TOLERANCE_LU:
            return None
        exact = self._exact_gain()
        if abs(exact + self.makeup_db - self.current.gain_db) > TOLERANCE_LU / 2:
            return exact + self.makeup_db  # the opening was not like the rest of the book
        makeup = min(max(self.makeup_db + target - measured, 0.0), MAX_MAKEUP_DB)
        if abs(makeup - self.makeup_db) < 0.1:
            return None  # the make-up is at its limit: the book's peaks are that high
        self.makeup_db = makeup
        return exact + makeup

    def _new_pass(self, gain_db: float) -> _Pass:
        self.passes += 1
        return _Pass(self.parts, self.options, gain_db)

    def _encode_all(self, gain_db: float) -> None:
        """A new pass over every checkpoint so far, replacing the current one (if any)."""
        self.abort()
        self.current = self._new_pass(gain_db)
        for checkpoint, part in self.pieces:
            self.current.enter(part)
            for block in read_blocks(checkpoint):
                self.current.write(part, block)

    def _tags(self, book: BookTags, part: Part, thumbnail: covers.Cover | None) -> BookTags:
        """A chapter file's own tags; the first carries the book's cover, the others a thumbnail
        of it (covers.py: 300 full covers would outweigh short chapters' audio)."""
        if not self.options.by_chapter:
            return book
        return BookTags(part.title or book.title, book.author, book.language, (),
                        book.cover if part.number == 1 else thumbnail,
                        album=book.title, narrator=book.narrator, track=(part.number, len(self.parts)))
