"""The output formats: one ``AudioFormat`` per format, and the registry every list of
suffixes or MIME types is derived from.

Adding a format is one entry in ``FORMATS`` plus its writer class in
daemon/audio/writers.py (named by ``writer``).  This module imports nothing heavy
(no numpy, no codecs), so the job record, the feed and the API ask it what a file is
without loading an encoder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import Callable

# The PCM every book is assembled from: Kokoro speaks 24 kHz mono, and every writer, meter
# and checkpoint works at that rate.
SAMPLE_RATE = 24_000


def bitrate_to_compression(kbps: int) -> float:
    """libsndfile maps compression level 0..1 linearly onto 160..8 kbps at 24 kHz."""
    return min(max((160 - kbps) / 152, 0.0), 1.0)


def aac_bitrate(kbps: int) -> int:
    """AAC-LC sounds as good as MP3 at three quarters of the bitrate: 64 -> 48 kbps."""
    return min(max(round(kbps * 3 / 4), 24), 128)


def _same_kbps(kbps: int) -> int:
    return kbps


@dataclass(frozen=True)
class AudioFormat:
    """What the daemon needs to know of one output format."""

    name: str  # as settings and status records write it: "mp3"
    suffix: str  # of the files it writes: ".mp3"
    mime_type: str  # served by the API and announced by the feed
    writer: str  # the class in daemon/audio/writers.py that encodes it
    # How far under the true-peak ceiling the limiter keeps the samples, for the peaks
    # between them and the codec's overshoot (bench/bench_loudness.py measures it).
    codec_margin_db: float
    # The encoder's kbps for the listener's ``bitrate`` setting (which is MP3's kbps).
    encoder_kbps: Callable[[int], int] = _same_kbps
    # The same container under the names other tools give it: a file renamed by hand is
    # still served as what it is.
    other_suffixes: tuple[str, ...] = ()


MP3 = AudioFormat("mp3", ".mp3", "audio/mpeg", "Mp3Writer",
                  codec_margin_db=1.0)  # LAME at 64 kbps adds well under a decibel
M4B = AudioFormat("m4b", ".m4b", "audio/mp4", "M4bWriter",
                  codec_margin_db=2.5,  # FFmpeg's AAC at 48 kbps: up to 1.6 dB on hard-limited speech
                  encoder_kbps=aac_bitrate, other_suffixes=(".m4a", ".mp4"))
FORMATS: dict[str, AudioFormat] = {f.name: f for f in (MP3, M4B)}
# Every suffix an audiobook of ours can have: a name taken by any of them is taken.
OUTPUT_SUFFIXES = tuple(f.suffix for f in FORMATS.values())
_BY_SUFFIX = {suffix: f for f in FORMATS.values() for suffix in (f.suffix, *f.other_suffixes)}


def format_of(name: str | PurePath) -> AudioFormat | None:
    """The format of a file by its name (None for a name no format of ours has)."""
    return _BY_SUFFIX.get(PurePath(name).suffix.lower())


def mime_type(name: str | PurePath) -> str:
    """The MIME type to serve a file as."""
    found = format_of(name)
    return found.mime_type if found else "application/octet-stream"


@dataclass(frozen=True)
class OutputOptions:
    """How one book is encoded: built from its settings (settings.output_options)."""

    format: str  # a name in FORMATS
    split: str  # book | chapter
    bitrate: int  # kbps of MP3; the format's encoder_kbps turns it into its own
    loudness_lufs: float | None  # None keeps the model's level
    true_peak_db: float

    @property
    def audio_format(self) -> AudioFormat:
        return FORMATS[self.format]

    @property
    def suffix(self) -> str:
        return self.audio_format.suffix

    @property
    def by_chapter(self) -> bool:
        """One file per chapter, not one for the book."""
        return self.split == "chapter"
