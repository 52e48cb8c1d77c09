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
import json
import sys
import time
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from daemon.converter import prepare  # noqa: E402
from daemon.settings import BookSettings  # noqa: E402
from daemon.speech.spoken import chapter_pieces, has_speech, pieces, speakable  # noqa: E402
from tests.speech_recognition import transcribe, word_error_rate, words  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
MODELS = ROOT / "models"


Paragraph = list[tuple[str, float]]  # its pieces, each with the pause after it


def synthesise(job: tuple[str, list[Paragraph], str, bool]) -> tuple[str, list[list[str]], float, float]:
    """One side of the comparison, in its own process: (name, heard words, synthesis s, G2P s).

    Each paragraph is one recording, as a listener hears it (the pieces of the
    'after' side joined with the pipeline's pauses), so both sides give the
    recogniser the same stretches of speech.
    """
    name, paragraphs, lang, espeak_only = job
    import numpy as np
    import onnxruntime
    from kokoro_onnx import Kokoro

    from daemon.speech.g2p import Phonemizer

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(MODELS / "kokoro-v1.0.int8.onnx"), sess_options=options,
                                           providers=["CPUExecutionProvider"])
    kokoro = Kokoro.from_session(session, str(MODELS / "voices-v1.0.bin"))
    reader = Phonemizer(None if espeak_only else MODELS, kokoro.tokenizer.phonemize)
    heard: list[list[str]] = []
    synthesis = g2p_seconds = 0.0
    for paragraph in paragraphs:
        parts, rate = [], 24000
        for text, pause in paragraph:
            began = time.perf_counter()
            if name == "before":
                audio, rate = kokoro.create(text, voice="af_heart", lang=lang)
            else:
                said = reader(text, lang)
                g2p_seconds += time.perf_counter() - began
                audio, rate = kokoro.create(said, voice="af_heart", is_phonemes=True)
            synthesis += time.perf_counter() - began
            parts += [np.asarray(audio, dtype=np.float32), np.zeros(int(pause * rate), dtype=np.float32)]
        heard.append(transcribe(np.concatenate(parts), rate))
    return name, heard, synthesis, g2p_seconds


def normalisation_seconds(book: Path) -> tuple[float, int]:
    prepared = prepare(book, BookSettings())
    began = time.perf_counter()
    chars = sum(len(text) for c in prepared.chapters for text, _ in chapter_pieces(c, prepared.settings.lang))
    return time.perf_counter() - began, chars


def _window(paragraphs: list, skip: int, chars: int) -> list:
    """The paragraphs from ``skip`` characters in, up to ``chars`` characters (all when 0)."""
    chosen, seen = [], 0
    for paragraph in paragraphs:
        seen += len(paragraph.text)
        if seen > skip and (not chars or sum(len(p.text) for p in chosen) < chars):
            chosen.append(paragraph)
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--book", type=Path, default=CORPUS / "bench_jekyll-ch3-ch7.epub")
    parser.add_argument("--dump", type=Path, help="write what was heard, paragraph by paragraph, as JSON")
    parser.add_argument("--chars", type=int, default=0,
                        help="only the first paragraphs, about this many characters")
    parser.add_argument("--skip", type=int, default=0, help="start after this many characters of text")
    parser.add_argument("--espeak", action="store_true", help="'after' through espeak-ng instead of misaki")
    args = parser.parse_args()
    prepared = prepare(args.book, BookSettings())
    lang = prepared.settings.lang or "en-us"
    chosen = _window([p for c in prepared.chapters for p in c.paragraphs], args.skip, args.chars)
    printed = [[(p.text, 0.0)] for p in chosen]
    spoken = [pieces(text) for p in chosen
              if has_speech(text := speakable(p.text, heading=p.heading, lang=lang))]
    reference = words(" ".join(text for paragraph in spoken for text, _ in paragraph))
    with get_context("spawn").Pool(2) as pool:
        sides = [("before", printed, lang, False), ("after", spoken, lang, args.espeak)]
        results = {r[0]: r for r in pool.map(synthesise, sides)}
    print(f"{args.book.name}: {sum(len(p.text) for p in chosen):,} characters, "
          f"{len(reference)} words a narrator says, read as {lang}")
    if args.dump:
        args.dump.write_text(json.dumps({"reference": [words(" ".join(t for t, _ in p)) for p in spoken],
                                         **{n: results[n][1] for n in results}}, indent=1))
    for name in ("before", "after"):
        _, heard, synthesis, g2p_seconds = results[name]
        wer = word_error_rate(reference, [word for paragraph in heard for word in paragraph])
        share = 100 * g2p_seconds / synthesis
        detail = f", G2P {g2p_seconds:.1f} s ({share:.2f} % of it)" if name == "after" else ""
        print(f"  {name:6} word error rate {100 * wer:5.1f} %  (synthesis {synthesis:.0f} s{detail})")
    for book in (args.book, CORPUS / "se_austen_pride-and-prejudice.epub"):
        seconds, chars = normalisation_seconds(book)
        at_35 = chars / 35  # characters/s of the whole pipeline on this 2-core machine
        print(f"normalising {book.name}: {seconds:.2f} s for {chars:,} characters, "
              f"{100 * seconds / at_35:.3f} % of a {at_35 / 3600:.1f} h conversion")


if __name__ == "__main__":
    main()
