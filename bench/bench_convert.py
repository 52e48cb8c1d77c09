"""Benchmark: the whole pipeline against bare kokoro-onnx, and the parent's memory.

    .venv/bin/python bench/bench_convert.py [--book BOOK] [--skip-bare]

1. ``kokoro-inbox convert`` on the benchmark book (EPUB in, tagged MP3 out),
   timed end to end, with peak memory of the parent and of the largest worker.
2. The same text (the book's paragraphs) synthesised by bare kokoro-onnx in
   each layout of processes x threads that fits the machine; the best counts.
3. The parent's peak memory for a short input and one 10x longer (and, with
   --huge, the 1.85M-character Poe), with the model-free tone engine so that
   only the pipeline around the model is measured.

Prints characters/s for both, their ratio (target >= 0.95), and the memory table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from daemon.book.epub import read_book  # noqa: E402
from daemon.converter import prepare  # noqa: E402
from daemon.settings import BookSettings  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
MODEL = ROOT / "models" / "kokoro-v1.0.int8.onnx"
VOICES = ROOT / "models" / "voices-v1.0.bin"

_bare = None


def _bare_init(threads: int) -> None:
    global _bare
    import onnxruntime
    from kokoro_onnx import Kokoro

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(MODEL), sess_options=options,
                                           providers=["CPUExecutionProvider"])
    _bare = Kokoro.from_session(session, str(VOICES))


def _bare_say(text: str) -> int:
    audio, _ = _bare.create(text, voice="af_heart", speed=1.0, lang="en-us")
    return len(audio)


def bare_kokoro(paragraphs: list[str], processes: int, threads: int) -> float:
    """Seconds for bare kokoro-onnx to read every paragraph, model loading included."""
    started = time.monotonic()
    with ProcessPoolExecutor(processes, mp_context=get_context("spawn"), initializer=_bare_init,
                             initargs=(threads,)) as pool:
        list(pool.map(_bare_say, paragraphs, chunksize=1))
    return time.monotonic() - started


def pipeline(book: Path, workers: int, engine: str = "kokoro") -> dict:
    with tempfile.TemporaryDirectory() as work:
        work_path = Path(work)
        config = work_path / "config.yaml"
        config.write_text(f"models:\n  dir: {ROOT / 'models'}\nworkers: {workers}\n"
                          f"threads_per_worker: 1\npaths:\n  processing: {work_path / 'processing'}\n")
        report = work_path / "report.json"
        env = {k: v for k, v in os.environ.items() if not k.startswith("KOKORO_INBOX_")}
        command = [str(ROOT / ".venv" / "bin" / "kokoro-inbox"), "convert", "--config", str(config),
                   "--quiet", "--report", str(report), "--engine", engine,
                   "-o", str(work_path / "out.mp3"), str(book)]
        started = time.monotonic()
        subprocess.run(command, check=True, env=env, stderr=subprocess.DEVNULL)
        wall = time.monotonic() - started
        result = json.loads(report.read_text())
        result["wall_seconds"] = wall
        return result


def longer_book(source: Path, times: int, dest: Path) -> Path:
    """An EPUB whose chapters are the source's, repeated ``times`` times."""
    sys.path.insert(0, str(ROOT / "tests"))
    from epubs import Chapter, EpubSpec, build_epub

    book = read_book(source)
    chapters = [Chapter(f"{c.title} ({n + 1})", [p.text for p in c.paragraphs if not p.heading])
                for n in range(times) for c in book.readable()]
    return build_epub(dest, EpubSpec(title="Longer", chapters=chapters))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--book", type=Path, default=CORPUS / "bench_jekyll-ch3-ch7.epub")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--skip-bare", action="store_true")
    parser.add_argument("--huge", action="store_true",
                        help="also Poe's 1.85M characters (34 h of audio; about half an hour)")
    args = parser.parse_args()

    prepared = prepare(args.book, BookSettings())
    paragraphs = [p.text for c in prepared.chapters for p in c.paragraphs]
    chars = sum(len(p) for p in paragraphs)
    print(f"book: {args.book.name}, {chars} characters in {len(paragraphs)} paragraphs; "
          f"{os.cpu_count()} CPUs")

    ours = pipeline(args.book, args.workers)
    ours_rate = ours["chars"] / ours["wall_seconds"]
    print(f"kokoro-inbox convert ({args.workers} workers x 1 thread): {ours['wall_seconds']:.1f} s, "
          f"{ours_rate:.1f} characters/s, {ours['audio_seconds']:.0f} s of audio; peak memory "
          f"parent {ours['parent_peak_mb']:.0f} MB, largest worker {ours['worker_peak_mb']:.0f} MB")

    if not args.skip_bare:
        cpus = os.cpu_count() or 1
        layouts = sorted({(cpus, 1), (1, cpus)})
        best = None
        for processes, threads in layouts:
            seconds = bare_kokoro(paragraphs, processes, threads)
            rate = chars / seconds
            print(f"bare kokoro-onnx {processes} processes x {threads} threads: {seconds:.1f} s, "
                  f"{rate:.1f} characters/s")
            best = max(best or 0.0, rate)
        print(f"RATIO pipeline / best bare kokoro-onnx = {ours_rate / best:.3f} (target >= 0.95)")

    print("parent peak memory with the tone engine (the pipeline without the model):")
    with tempfile.TemporaryDirectory() as work:
        inputs = [("short (1x)", args.book),
                  ("10x longer", longer_book(args.book, 10, Path(work) / "long.epub"))]
        if args.huge:
            inputs.append(("Poe, 1.85M characters", CORPUS / "se_poe_short-fiction.epub"))
        for label, book in inputs:
            report = pipeline(book, args.workers, engine="tone")
            print(f"  {label:24} {report['chars']:>9} characters: parent {report['parent_peak_mb']:.0f} MB, "
                  f"worker {report['worker_peak_mb']:.0f} MB, {report['audio_seconds'] / 3600:.1f} h of audio")


if __name__ == "__main__":
    main()
