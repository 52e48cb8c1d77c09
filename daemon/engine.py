"""The voice model in a worker process, and the segment task it runs.

``synthesize_segment`` is a pure function of a picklable ``SegmentTask``: it
reads nothing but the model files and writes nothing but its checkpoint (a
FLAC file, written under a temporary name and renamed).  That is what lets the
parent run it in a ``ProcessPoolExecutor`` today and on any other
``concurrent.futures.Executor`` (a Dask cluster sharing the NAS) tomorrow.

The model is loaded once per process: by ``init_worker`` when the pool starts
it, or on first use where an executor has no initializer.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from .errors import SynthesisFailed
from .languages import VoiceMix, parse_voice

log = logging.getLogger(__name__)

SAMPLE_RATE = 24_000
FADE_SECONDS = 0.004  # a few milliseconds of fade keeps joins free of clicks


@dataclass(frozen=True)
class EngineSettings:
    model_path: str
    voices_path: str
    threads: int = 1
    provider: str = "CPUExecutionProvider"
    # "kokoro", or "tone": a stand-in that "reads" a character in 1/15 s of
    # tone, instantly, for benchmarks and tests of everything around the model.
    # "tone-slow" takes 0.3 s a piece; "tone-crash" kills its own process (SIGKILL)
    # on any piece containing "CRASH", like a worker that runs out of memory.
    kind: str = "kokoro"


@dataclass(frozen=True)
class SegmentTask:
    engine: EngineSettings
    pieces: tuple[tuple[str, float], ...]  # (text, seconds of silence after)
    voice: str
    speed: float
    lang: str
    checkpoint: str  # path of the FLAC file this task produces


@dataclass(frozen=True)
class SegmentResult:
    checkpoint: str
    frames: int
    chars: int
    seconds: float  # wall time spent synthesising


class _Engine:
    def __init__(self, settings: EngineSettings) -> None:
        import onnxruntime
        from kokoro_onnx import Kokoro

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = settings.threads
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(
            settings.model_path, sess_options=options, providers=[settings.provider]
        )
        self.settings = settings
        self.kokoro = Kokoro.from_session(session, settings.voices_path)
        self._styles: dict[str, np.ndarray] = {}

    def speak(self, text: str, voice: str, speed: float, lang: str) -> np.ndarray:
        audio, _ = self.kokoro.create(text, voice=self.style(voice), speed=speed, lang=lang)
        return np.asarray(audio, dtype=np.float32)

    def style(self, voice: str) -> np.ndarray:
        """The style matrix of a voice or a weighted blend of voices."""
        if voice not in self._styles:
            mix: VoiceMix = parse_voice(voice, frozenset(self.kokoro.voices.keys()))
            self._styles[voice] = sum(
                weight * self.kokoro.voices[name] for name, weight in mix.parts
            ).astype(np.float32)
        return self._styles[voice]


class _ToneEngine:
    """Speech-shaped audio without a model: the pipeline's test and benchmark double."""

    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings

    def speak(self, text: str, voice: str, speed: float, lang: str) -> np.ndarray:
        if self.settings.kind == "tone-crash" and "CRASH" in text:
            os.kill(os.getpid(), signal.SIGKILL)
        if self.settings.kind == "tone-slow":
            time.sleep(0.3)
        frames = int(len(text) / 15 / speed * SAMPLE_RATE)
        time_axis = np.arange(frames, dtype=np.float32) / SAMPLE_RATE
        return (0.2 * np.sin(2 * np.pi * 220 * time_axis)).astype(np.float32)


_engine: _Engine | _ToneEngine | None = None


def init_worker(settings: EngineSettings) -> None:
    """Pool initializer: load the model once, before the first task arrives."""
    global _engine
    _engine = _load(settings)


def _load(settings: EngineSettings) -> _Engine | _ToneEngine:
    return _ToneEngine(settings) if settings.kind.startswith("tone") else _Engine(settings)


def start_pool(settings: EngineSettings, workers: int) -> "ProcessPoolExecutor":
    """A process pool whose workers each load the model once, at start.

    Spawned, not forked: a forked child would inherit the parent's threads
    and locks (watchdog, the HTTP server) in whatever state they were in.
    """
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=init_worker, initargs=(settings,))


def _ping() -> int:
    return os.getpid()


def warm_up(executor: Executor, workers: int) -> None:
    """Start every worker and wait until each has loaded the model (its initializer ran)."""
    futures = [executor.submit(_ping) for _ in range(workers)]
    try:
        for future in futures:
            future.result()
    except BrokenProcessPool:
        raise SynthesisFailed("the worker processes could not load the voice model; "
                              "run 'kokoro-inbox models check'") from None


def _engine_for(settings: EngineSettings) -> _Engine | _ToneEngine:
    global _engine
    if _engine is None or _engine.settings != settings:
        _engine = _load(settings)
    return _engine


def synthesize_segment(task: SegmentTask) -> SegmentResult:
    """Speak every piece of a segment and write it to ``task.checkpoint``."""
    started = time.monotonic()
    engine = _engine_for(task.engine)
    parts: list[np.ndarray] = []
    for text, pause in task.pieces:
        try:
            audio = engine.speak(text, task.voice, task.speed, task.lang)
        except ValueError as error:
            if "no phonemes" in str(error) or "Nothing to synthesize" in str(error):
                audio = np.zeros(0, dtype=np.float32)  # nothing pronounceable: keep the pause
            else:
                raise SynthesisFailed(f"the voice model refused {text[:60]!r}: {error}") from None
        parts.append(_faded(audio))
        parts.append(np.zeros(int(round(pause * SAMPLE_RATE)), dtype=np.float32))
    samples = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
    write_checkpoint(Path(task.checkpoint), samples)
    return SegmentResult(
        checkpoint=task.checkpoint,
        frames=len(samples),
        chars=sum(len(text) for text, _ in task.pieces),
        seconds=time.monotonic() - started,
    )


def _faded(audio: np.ndarray) -> np.ndarray:
    fade = min(int(FADE_SECONDS * SAMPLE_RATE), len(audio) // 2)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
        audio = audio.copy()
        audio[:fade] *= ramp
        audio[-fade:] *= ramp[::-1]
    return audio


def write_checkpoint(path: Path, samples: np.ndarray) -> None:
    """FLAC (lossless, a third of raw PCM), written whole or not at all."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with soundfile.SoundFile(tmp, "w", samplerate=SAMPLE_RATE, channels=1,
                             format="FLAC", subtype="PCM_16") as out:
        out.write(np.clip(samples, -1.0, 1.0))
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def checkpoint_frames(path: Path) -> int | None:
    """Frames in a finished checkpoint, or None when it is absent or unreadable."""
    try:
        return soundfile.info(str(path)).frames
    except (RuntimeError, OSError, soundfile.LibsndfileError):
        return None
