"""End to end with the real Kokoro model, real processes and real files."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
from mutagen.id3 import ID3
from mutagen.mp3 import MP3

from daemon.converter import BookRun, prepare
from daemon.service.scheduler import convert
from daemon.settings import BookSettings
from daemon.synth.engine import EngineSettings
from daemon.synth.executors import LocalPool

from .epubs import simple_book, tiny_png
from .speech_recognition import transcribe

pytestmark = [pytest.mark.model, pytest.mark.processes]  # the real model in worker processes

ROOT = Path(__file__).resolve().parents[1]

# Real prose (Stevenson), so that speech recognition has a fair chance.
JEKYLL = [
    "Mr. Utterson the lawyer was a man of a rugged countenance that was never lighted by a smile.",
    "He was austere with himself; drank gin when he was alone, to mortify a taste for vintages.",
    "It chanced on one of these rambles that their way led them down a by-street in a busy quarter of London.",
    "The street was small and what is called quiet, but it drove a thriving trade on the weekdays.",
    "Two doors from one corner, on the left hand going east, the line was broken by the entry of a court.",
    "The door, which was equipped with neither bell nor knocker, was blistered and distained.",
]


def _config(tmp_path: Path, real_models: Path, workers: int = 2) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(f"models:\n  dir: {real_models}\nworkers: {workers}\n"
                      f"paths:\n  processing: {tmp_path / 'processing'}\n")
    return config


def _run_cli(*args: str, cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOKORO_INBOX_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "daemon", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600, **kwargs)


def _rms(audio: np.ndarray, start: float, end: float, rate: int = 24000) -> float:
    part = audio[int(start * rate):int(end * rate)]
    return float(np.sqrt(np.mean(part ** 2))) if len(part) else 0.0


def test_cli_converts_a_book_into_a_tagged_chaptered_mp3(tmp_path, real_models):
    chapters = [("The Door", JEKYLL[0:2]), ("The Street", JEKYLL[2:4]), ("The Court", JEKYLL[4:6])]
    book = simple_book(tmp_path / "Small Book.epub", chapters, title="Small Book",
                       author="R. L. Stevenson", cover_png=tiny_png())
    result = _run_cli("convert", "--config", str(_config(tmp_path, real_models)), str(book),
                      cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    output = tmp_path / "Small Book.mp3"
    assert output.exists() and not list(tmp_path.glob(".*partial*"))
    assert not any((tmp_path / "processing").iterdir()), "checkpoints are removed when done"

    info = MP3(output).info
    assert (info.sample_rate, info.channels, info.bitrate) == (24000, 1, 64000)
    audio, rate = soundfile.read(output, dtype="float32")
    duration = len(audio) / rate
    chars = sum(len(t) for _, ps in chapters for t in ps)
    assert chars / 25 < duration < chars / 8, f"{duration:.1f} s is implausible for {chars} characters"

    tags = ID3(output)
    assert tags["TIT2"].text == ["Small Book"] and tags["TALB"].text == ["Small Book"]
    assert tags["TPE1"].text == ["R. L. Stevenson"] and tags["TCON"].text == ["Audiobook"]
    assert tags.getall("APIC")[0].data == tiny_png()
    assert tags.version[:2] == (2, 4)
    toc = tags.getall("CTOC")[0]
    marks = [tags[f"CHAP:{element}"] for element in toc.child_element_ids]
    assert [m.sub_frames["TIT2"].text[0] for m in marks] == ["The Door", "The Street", "The Court"]
    assert marks[0].start_time == 0
    assert all(a.end_time == b.start_time for a, b in zip(marks, marks[1:]))
    assert abs(marks[-1].end_time / 1000 - duration) < 0.2
    for mark in marks[1:]:
        start = mark.start_time / 1000
        assert _rms(audio, start - 1.5, start - 0.05) < 0.005, "a chapter starts after a pause"
        assert _rms(audio, start, start + 1.0) > 0.02, "speech starts where the chapter mark says"


def test_cli_exit_codes_for_bad_input(tmp_path, real_models):
    config = str(_config(tmp_path, real_models))
    bad = ROOT.parent / "shared/corpus/bad/truncated_60pct_time-machine.epub"
    result = _run_cli("convert", "--config", config, str(bad), cwd=tmp_path)
    assert result.returncode == 1 and "incomplete or damaged" in result.stderr
    book = simple_book(tmp_path / "b.epub", [("One", ["Hello there."])])
    result = _run_cli("convert", "--config", config, "--voice", "af_nobody", str(book), cwd=tmp_path)
    assert result.returncode == 2 and "voice: 'af_nobody' is not a known voice" in result.stderr
    (tmp_path / "nomodels.yaml").write_text(f"models:\n  dir: {tmp_path / 'none'}\n")
    result = _run_cli("convert", "--config", str(tmp_path / "nomodels.yaml"), str(book), cwd=tmp_path)
    assert result.returncode == 3 and "models fetch" in result.stderr


# --------------------------------------------------------------------------- no word dropped

def _content_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z]+", text.lower()) if len(w) >= 5]


def _recall(reference: list[str], heard: list[str]) -> float:
    heard_set = set(heard)
    return sum(w in heard_set for w in reference) / len(reference)


def test_a_2000_character_sentence_is_read_whole(tmp_path, real_models):
    clauses = [s.rstrip(".").replace("Mr. ", "Mister ") for s in JEKYLL] * 4
    sentence = "; ".join(clauses)[:2000].rsplit(" ", 1)[0] + "."
    assert len(sentence) > 1900 and sentence.count(".") == 1
    book = simple_book(tmp_path / "long.epub", [("", [sentence])])
    prepared = prepare(book, BookSettings())
    engine = EngineSettings(str(real_models / "kokoro-v1.0.int8.onnx"), str(real_models / "voices-v1.0.bin"))
    result = convert(BookRun(prepared, tmp_path / "long.mp3", tmp_path / "job", 2), LocalPool(engine, 2))
    audio, rate = soundfile.read(result.output, dtype="float32")
    # Skip the heading ("Section 1.") and cut the rest in quarters of time and of words.
    assert len(audio) / rate > len(sentence) / 25, "far too short: words were dropped"
    words = _content_words(sentence)
    quarter = len(audio) // 4
    recalls = []
    for n in range(4):
        heard = transcribe(audio[max(0, n * quarter - rate):(n + 1) * quarter + rate], rate)
        expected = words[n * len(words) // 4:(n + 1) * len(words) // 4]
        recalls.append(_recall(expected, heard))

    # The same last quarter of the text, read by bare kokoro-onnx, is the yardstick.
    from kokoro_onnx import Kokoro
    tail_text = sentence[5 * len(sentence) // 6:]
    bare = Kokoro(str(real_models / "kokoro-v1.0.int8.onnx"), str(real_models / "voices-v1.0.bin"))
    bare_audio, bare_rate = bare.create(tail_text, voice="af_heart")
    bare_recall = _recall(_content_words(tail_text), transcribe(bare_audio, bare_rate))
    assert min(recalls) > 0.3, f"a quarter of the sentence is missing: recalls {recalls}"
    assert recalls[3] >= 0.6 * bare_recall, f"the end is missing: {recalls[3]} vs bare {bare_recall}"
    # and the very end, word for word, as well as bare kokoro-onnx hears it
    ours_tail = transcribe(audio[-int(len(bare_audio) * 1.2):], rate)
    assert _recall(_content_words(tail_text), ours_tail) >= 0.7 * bare_recall


# --------------------------------------------------------------------------- kill and resume

def test_a_killed_conversion_resumes_from_its_checkpoints(tmp_path, real_models):
    chapters = [("First", JEKYLL[0:3]), ("Second", JEKYLL[3:6] + JEKYLL[0:2])]
    book = simple_book(tmp_path / "Resume.epub", chapters)
    config = str(_config(tmp_path, real_models))
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOKORO_INBOX_")}
    env["PYTHONPATH"] = str(ROOT)
    first = subprocess.Popen([sys.executable, "-m", "daemon", "convert", "--config", config, str(book)],
                             cwd=tmp_path, env=env, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list((tmp_path / "processing").glob("*/segment-*.flac"))) < 2:
        assert first.poll() is None, first.stderr.read().decode()
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGKILL)  # the CLI and its workers, like a power cut
    first.wait()
    job = next((tmp_path / "processing").iterdir())
    plan = len(list(job.glob("segment-*.flac")))
    assert plan >= 2 and not (tmp_path / "Resume.mp3").exists()

    resumed = _run_cli("convert", "--config", config, str(book), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resumed {plan} finished segments" in resumed.stderr, resumed.stderr
    assert not job.exists()

    fresh_config = tmp_path / "fresh.yaml"
    fresh_config.write_text(Path(config).read_text().replace(
        str(tmp_path / "processing"), str(tmp_path / "processing-fresh")))
    uninterrupted = _run_cli("convert", "--config", str(fresh_config), "-o", "Fresh.mp3", str(book),
                             cwd=tmp_path)
    assert uninterrupted.returncode == 0, uninterrupted.stderr
    a, b = MP3(tmp_path / "Resume.mp3"), MP3(tmp_path / "Fresh.mp3")
    assert abs(a.info.length - b.info.length) <= 0.01 * b.info.length
    chap = lambda f: [(t.sub_frames["TIT2"].text[0]) for t in ID3(f).getall("CHAP")]  # noqa: E731
    assert chap(tmp_path / "Resume.mp3") == chap(tmp_path / "Fresh.mp3") == ["First", "Second"]
