"""Loudness before and after normalisation, on the bench book in two voices of different level.

Each voice reads the opening of the book (--chars, default 4000) once: the first
file keeps the model's level (loudness_lufs: null), the second is made from the
same checkpoints with the default target (-18 LUFS, -1.5 dBTP): an encoding pass,
no second synthesis.  Both are decoded back (PyAV) and measured with pyloudnorm;
true peak is the 4x-oversampled peak; "encoder" is what the daemon's own meter
read going into the encoder (after gain and limiter).  --memory also encodes an hour of tone into
an M4B and prints the peak RSS, against ten minutes.

    .venv/bin/python bench/bench_loudness.py [--chars 4000] [--voices am_michael am_adam] [--memory]
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyloudnorm
from scipy.signal import resample_poly

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from daemon.converter import BookRun, prepare  # noqa: E402
from daemon.synth.engine import SAMPLE_RATE, EngineSettings  # noqa: E402
from daemon.synth.executors import LocalPool  # noqa: E402
from daemon.service.scheduler import convert  # noqa: E402
from daemon.settings import BookSettings  # noqa: E402

BOOK = Path("/work/shared/corpus/bench_jekyll-ch3-ch7.epub")


def decoded(path: Path) -> np.ndarray:
    import av

    with av.open(str(path)) as container:
        return np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)]).astype(np.float64)


def figures(path: Path) -> tuple[float, float]:
    audio = decoded(path)
    true_peak = 20 * np.log10(np.abs(resample_poly(audio, 4, 1)).max())
    return pyloudnorm.Meter(SAMPLE_RATE).integrated_loudness(audio), true_peak


def opening(prepared, chars: int):
    """The book's first ``chars`` characters, whole paragraphs."""
    chapters, left = [], chars
    for chapter in prepared.chapters:
        paragraphs = []
        for paragraph in chapter.paragraphs:
            if left <= 0:
                break
            paragraphs.append(paragraph)
            left -= len(paragraph.text)
        if paragraphs:
            chapters.append(dataclasses.replace(chapter, paragraphs=tuple(paragraphs)))
    return dataclasses.replace(prepared, chapters=tuple(chapters))


class KeepingRun(BookRun):
    """A run that copies its checkpoints aside before finishing drops them."""

    keep: Path

    def finish(self):
        shutil.copytree(self.job_dir, self.keep)
        return super().finish()


def one_voice(voice: str, chars: int, work: Path, engine: EngineSettings, workers: int) -> list:
    """The opening read once; encoded at the model's level, then at -18 LUFS as M4B and MP3."""
    raw = opening(prepare(BOOK, BookSettings(voice=voice, loudness_lufs=None, format="m4b")), chars)
    run = KeepingRun(raw, work / voice / "raw.m4b", work / f"job-{voice}", workers)
    kept = run.keep = work / f"checkpoints-{voice}"  # the other encodings start from a copy
    before = convert(run, LocalPool(engine, workers))
    rows = [(voice, "model's level", before.audio_seconds, *figures(before.output), before.loudness.output_lufs, 1)]
    for fmt in ("m4b", "mp3"):
        job_dir = work / f"job-{voice}-{fmt}"
        shutil.copytree(kept, job_dir)
        settings = dataclasses.replace(raw.settings, loudness_lufs=-18.0, format=fmt)
        again = BookRun(dataclasses.replace(raw, settings=settings), work / voice / f"even.{fmt}", job_dir, workers)
        assert again.resumed == len(again.segments), "checkpoints reused, nothing synthesised"
        after = again.finish()
        rows.append((voice, f"-18 LUFS, {fmt}", after.audio_seconds, *figures(after.output),
                     after.loudness.output_lufs, after.loudness.passes))
    return rows


def memory(minutes: float) -> int:
    """Peak RSS (KiB) of a process that encodes ``minutes`` of tone checkpoints into one M4B."""
    code = f"""
import resource, sys, tempfile
from pathlib import Path
import numpy as np
sys.path.insert(0, {str(ROOT)!r})
from daemon.audio.book_audio import BookAudio, BookTags, ChapterMark
from daemon.synth.engine import SAMPLE_RATE, encode_flac
from daemon.settings import BookSettings, output_options
work = Path(tempfile.mkdtemp())
minute = (0.1 * np.sin(2 * np.pi * 220 * np.arange(60 * SAMPLE_RATE) / SAMPLE_RATE)).astype(np.float32)
path = work / "segment.flac"
path.write_bytes(encode_flac(minute))
audio = BookAudio(work / "book.m4b", output_options(BookSettings(format="m4b")), ["One", "Two"])
count = int({minutes})
for n in range(count):
    audio.add(path, 0 if n < count // 2 else 1, n in (count // 2 - 1, count - 1))
audio.finish(BookTags("Book", "", "", (ChapterMark("One", 0, count * 30), ChapterMark("Two", count * 30, count * 60))))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
    return int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chars", type=int, default=4000)
    parser.add_argument("--voices", nargs=2, default=["am_michael", "am_adam"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory", action="store_true")
    args = parser.parse_args()
    engine = EngineSettings(str(ROOT / "models" / "kokoro-v1.0.int8.onnx"), str(ROOT / "models" / "voices-v1.0.bin"))
    work = Path(tempfile.mkdtemp(prefix="bench-loudness-"))
    print(f"{BOOK.name}, first {args.chars} characters; measured on the decoded files")
    print(f"{'voice':<12} {'file':<16} {'seconds':>8} {'LUFS':>7} {'dBTP':>6} {'encoder':>7} {'passes':>6}")
    for voice in args.voices:
        for row in one_voice(voice, args.chars, work, engine, args.workers):
            print(f"{row[0]:<12} {row[1]:<16} {row[2]:>8.1f} {row[3]:>7.1f} {row[4]:>6.1f} {row[5]:>7.1f} {row[6]:>6}")
    if args.memory:
        for minutes in (10, 60):
            print(f"M4B of {minutes} minutes of tone: peak RSS {memory(minutes) / 1024:.0f} MiB")
    print(f"files in {work}; peak RSS of this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10} MiB")


if __name__ == "__main__":
    main()
