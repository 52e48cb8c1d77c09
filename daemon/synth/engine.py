"""The voice model in a worker process, and the segment task it runs.

``synthesize_segment`` is a pure function of a picklable ``SegmentTask``: it reads
nothing but the model files already loaded in its process and returns the
segment's audio as FLAC bytes (lossless, about a third of raw PCM).  It writes
nothing: the parent keeps the checkpoint.  So a worker needs no path of the
daemon's, which is what lets any executor (the local pool, a Dask cluster on
other machines) run it.

The model is loaded once per process, by ``load_engine`` when a worker starts.
The model-free stand-ins that tests and benchmarks read with live in
``synth.stand_ins``, which this module never imports: their settings carry their
class (``EngineSettings.stand_in``), so only the hidden ``--engine`` flag loads them.
"""

from __future__ import annotations

import enum
import io
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

import numpy as np
import soundfile

from daemon.audio.formats import SAMPLE_RATE
from daemon.errors import ConfigError, SynthesisFailed
from daemon.speech.g2p import Phonemizer
from daemon.speech.languages import VoiceMix, parse_voice
from daemon.speech.pronounce import Lexicon, phonemes

log = logging.getLogger(__name__)

FADE_SECONDS = 0.004  # a few milliseconds of fade keeps joins free of clicks
CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
PROVIDER_NAMES = {"cpu": CPU, "cuda": CUDA}


class EngineKind(str, enum.Enum):
    """The Kokoro model, or a model-free stand-in (``synth.stand_ins``) for tests and benchmarks.

    Only the names live here (the hidden ``--engine`` flag's choices, a Dask worker's identity).
    """

    KOKORO = "kokoro"
    TONE = "tone"
    TONE_SLOW = "tone-slow"
    TONE_CRASH = "tone-crash"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class EngineSettings:
    model_path: str
    voices_path: str
    threads: int = 1
    provider: str = CPU
    kind: EngineKind = EngineKind.KOKORO
    level: float = 0.2  # the tone engines' amplitude: books of different loudness in tests
    # The class a stand-in kind reads with (``stand_ins.stand_in_settings`` sets it), so
    # that this module never imports the stand-ins; pickled by name into the worker processes.
    stand_in: Callable[["EngineSettings"], "Engine"] | None = None

    def __post_init__(self) -> None:
        if (self.kind is EngineKind.KOKORO) != (self.stand_in is None):
            raise ValueError(f"the {self.kind} engine needs settings from "
                             "stand_ins.stand_in_settings, the Kokoro engine no stand-in class")


class Engine(Protocol):
    """What reads a piece of text aloud in a worker: the Kokoro model or a stand-in."""

    def speak(self, text: str, voice: str, speed: float, lang: str, lexicon: Lexicon = ()) -> np.ndarray: ...


@dataclass(frozen=True)
class SegmentTask:
    pieces: tuple[tuple[str, float], ...]  # (text, seconds of silence after)
    voice: str
    speed: float
    lang: str
    lexicon: Lexicon = ()  # the listener's IPA for words in these pieces


@dataclass(frozen=True)
class SegmentAudio:
    flac: bytes  # the segment's audio, mono, SAMPLE_RATE
    frames: int
    chars: int
    seconds: float  # wall time spent synthesising


class KokoroEngine:
    def __init__(self, settings: EngineSettings) -> None:
        import onnxruntime
        from kokoro_onnx import Kokoro

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = settings.threads
        options.inter_op_num_threads = 1
        providers = [settings.provider]
        if settings.provider == CUDA:
            _load_cuda_libraries(onnxruntime)
            providers.append(CPU)  # the few operators CUDA lacks run on the CPU, not fail
        session = onnxruntime.InferenceSession(settings.model_path, sess_options=options, providers=providers)
        if session.get_providers()[0] != settings.provider:  # ONNX Runtime falls back without a word
            log.warning("%s could not be used (see ONNX Runtime's messages above); reading on %s",
                        settings.provider, session.get_providers()[0])
        self.settings = settings
        self.kokoro = Kokoro.from_session(session, settings.voices_path)
        self.phonemizer = Phonemizer(Path(settings.model_path).parent, self.kokoro.tokenizer.phonemize)
        self._styles: dict[str, np.ndarray] = {}

    def speak(self, text: str, voice: str, speed: float, lang: str, lexicon: Lexicon = ()) -> np.ndarray:
        said = phonemes(text, lang, lexicon, self.phonemizer)
        audio, _ = self.kokoro.create(said, voice=self.style(voice), speed=speed, is_phonemes=True)
        return np.asarray(audio, dtype=np.float32)

    def style(self, voice: str) -> np.ndarray:
        """The style matrix of a voice or a weighted blend of voices."""
        if voice not in self._styles:
            mix: VoiceMix = parse_voice(voice, frozenset(self.kokoro.voices.keys()))
            self._styles[voice] = sum(
                weight * self.kokoro.voices[name] for name, weight in mix.parts
            ).astype(np.float32)
        return self._styles[voice]


def resolve_provider(setting: str) -> str:
    """The ONNX Runtime execution provider for ``models.provider`` (auto, cpu, cuda, or a
    provider's own name, as older configs have it).

    ``auto`` takes CUDA only when onnxruntime-gpu offers it *and* an NVIDIA device is
    present: the GPU build lists CUDA even on a machine without one.
    """
    if setting not in ("auto", "cuda"):
        return PROVIDER_NAMES.get(setting, setting)
    if setting == "auto" and not gpu_present():
        return CPU  # without importing onnxruntime into a parent that never reads
    import onnxruntime

    built_for_cuda = CUDA in onnxruntime.get_available_providers()
    if setting == "cuda" and not built_for_cuda:
        raise ConfigError("models.provider is cuda, but this onnxruntime has no CUDA support: "
                          "pip uninstall onnxruntime, then pip install '.[gpu]' (onnxruntime-gpu)")
    if setting == "cuda" and not gpu_present():
        raise ConfigError("models.provider is cuda, but no NVIDIA GPU is visible (/dev/nvidia0)")
    return CUDA if built_for_cuda and gpu_present() else CPU


def gpu_present() -> bool:
    return any(os.path.exists(f"/dev/nvidia{n}") for n in range(16))


def _load_cuda_libraries(onnxruntime: object) -> None:
    """onnxruntime-gpu >= 1.21 finds CUDA and cuDNN in the nvidia-* wheels only when asked."""
    preload = getattr(onnxruntime, "preload_dlls", None)
    if preload is not None:
        try:
            preload()
        except Exception as error:  # the system's own CUDA libraries may still do
            log.debug("onnxruntime.preload_dlls: %s", error)


def quiet_phonemizer() -> None:
    """phonemizer warns about word counts on most lines it joins: harmless, and noise in a log.

    It resets its logger's level and handlers on every call, so a filter (which it
    leaves alone) does the silencing.
    """
    logger = logging.getLogger("phonemizer")
    if not any(isinstance(f, _BelowErrors) for f in logger.filters):
        logger.addFilter(_BelowErrors())


class _BelowErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR


def load_engine(settings: EngineSettings) -> Engine:
    """The engine a worker process keeps for its life (the model loads here, once)."""
    quiet_phonemizer()
    if settings.stand_in is not None:
        return settings.stand_in(settings)
    return KokoroEngine(settings)


def synthesize_segment(engine: Engine, task: SegmentTask) -> SegmentAudio:
    """Speak every piece of a segment, with its pauses, and return the audio as FLAC."""
    started = time.monotonic()
    parts: list[np.ndarray] = []
    for text, pause in task.pieces:
        try:
            audio = engine.speak(text, task.voice, task.speed, task.lang, task.lexicon)
        except ValueError as error:
            if "no phonemes" in str(error) or "Nothing to synthesize" in str(error):
                audio = np.zeros(0, dtype=np.float32)  # nothing pronounceable: keep the pause
            else:
                raise SynthesisFailed(f"the voice model refused {text[:60]!r}: {error}") from None
        parts.append(_faded(audio))
        parts.append(np.zeros(int(round(pause * SAMPLE_RATE)), dtype=np.float32))
    samples = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
    return SegmentAudio(flac=encode_flac(samples), frames=len(samples),
                        chars=sum(len(text) for text, _ in task.pieces),
                        seconds=time.monotonic() - started)


def _faded(audio: np.ndarray) -> np.ndarray:
    fade = min(int(FADE_SECONDS * SAMPLE_RATE), len(audio) // 2)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
        audio = audio.copy()
        audio[:fade] *= ramp
        audio[-fade:] *= ramp[::-1]
    return audio


def encode_flac(samples: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    with soundfile.SoundFile(buffer, "w", samplerate=SAMPLE_RATE, channels=1,
                             format="FLAC", subtype="PCM_16") as out:
        out.write(np.clip(samples, -1.0, 1.0))
    return buffer.getvalue()


def checkpoint_frames(path: Path) -> int | None:
    """Frames in a finished checkpoint, or None when it is absent or unreadable."""
    try:
        return soundfile.info(str(path)).frames
    except (RuntimeError, OSError, soundfile.LibsndfileError):
        return None
