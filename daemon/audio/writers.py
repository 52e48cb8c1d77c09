"""Streaming encoders: PCM in, one audiobook file out, under a hidden temporary name until
``finish`` tags it and renames it into place.

MP3: libsndfile (through soundfile) drives LAME one block at a time, so memory
stays flat however long the book; pydub would hold the whole book in memory and
need ffmpeg.  M4B: PyAV (whose wheels carry FFmpeg's libraries, so no ``ffmpeg``
binary is needed) encodes AAC into an MP4 as the audio comes.  FFmpeg's MP4
muxer writes the chapters twice, as a QuickTime chapter text track (Apple's
players, Audiobookshelf, VLC) and as a Nero ``chpl`` atom (most other players),
and moves the index to the front (``faststart``) so a player can start at once.

Each format's ``AudioFormat.writer`` (daemon/audio/formats.py) names its class here.
"""

from __future__ import annotations

import hashlib
import sys
from fractions import Fraction
from pathlib import Path
from typing import Iterator, Protocol

import numpy as np
import soundfile

from daemon.files import commit

from .formats import SAMPLE_RATE, OutputOptions, bitrate_to_compression
from .tags import BookTags, ChapterMark, write_mp4_tags, write_tags

BLOCK = 1 << 16  # frames per read when copying a checkpoint into the audiobook


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

    def __init__(self, final_path: Path, kbps: int) -> None:
        self.final_path = final_path
        self.tmp_path = _partial_name(final_path)
        self.frames = 0
        self._file = soundfile.SoundFile(
            self.tmp_path, "w", samplerate=SAMPLE_RATE, channels=1, format="MP3",
            subtype="MPEG_LAYER_III", compression_level=bitrate_to_compression(kbps),
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
    RuntimeError, like libsndfile's.  ``kbps`` is AAC's own (formats.aac_bitrate)."""

    def __init__(self, final_path: Path, kbps: int) -> None:
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
            self._stream.bit_rate = kbps * 1000

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
    """The format's writer (named by its ``AudioFormat``), at the format's own bitrate."""
    audio_format = options.audio_format
    writer = getattr(sys.modules[__name__], audio_format.writer)
    return writer(final_path, audio_format.encoder_kbps(options.bitrate))


def read_blocks(path: Path) -> Iterator[np.ndarray]:
    with soundfile.SoundFile(path) as source:
        yield from source.blocks(blocksize=BLOCK, dtype="float32")
