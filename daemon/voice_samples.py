"""A few seconds of each voice, to choose one by ear: made once, on first request, and kept.

The API may run inside the daemon or on its own (``kokoro-inbox api``), and its threads
must not carry a 300 MB model, so a sample is made by a short-lived process of its own
(``python -m daemon.voice_samples``) with the real model, one at a time, and written
atomically into ``<processing>/voice-samples/``.  The request that asked waits a few
seconds for it; a slower one gets 202 with Retry-After and finds it ready next time.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

from .errors import InboxError, ModelMissing
from .files import atomic_output

log = logging.getLogger(__name__)

SAMPLES_VERSION = 1  # in the folder's name: a new text or format makes new samples
MAKE_TIMEOUT = 120.0  # seconds for one sample process: loading the model is most of it
PACKAGE_ROOT = Path(__file__).resolve().parents[1]

# One sentence per language, about three seconds; "{name}" is the voice's own name.
TEXTS = {
    "en-us": "Hello, I'm {name}. This is how I would read your book.",
    "en-gb": "Hello, I'm {name}. This is how I would read your book.",
    "es": "Hola, soy {name}. Así leería tu libro.",
    "fr-fr": "Bonjour, je suis {name}. Voici comment je lirais votre livre.",
    "hi": "नमस्ते। मैं आपकी किताब इस आवाज़ में पढ़ूँगी।",
    "it": "Ciao, sono {name}. Ecco come leggerei il tuo libro.",
    "ja": "こんにちは。このような声で、あなたの本を読みます。",
    "pt-br": "Olá, eu sou {name}. É assim que eu leria o seu livro.",
    "cmn": "你好。我会用这样的声音为你朗读。",
}


def sample_text(voice: str) -> tuple[str, str]:
    """The sentence a voice says, and its language."""
    from .languages import describe_voice

    about = describe_voice(voice)
    return TEXTS[about["lang"]].format(name=about["name"]), about["lang"]


class SampleUnavailable(InboxError):
    code = "sample_unavailable"


class VoiceSamples:
    """Samples on disk, and the one process at a time that makes a missing one."""

    def __init__(self, folder: Path, models_dir: Path, variant: str) -> None:
        self.folder = folder / f"v{SAMPLES_VERSION}"
        self.models_dir, self.variant = models_dir, variant
        self._lock = threading.Lock()
        self._making: dict[str, threading.Event] = {}
        self._failed: dict[str, str] = {}
        self._one_at_a_time = threading.Semaphore(1)  # each process holds a whole model in memory

    def path(self, voice: str) -> Path:
        return self.folder / f"{voice}.wav"

    def get(self, voice: str, wait: float) -> Path | None:
        """The sample's file; None while it is still being made after ``wait`` seconds.
        Raises SampleUnavailable when making it failed (the next request tries again)."""
        target = self.path(voice)
        if target.is_file():
            return target
        with self._lock:
            if voice in self._failed:
                raise SampleUnavailable(self._failed.pop(voice))
            done = self._making.get(voice)
            if done is None:
                done = self._making[voice] = threading.Event()
                threading.Thread(target=self._make, args=(voice, done), name=f"sample-{voice}",
                                 daemon=True).start()
        done.wait(wait)
        with self._lock:
            if voice in self._failed and not target.is_file():
                raise SampleUnavailable(self._failed.pop(voice))
        return target if target.is_file() else None

    def _make(self, voice: str, done: threading.Event) -> None:
        try:
            with self._one_at_a_time:
                if not self.path(voice).is_file():
                    self._run(voice)
        except Exception as error:  # any failure is the sample's, never the API's
            message = error.message if isinstance(error, InboxError) else f"cannot make the sample: {error}"
            log.warning("voice sample %s: %s", voice, message)
            with self._lock:
                self._failed[voice] = message
        finally:
            with self._lock:
                self._making.pop(voice, None)
            done.set()

    def _run(self, voice: str) -> None:
        from .models import resolve

        model, voices = resolve(self.models_dir, self.variant)  # ModelMissing says what to fetch
        self.folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGE_ROOT),
                                                                         os.environ.get("PYTHONPATH")]))}
        result = subprocess.run([sys.executable, "-m", "daemon.voice_samples", str(model), str(voices), voice,
                                 str(self.path(voice))], env=env, capture_output=True, text=True,
                                timeout=MAKE_TIMEOUT)
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise SampleUnavailable(f"the sample process failed: {last}")
        log.info("voice sample %s: made %s", voice, self.path(voice))


def make_sample(model: str, voices: str, voice: str, out: Path) -> None:
    """In the sample process: load the model, say the sentence, write a WAV atomically."""
    import soundfile

    from .engine import SAMPLE_RATE, EngineSettings, load_engine

    text, lang = sample_text(voice)
    engine = load_engine(EngineSettings(model, voices, threads=2))
    audio = engine.speak(text, voice, 1.0, lang)
    with atomic_output(out) as partial:  # two API processes making one sample never share a file
        soundfile.write(partial, audio, SAMPLE_RATE, subtype="PCM_16", format="WAV")


if __name__ == "__main__":
    try:
        make_sample(sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4]))
    except ModelMissing as missing:
        sys.exit(f"kokoro-inbox: {missing.message}")
