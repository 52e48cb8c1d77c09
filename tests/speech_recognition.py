"""Listening back: pocketsphinx transcripts and word error rates, for tests and benchmarks.

pocketsphinx's US-English model is crude, so its figures are only compared with each
other (our audio against bare kokoro-onnx on the same text), never taken as absolute.
"""

from __future__ import annotations

import re

import numpy as np


def transcribe(audio: np.ndarray, rate: int) -> list[str]:
    """The words pocketsphinx hears in ``audio`` (resampled to its 16 kHz)."""
    from pocketsphinx import Decoder

    target = int(len(audio) * 16000 / rate)
    resampled = np.interp(np.linspace(0, len(audio) - 1, target), np.arange(len(audio)), audio)
    decoder = Decoder(samprate=16000, loglevel="FATAL")
    decoder.start_utt()
    decoder.process_raw((np.clip(resampled, -1, 1) * 32767).astype("<i2").tobytes(), full_utt=True)
    decoder.end_utt()
    return decoder.hyp().hypstr.split() if decoder.hyp() else []


def words(text: str) -> list[str]:
    """Lower-case words, apostrophes kept, as the recogniser writes them."""
    return re.findall(r"[a-z]+(?:'[a-z]+)?", text.lower().replace("’", "'"))


def edit_distance(a: list[str], b: list[str]) -> int:
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def word_error_rate(reference: list[str], heard: list[str]) -> float:
    return edit_distance(reference, heard) / max(len(reference), 1)
