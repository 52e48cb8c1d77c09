"""The audiobook file: streaming MP3 encoding and ID3v2.4 tags with chapters.

libsndfile (through soundfile) drives LAME one block at a time, so memory stays
flat however long the book; pydub would hold the whole book in memory and need
ffmpeg.  mutagen writes the tags, including the ``CHAP``/``CTOC`` frames that
podcast and audiobook players use for chapter navigation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
from mutagen.id3 import (APIC, CHAP, CTOC, ID3, TALB, TCON, TIT2, TPE1, TLAN,
                         CTOCFlags)

from .engine import SAMPLE_RATE
from .files import commit

BLOCK = 1 << 16  # frames per read when copying a checkpoint into the MP3


@dataclass(frozen=True)
class ChapterMark:
    title: str
    start_seconds: float
    end_seconds: float


def bitrate_to_compression(kbps: int) -> float:
    """libsndfile maps compression level 0..1 linearly onto 160..8 kbps at 24 kHz."""
    return min(max((160 - kbps) / 152, 0.0), 1.0)


class Mp3Writer:
    """Appends PCM to an MP3 under a temporary name; ``finish`` renames it into place.

    The temporary name is hidden, short whatever the book's name, and the same
    for the same output, so a run that was killed leaves nothing that the next
    run does not overwrite.
    """

    def __init__(self, final_path: Path, bitrate: int) -> None:
        self.final_path = final_path
        digest = hashlib.sha256(final_path.name.encode("utf-8")).hexdigest()[:16]
        self.tmp_path = final_path.with_name(f".partial-{digest}.mp3")
        self.frames = 0
        self._file = soundfile.SoundFile(
            self.tmp_path, "w", samplerate=SAMPLE_RATE, channels=1, format="MP3",
            subtype="MPEG_LAYER_III", compression_level=bitrate_to_compression(bitrate),
            bitrate_mode="CONSTANT",
        )

    def append_samples(self, samples: np.ndarray) -> None:
        self._file.write(samples)
        self.frames += len(samples)

    def append_checkpoint(self, path: Path) -> int:
        """Stream a FLAC checkpoint into the MP3 block by block; return its frames."""
        count = 0
        with soundfile.SoundFile(path) as source:
            for block in source.blocks(blocksize=BLOCK, dtype="float32"):
                self.append_samples(block)
                count += len(block)
        return count

    def finish(self, tags: "BookTags") -> Path:
        self._file.close()
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


@dataclass(frozen=True)
class BookTags:
    title: str
    author: str
    language: str
    chapters: tuple[ChapterMark, ...]
    cover: tuple[bytes, str] | None = None


def write_tags(path: Path, tags: BookTags) -> None:
    id3 = ID3()
    id3.add(TIT2(encoding=3, text=tags.title))
    id3.add(TALB(encoding=3, text=tags.title))
    if tags.author:
        id3.add(TPE1(encoding=3, text=tags.author))
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
