"""What the listener hears: speech recognition before and after the speech stages, and their cost.

    .venv/bin/python bench/bench_speech.py [--book BOOK]

In one run, on the same text:

- before: the book's paragraphs as printed, given to bare kokoro-onnx (espeak-ng
  phonemizes them, as the pipeline did before text normalisation and misaki);
- after: the pieces this pipeline speaks (``spoken.chapter_pieces``: numbers,
  abbreviations, symbols spelled out) through its grapheme-to-phoneme stage
  (``g2p.Phonemizer``: misaki for English).

Both are transcribed by pocketsphinx (a crude US-English recogniser, so the
figures are comparable with each other, not absolute) against the words a
narrator says, and the word error rates are printed.  It also times the
normalisation of the whole book and of Pride and Prejudice, and the G2P stage,
against the synthesis time, to show what they add to a conversion.
"""

from __future__ import annotations

import argparse
import sys
import time
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from daemon.converter import prepare  # noqa: E402
from daemon.settings import BookSettings  # noqa: E402
from daemon.spoken import chapter_pieces  # noqa: E402
from tests.speech_recognition import transcribe, word_error_rate, words  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
MODELS = ROOT / "models"


def synthesise(job: tuple[str, list[str], str]) -> tuple[str, list[str], float, float]:
    """One side of the comparison, in its own process: (name, heard words, synthesis s, G2P s)."""
    name, texts, lang = job
    import numpy as np
    import onnxruntime
    from kokoro_onnx import Kokoro

    from daemon.g2p import Phonemizer

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(MODELS / "kokoro-v1.0.int8.onnx"), sess_options=options,
                                           providers=["CPUExecutionProvider"])
    kokoro = Kokoro.from_session(session, str(MODELS / "voices-v1.0.bin"))
    reader = Phonemizer(MODELS, kokoro.tokenizer.phonemize)
    heard: list[str] = []
    synthesis = g2p_seconds = 0.0
    for text in texts:
        began = time.perf_counter()
        if name == "before":
            audio, rate = kokoro.create(text, voice="af_heart", lang=lang)
        else:
            said = reader(text, lang)
            g2p_seconds += time.perf_counter() - began
            audio, rate = kokoro.create(said, voice="af_heart", is_phonemes=True)
        synthesis += time.perf_counter() - began
        heard += transcribe(np.asarray(audio, dtype=np.float32), rate)
    return name, heard, synthesis, g2p_seconds


def normalisation_seconds(book: Path) -> tuple[float, int]:
    prepared = prepare(book, BookSettings())
    began = time.perf_counter()
    chars = sum(len(text) for c in prepared.chapters for text, _ in chapter_pieces(c, prepared.settings.lang))
    return time.perf_counter() - began, chars


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--book", type=Path, default=CORPUS / "bench_jekyll-ch3-ch7.epub")
    args = parser.parse_args()
    prepared = prepare(args.book, BookSettings())
    lang = prepared.settings.lang or "en-us"
    printed = [p.text for c in prepared.chapters for p in c.paragraphs]
    spoken = [text for c in prepared.chapters for text, _ in chapter_pieces(c, lang)]
    reference = words(" ".join(spoken))
    with get_context("spawn").Pool(2) as pool:
        results = {r[0]: r for r in pool.map(synthesise, [("before", printed, lang), ("after", spoken, lang)])}
    print(f"{args.book.name}: {len(reference)} words a narrator says")
    for name in ("before", "after"):
        _, heard, synthesis, g2p_seconds = results[name]
        wer = word_error_rate(reference, heard)
        detail = f", G2P {g2p_seconds:.1f} s ({100 * g2p_seconds / synthesis:.2f} % of it)" if name == "after" else ""
        print(f"  {name:6} word error rate {100 * wer:5.1f} %  (synthesis {synthesis:.0f} s{detail})")
    for book in (args.book, CORPUS / "se_austen_pride-and-prejudice.epub"):
        seconds, chars = normalisation_seconds(book)
        at_35 = chars / 35  # characters/s of the whole pipeline on this 2-core machine
        print(f"normalising {book.name}: {seconds:.2f} s for {chars:,} characters, "
              f"{100 * seconds / at_35:.3f} % of a {at_35 / 3600:.1f} h conversion")


if __name__ == "__main__":
    main()
