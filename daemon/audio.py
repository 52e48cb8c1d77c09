"""The audiobook files: streaming MP3 or M4B encoding, even loudness, and tags with chapters.

MP3: libsndfile (through soundfile) drives LAME one block at a time, so memory
stays flat however long the book; pydub would hold the whole book in memory and
need ffmpeg.  M4B: PyAV (whose wheels carry FFmpeg's libraries, so no ``ffmpeg``
binary is needed) encodes AAC into an MP4 as the audio comes.  FFmpeg's MP4
muxer writes the chapters twice, as a QuickTime chapter text track (Apple's
players, Audiobookshelf, VLC) and as a Nero ``chpl`` atom (most other players),
and moves the index to the front (``faststart``) so a player can start at once.
mutagen writes the tags: ID3v2.4 with ``CHAP``/``CTOC`` frames for MP3, iTunes
atoms with the cover for M4B.

``BookAudio`` is one book's output: one file, or one file per chapter
(``NN - Title.mp3`` with track numbers).  It normalises loudness without
holding the book: the checkpoints are metered as they arrive (daemon/loudness.py),
encoding waits until the first ``HOLD_SECONDS`` are in (they wait on disk as
checkpoints), the gain comes from them, and at the end the whole book's
measured loudness decides whether one more encoding pass from the checkpoints
(never a synthesis pass) is needed.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator, Protocol

import numpy as np
import soundfile
from mutagen.id3 import (APIC, CHAP, CTOC, ID3, TALB, TCOM, TCON, TIT2, TLAN, TPE1, TRCK,
                         CTOCFlags)

from . import covers
from .engine import SAMPLE_RATE
from .files import commit, fit_name, without_hidden
from .loudness import LoudnessMeter, PeakLimiter, gain_db_for

log = logging.getLogger(__name__)

BLOCK = 1 << 16  # frames per read when copying a checkpoint into the audiobook
SUFFIXES = {"mp3": ".mp3", "m4b": ".m4b"}
HOLD_SECONDS = 60.0  # audio metered before the gain is chosen and encoding starts
TOLERANCE_LU = 0.5  # a finished book further than this from the target is encoded again
MAX_MAKEUP_DB = 3.0  # gain added for what the limiter takes off the peaks, at most
# How far under the true-peak ceiling the limiter keeps the samples, for the peaks
# between them and the codec's overshoot: LAME at 64 kbps adds well under a decibel,
# FFmpeg's AAC at 48 kbps up to 1.6 dB on hard-limited speech (bench/bench_loudness.py).
CODEC_MARGIN_DB = {"mp3": 1.0, "m4b": 2.5}


@dataclass(frozen=True)
class ChapterMark:
    title: str
    start_seconds: float
    end_seconds: float


@dataclass(frozen=True)
class BookTags:
    title: str
    author: str
    language: str
    chapters: tuple[ChapterMark, ...]
    cover: tuple[bytes, str] | None = None
    album: str = ""  # the book's title, when this file is one of its chapters
    narrator: str = ""
    track: tuple[int, int] | None = None  # (number, total) of a chapter file


@dataclass(frozen=True)
class OutputOptions:
    format: str = "mp3"  # mp3 | m4b
    split: str = "book"  # book | chapter
    bitrate: int = 64  # kbps of MP3; AAC gets aac_bitrate() of it
    loudness_lufs: float | None = -18.0  # None keeps the model's level
    true_peak_db: float = -1.5

    @property
    def suffix(self) -> str:
        return SUFFIXES[self.format]


def bitrate_to_compression(kbps: int) -> float:
    """libsndfile maps compression level 0..1 linearly onto 160..8 kbps at 24 kHz."""
    return min(max((160 - kbps) / 152, 0.0), 1.0)


def aac_bitrate(kbps: int) -> int:
    """AAC-LC sounds as good as MP3 at three quarters of the bitrate: 64 -> 48 kbps."""
    return min(max(round(kbps * 3 / 4), 24), 128)


def _partial_name(final_path: Path) -> Path:
    """Hidden, short whatever the book's name, and the same for the same output, so a run
    that was killed leaves nothing that the next run does not overwrite."""
    digest = hashlib.sha256(final_path.name.encode("utf-8")).hexdigest()[:16]
    return final_path.with_name(f".partial-{digest}{final_path.suffix}")


class AudioFile(Protocol):
    final_path: Path
    tmp_path: Path
    frames: int

    def append_samples(self, samples: np.ndarray) -> None: ...
    def close(self, marks: tuple[ChapterMark, ...] = ()) -> None: ...
    def finish(self, tags: BookTags) -> Path: ...
    def abort(self) -> None: ...


class Mp3Writer:
    """Appends PCM to an MP3 under a temporary name; ``finish`` tags it and renames it into place."""

    def __init__(self, final_path: Path, bitrate: int) -> None:
        self.final_path = final_path
        self.tmp_path = _partial_name(final_path)
        self.frames = 0
        self._file = soundfile.SoundFile(
            self.tmp_path, "w", samplerate=SAMPLE_RATE, channels=1, format="MP3",
            subtype="MPEG_LAYER_III", compression_level=bitrate_to_compression(bitrate),
            bitrate_mode="CONSTANT",
        )

    def append_samples(self, samples: np.ndarray) -> None:
        self._file.write(samples)
        self.frames += len(samples)

    def close(self, marks: tuple[ChapterMark, ...] = ()) -> None:
        """The audio is complete (the chapters go into the tags)."""
        self._file.close()

    def finish(self, tags: BookTags) -> Path:
        self.close()
        write_tags(self.tmp_path, tags)
        commit(self.tmp_path, self.final_path)
        return self.final_path

    def abort(self) -> None:
        """Drop the partial MP3, even when closing it fails (a full disk cannot flush)."""
        try:
            if not self._file.closed:
                self._file.close()
        except (OSError, RuntimeError):
            pass
        self.tmp_path.unlink(missing_ok=True)


class M4bWriter:
    """Appends PCM to an AAC M4B under a temporary name, through PyAV; ``finish`` sets
    the chapters, closes, tags and renames it into place.  FFmpeg's errors come out as
    RuntimeError, like libsndfile's."""

    def __init__(self, final_path: Path, bitrate: int) -> None:
        import av

        self._av = av
        self.final_path = final_path
        self.tmp_path = _partial_name(final_path)
        self.frames = 0
        self.closed = False
        with self._ffmpeg():
            self._container = av.open(str(self.tmp_path), "w", format="ipod",
                                      options={"movflags": "+faststart"})
            self._stream = self._container.add_stream("aac", rate=SAMPLE_RATE, layout="mono")
            self._stream.bit_rate = aac_bitrate(bitrate) * 1000

    def append_samples(self, samples: np.ndarray) -> None:
        if not len(samples):
            return
        frame = self._av.AudioFrame.from_ndarray(np.ascontiguousarray(samples, dtype=np.float32)[None, :],
                                                 format="flt", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = SAMPLE_RATE, self.frames, Fraction(1, SAMPLE_RATE)
        with self._ffmpeg():
            self._container.mux(self._stream.encode(frame))
        self.frames += len(samples)

    def close(self, marks: tuple[ChapterMark, ...] = ()) -> None:
        """Drain the encoder and write the index: the file is complete.

        FFmpeg builds the chapter text track when it writes the header, before the
        first packet, when no chapter's time is known yet; so a book with chapters
        is copied once more, packet by packet (no re-encoding), into a file whose
        header has them."""
        if self.closed:
            return
        with self._ffmpeg():
            self._container.mux(self._stream.encode(None))
            self._container.close()
            if marks:
                self._with_chapters(marks)
        self.closed = True

    def _with_chapters(self, marks: tuple[ChapterMark, ...]) -> None:
        av = self._av
        copy = self.tmp_path.with_name(self.tmp_path.name + ".chapters.m4b")
        try:
            with av.open(str(self.tmp_path)) as source, \
                    av.open(str(copy), "w", format="ipod", options={"movflags": "+faststart"}) as target:
                stream = target.add_stream_from_template(source.streams.audio[0])
                target.set_chapters(_av_chapters(marks))
                for packet in source.demux(source.streams.audio[0]):
                    if packet.dts is not None:
                        packet.stream = stream
                        target.mux(packet)
            copy.replace(self.tmp_path)
        finally:
            copy.unlink(missing_ok=True)

    def finish(self, tags: BookTags) -> Path:
        self.close(tags.chapters)
        write_mp4_tags(self.tmp_path, tags)
        commit(self.tmp_path, self.final_path)
        return self.final_path

    def abort(self) -> None:
        try:
            self._container.close()
        except (self._av.FFmpegError, OSError, RuntimeError, ValueError):
            pass
        self.tmp_path.unlink(missing_ok=True)

    def _ffmpeg(self) -> "_FFmpegErrors":
        return _FFmpegErrors(self._av.FFmpegError)


class _FFmpegErrors:
    """Turns FFmpeg's errors into RuntimeError (errno ones into OSError), as libsndfile's come."""

    def __init__(self, kind: type) -> None:
        self.kind = kind

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, error: BaseException | None, trace: object) -> bool:
        if error is not None and isinstance(error, self.kind):
            number = getattr(error, "errno", None)
            if number:
                raise OSError(number, getattr(error, "strerror", None) or str(error)) from error
            raise RuntimeError(str(error)) from error
        return False


def _av_chapters(marks: tuple[ChapterMark, ...] | list[ChapterMark]) -> list[dict]:
    millis = Fraction(1, 1000)
    return [{"id": n, "start": int(round(m.start_seconds * 1000)), "end": int(round(m.end_seconds * 1000)),
             "time_base": millis, "metadata": {"title": m.title}} for n, m in enumerate(marks, 1)]


def open_audio(final_path: Path, options: OutputOptions) -> AudioFile:
    if options.format == "m4b":
        return M4bWriter(final_path, options.bitrate)
    return Mp3Writer(final_path, options.bitrate)


def read_blocks(path: Path) -> Iterator[np.ndarray]:
    with soundfile.SoundFile(path) as source:
        yield from source.blocks(blocksize=BLOCK, dtype="float32")


# --------------------------------------------------------------------------- tags

def write_tags(path: Path, tags: BookTags) -> None:
    id3 = ID3()
    id3.add(TIT2(encoding=3, text=tags.title))
    id3.add(TALB(encoding=3, text=tags.album or tags.title))
    if tags.author:
        id3.add(TPE1(encoding=3, text=tags.author))
    if tags.narrator:
        id3.add(TCOM(encoding=3, text=tags.narrator))  # where audiobook players look for the narrator
    if tags.track:
        id3.add(TRCK(encoding=3, text=f"{tags.track[0]}/{tags.track[1]}"))
    id3.add(TCON(encoding=3, text="Audiobook"))
    if tags.language:
        id3.add(TLAN(encoding=3, text=tags.language))
    if tags.cover:
        data, mime = tags.cover
        id3.add(APIC(encoding=3, mime=mime, type=3, desc="Cover", data=data))
    ids = [f"chp{n}" for n in range(1, len(tags.chapters) + 1)]
    if ids:
        id3.add(CTOC(element_id="toc", flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED,
                     child_element_ids=ids, sub_frames=[TIT2(encoding=3, text=tags.title)]))
    for element_id, mark in zip(ids, tags.chapters):
        id3.add(CHAP(element_id=element_id,
                     start_time=int(round(mark.start_seconds * 1000)),
                     end_time=int(round(mark.end_seconds * 1000)),
                     sub_frames=[TIT2(encoding=3, text=mark.title)]))
    id3.save(path, v2_version=4)


def write_mp4_tags(path: Path, tags: BookTags) -> None:
    """iTunes atoms; the narrator as composer (©wrt, what Audiobookshelf and most players
    read) and as Apple's own narrator atom (©nrt)."""
    from mutagen.mp4 import MP4, MP4Cover

    mp4 = MP4(path)
    if mp4.tags is None:
        mp4.add_tags()
    values: dict[str, list] = {"\xa9nam": [tags.title], "\xa9alb": [tags.album or tags.title],
                               "\xa9gen": ["Audiobook"], "stik": [2]}  # 2: audiobook
    if tags.author:
        values["\xa9ART"] = values["aART"] = [tags.author]
    if tags.narrator:
        values["\xa9wrt"] = values["\xa9nrt"] = [tags.narrator]
    if tags.track:
        values["trkn"] = [tags.track]
    if tags.cover:
        data, mime = tags.cover
        kind = MP4Cover.FORMAT_PNG if mime == "image/png" else MP4Cover.FORMAT_JPEG
        values["covr"] = [MP4Cover(data, imageformat=kind)]
    mp4.tags.update(values)
    mp4.save()


# --------------------------------------------------------------------------- one book's output

@dataclass(frozen=True)
class Part:
    """One file of a book's output: the whole book, or one chapter of it."""

    path: Path
    number: int  # 1-based: the track number of a chapter file
    title: str = ""  # the chapter's title (a chapter file's own title)


@dataclass(frozen=True)
class LoudnessReport:
    model_lufs: float  # the book as synthesised
    output_lufs: float  # as encoded (after gain and limiter, before the codec)
    gain_db: float
    passes: int  # encoding passes: 2 when the opening stretch misjudged the book


UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')


def file_title(title: str) -> str:
    """A chapter title as part of a file name on any filesystem a NAS shares (SMB included);
    a colon becomes ' - ', as Audiobookshelf writes it ("Dune: Messiah" -> "Dune - Messiah")."""
    return " ".join(without_hidden(UNSAFE.sub(" ", title.replace(":", " - ", 1))).split()).strip(". ")


def plan_parts(output: Path, split: str, chapter_titles: list[str]) -> list[Part]:
    """The files a book becomes: ``output`` itself, or ``NN - Title.ext`` beside it per chapter."""
    if split != "chapter":
        return [Part(output, 1)]
    width = max(2, len(str(len(chapter_titles))))
    parts = []
    for number, title in enumerate(chapter_titles, 1):
        stem = f"{number:0{width}d} - {file_title(title) or f'Chapter {number}'}"
        parts.append(Part(output.with_name(fit_name(stem, output.suffix)), number, title))
    return parts


def limiter(options: OutputOptions) -> PeakLimiter:
    return PeakLimiter(options.true_peak_db, CODEC_MARGIN_DB[options.format])


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
        part = chapter if self.options.split == "chapter" else 0
        self.pieces.append((checkpoint, part))
        frames = 0
        if self.current is not None:
            self.current.enter(part)
        for block in read_blocks(checkpoint):
            self.meter.add(block)
            if self.current is not None:
                self.current.write(part, block)
            frames += len(block)
        if self.current is not None and last_of_chapter and self.options.split == "chapter":
            self.current.end_part()
        self.frames += frames
        if self.current is None and self.meter.seconds >= HOLD_SECONDS:
            self._encode_all(self._opening_gain())
        return frames

    def finish(self, tags: BookTags) -> list[Path]:
        """Close, check the loudness (encoding again when it is off), tag, rename into place."""
        marks = tags.chapters if self.options.split == "book" else ()
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
        if self.options.split != "chapter":
            return book
        return BookTags(part.title or book.title, book.author, book.language, (),
                        book.cover if part.number == 1 else thumbnail,
                        album=book.title, narrator=book.narrator, track=(part.number, len(self.parts)))
