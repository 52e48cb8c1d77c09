"""A few seconds of each voice, to choose one by ear: made once, on first request, and kept.

The API may run inside the daemon or on its own (``kokoro-inbox api``), and its threads
must not carry a 300 MB model, so a sample is made by a short-lived process of its own
(``python -m daemon.synth.voice_samples``) with the real model, and written atomically into
``<processing>/voice-samples/``.  A request never waits for it: it is answered 202 with
Retry-After at once and finds the sample ready a few seconds later, so twenty people
pressing ▶ hold no API thread.  One thread makes the samples asked for, one process at
a time (each holds a whole model); the process dies with the API that started it
(PR_SET_PDEATHSIG), whether that is the daemon or ``kokoro-inbox api``, killed or stopped.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections import deque
from pathlib import Path

from daemon.errors import InboxError, ModelMissing
from daemon.files import atomic_output

log = logging.getLogger(__name__)

SAMPLES_VERSION = 1  # in the folder's name: a new text or format makes new samples
MAKE_TIMEOUT = 120.0  # seconds for one sample process: loading the model is most of it
PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder that holds daemon/

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
    from daemon.speech.languages import describe_voice

    about = describe_voice(voice)
    return TEXTS[about["lang"]].format(name=about["name"]), about["lang"]


class SampleUnavailable(InboxError):
    code = "sample_unavailable"


class VoiceSamples:
    """Samples on disk, and the one thread that makes those asked for, in the order asked."""

    def __init__(self, folder: Path, models_dir: Path, variant: str) -> None:
        self.folder = folder / f"v{SAMPLES_VERSION}"
        self.models_dir, self.variant = models_dir, variant
        self._lock = threading.Lock()
        self._waiting: deque[str] = deque()  # voices asked for and not made yet, oldest first
        self._asked: set[str] = set()  # the same voices, and the one being made
        self._failed: dict[str, str] = {}
        self._maker: threading.Thread | None = None

    def path(self, voice: str) -> Path:
        return self.folder / f"{voice}.wav"

    def get(self, voice: str) -> Path | None:
        """The sample's file; None while it is being made (asked for now if it was not yet):
        never waits.  Raises SampleUnavailable when making it failed (the next request
        tries again)."""
        target = self.path(voice)
        if target.is_file():
            return target
        with self._lock:
            if voice in self._failed:
                raise SampleUnavailable(self._failed.pop(voice))
            if voice not in self._asked:
                self._asked.add(voice)
                self._waiting.append(voice)
                if self._maker is None:
                    self._maker = threading.Thread(target=self._make_all, name="voice-samples", daemon=True)
                    self._maker.start()
        return None

    def _make_all(self) -> None:
        while True:
            with self._lock:
                if not self._waiting:
                    self._maker = None  # under the lock: the next get() starts a new maker
                    return
                voice = self._waiting.popleft()
            try:
                if not self.path(voice).is_file():
                    self._run(voice)
            except Exception as error:  # any failure is the sample's, never the API's
                message = error.message if isinstance(error, InboxError) else f"cannot make the sample: {error}"
                log.warning("voice sample %s: %s", voice, message)
                with self._lock:
                    self._failed[voice] = message
            finally:
                with self._lock:
                    self._asked.discard(voice)

    def _run(self, voice: str) -> None:
        from daemon.models import resolve

        model, voices = resolve(self.models_dir, self.variant)  # ModelMissing says what to fetch
        self.folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGE_ROOT),
                                                                         os.environ.get("PYTHONPATH")]))}
        try:
            result = subprocess.run([sys.executable, "-m", "daemon.synth.voice_samples", str(model), str(voices), voice,
                                     str(self.path(voice)), str(os.getpid())], env=env, capture_output=True,
                                    text=True, timeout=MAKE_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise SampleUnavailable(f"the sample process took more than {MAKE_TIMEOUT:.0f} s") from None
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
    from .executors import die_with_parent

    die_with_parent(int(sys.argv[5]))  # an API killed or stopped takes its sample process along
    try:
        make_sample(sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4]))
    except ModelMissing as missing:
        sys.exit(f"kokoro-inbox: {missing.message}")
