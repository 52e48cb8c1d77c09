"""Model-free engines that stand in for Kokoro in tests and benchmarks.

They exercise everything around the model (the pool, the scheduler, the MP3,
faults) at a fraction of its cost: a character "reads" as 1/15 s of tone.
``tone-slow`` takes 0.3 s a piece; ``tone-crash`` kills its own process
(SIGKILL) on any piece containing "CRASH", like a worker the kernel's
out-of-memory killer picks.  Chosen with the hidden ``--engine`` flag.

Nothing on the way of a real conversion imports this module: ``engine`` only
names the kinds, and the settings made here carry ``ToneEngine`` itself, so a
worker process loads it by unpickling them.  Only a stand-in kind (the flag, or
a test) brings it in.
"""

from __future__ import annotations

import os
import signal
import time

import numpy as np

from .engine import SAMPLE_RATE, EngineKind, EngineSettings


def stand_in_settings(kind: EngineKind, level: float = 0.2) -> EngineSettings:
    """Settings for a stand-in engine: no model files, ``level`` the tone's amplitude."""
    if kind is EngineKind.KOKORO:
        raise ValueError("the Kokoro engine is no stand-in: it needs the model files")
    return EngineSettings("none", "none", kind=kind, level=level, stand_in=ToneEngine)


class ToneEngine:
    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings

    def speak(self, text: str, voice: str, speed: float, lang: str, lexicon: tuple = ()) -> np.ndarray:
        if self.settings.kind is EngineKind.TONE_CRASH and "CRASH" in text:
            os.kill(os.getpid(), signal.SIGKILL)
        if self.settings.kind is EngineKind.TONE_SLOW:
            time.sleep(0.3)
        frames = int(len(text) / 15 / speed * SAMPLE_RATE)
        time_axis = np.arange(frames, dtype=np.float32) / SAMPLE_RATE
        return (self.settings.level * np.sin(2 * np.pi * 220 * time_axis)).astype(np.float32)
