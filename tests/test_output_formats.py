"""M4B and MP3, one file or one per chapter, at an even loudness: the files as players read them.

The tone engine stands in for the model (a character reads as 1/15 s of tone at a
chosen level); one test reads the tiny book with the real model in two voices.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import av
import numpy as np
import pyloudnorm
import pytest
import soundfile
from mutagen.id3 import ID3
from mutagen.mp4 import MP4

from daemon.audio.book_audio import BookAudio, BookTags, ChapterMark
from daemon.audio.formats import FORMATS, OUTPUT_SUFFIXES, aac_bitrate, format_of, mime_type
from daemon.audio.loudness import KWeighting, LoudnessMeter, PeakLimiter, k_weighting
from daemon.audio.placement import Placement, plan_parts
from daemon.audio.writers import open_audio
from daemon.converter import BookRun, job_fingerprint, plan_fingerprint, prepare
from daemon.errors import InvalidSetting
from daemon.service.scheduler import convert
from daemon.settings import BookSettings, output_options
from daemon.synth.engine import SAMPLE_RATE, EngineKind, EngineSettings, encode_flac
from daemon.synth.executors import LocalPool
from daemon.synth.stand_ins import stand_in_settings

from .epubs import simple_book, tiny_png

SENTENCES = [f"Sentence {n} is read aloud here, slowly, and it is long enough to matter." for n in range(36)]
CHAPTERS = [("The Door", SENTENCES[:12]), ("Search: for Mr. Hyde?", SENTENCES[12:24]), ("The End", SENTENCES[24:])]


def decoded(path: Path) -> np.ndarray:
    """The file's audio as FFmpeg decodes it (MP3 and M4B alike)."""
    with av.open(str(path)) as container:
        frames = [f.to_ndarray().reshape(-1) for f in container.decode(audio=0)]
    return np.concatenate(frames).astype(np.float64)


def lufs(audio: np.ndarray) -> float:
    return pyloudnorm.Meter(SAMPLE_RATE).integrated_loudness(audio)


def _convert(tmp_path: Path, name: str, level: float = 0.2, **settings) -> tuple:
    book = tmp_path / "book.epub"
    if not book.exists():
        simple_book(book, CHAPTERS, title="The Test Book", author="Ann Author", cover_png=tiny_png())
    prepared = prepare(book, BookSettings(voice="af_heart").merged(settings))
    engine = stand_in_settings(EngineKind.TONE, level=level)
    run = BookRun(prepared, tmp_path / name / "The Test Book.mp3", tmp_path / f"job-{name}", 2)
    return run, convert(run, LocalPool(engine, 2))


@pytest.mark.processes
def test_m4b_has_its_chapters_tags_cover_and_the_target_loudness(tmp_path):
    run, result = _convert(tmp_path, "m4b", level=0.02, format="m4b")
    assert result.output == tmp_path / "m4b" / "The Test Book.m4b" and result.outputs == (result.output,)
    assert not list(result.output.parent.glob(".*")), "no partial file left"
    audio = decoded(result.output)
    assert abs(len(audio) / SAMPLE_RATE - result.audio_seconds) < 0.1
    assert abs(lufs(audio) - (-18)) < 1.0
    assert result.loudness.model_lufs < -35 and result.loudness.passes == 1

    with av.open(str(result.output)) as container:  # FFmpeg's own reading of the chapter atoms
        chapters = container.chapters()
        stream = container.streams.audio[0]
        assert (stream.codec_context.name, stream.rate, stream.channels) == ("aac", 24000, 1)
    assert [c["metadata"]["title"] for c in chapters] == [title for title, _ in CHAPTERS]
    starts = [float(c["start"] * c["time_base"]) for c in chapters]
    assert starts == pytest.approx([c.start_seconds for c in result.chapters], abs=0.01)
    assert starts[1] > 5

    mp4 = MP4(result.output)
    assert mp4["\xa9nam"] == ["The Test Book"] and mp4["\xa9alb"] == ["The Test Book"]
    assert mp4["\xa9ART"] == ["Ann Author"] and mp4["\xa9gen"] == ["Audiobook"]
    assert mp4["\xa9wrt"] == ["Kokoro (af_heart)"] and bytes(mp4["covr"][0]) == tiny_png()
    assert [c.title for c in mp4.chapters] == [title for title, _ in CHAPTERS]  # the Nero chpl atom
    assert abs(mp4.info.length - result.audio_seconds) < 0.1
    if shutil.which("ffprobe"):
        shown = subprocess.run(["ffprobe", "-v", "error", "-show_chapters", str(result.output)],
                               capture_output=True, text=True, check=True).stdout
        assert shown.count("[CHAPTER]") == 3


@pytest.mark.processes
def test_m4b_one_file_per_chapter_with_track_numbers(tmp_path):
    run, result = _convert(tmp_path, "split", level=0.6, format="m4b", split="chapter")
    folder = tmp_path / "split" / "The Test Book"  # a folder of its own in a shared outbox
    names = ["01 - The Door.m4b", "02 - Search - for Mr. Hyde.m4b", "03 - The End.m4b"]
    assert [p.name for p in result.outputs] == names and result.output == folder / names[0]
    assert sorted(p.name for p in folder.iterdir()) == names
    for number, (path, chapter) in enumerate(zip(result.outputs, result.chapters), 1):
        mp4 = MP4(path)
        assert mp4["trkn"] == [(number, 3)] and mp4["\xa9alb"] == ["The Test Book"]
        assert mp4["\xa9nam"] == [chapter.title] and not mp4.chapters
        assert abs(mp4.info.length - chapter.duration_seconds) < 0.1
    whole = np.concatenate([decoded(p) for p in result.outputs])
    assert abs(lufs(whole) - (-18)) < 1.0 and result.loudness.model_lufs > -12


@pytest.mark.processes
def test_mp3_one_file_per_chapter(tmp_path):
    run, result = _convert(tmp_path, "mp3", split="chapter", loudness_lufs=-20)
    assert [p.name for p in result.outputs] == ["01 - The Door.mp3", "02 - Search - for Mr. Hyde.mp3",
                                               "03 - The End.mp3"]
    for number, (path, chapter) in enumerate(zip(result.outputs, result.chapters), 1):
        tags = ID3(path)
        assert tags["TRCK"].text == [f"{number}/3"] and tags["TALB"].text == ["The Test Book"]
        assert tags["TIT2"].text == [chapter.title] and not tags.getall("CHAP")
        assert tags["TCOM"].text == ["Kokoro (af_heart)"]
        audio, _ = soundfile.read(path)
        assert abs(len(audio) / SAMPLE_RATE - chapter.duration_seconds) < 0.15
    whole = np.concatenate([decoded(p) for p in result.outputs])
    assert abs(lufs(whole) - (-20)) < 1.0


def test_chapter_file_names_are_clean_numbered_and_fit():
    parts = plan_parts(Path("/out/Book.mp3"), "chapter", ["A/B: C?", "", "x" * 400] + ["t"] * 97)
    assert [p.name for p in (parts[0].path, parts[1].path)] == ["001 - AB - C.mp3", "002 - Chapter 2.mp3"]
    assert len(parts[2].path.name.encode()) <= 255 and parts[2].path.suffix == ".mp3"
    assert [p.number for p in parts] == list(range(1, 101))


def test_each_format_is_written_by_its_own_writer_at_its_bitrate_and_served_as_its_type(tmp_path):
    codecs = {"mp3": {"mp3", "mp3float"}, "m4b": {"aac"}}
    assert set(FORMATS) == set(codecs) and OUTPUT_SUFFIXES == (".mp3", ".m4b")
    tone = (0.3 * np.sin(np.arange(10 * SAMPLE_RATE) * 2 * np.pi * 440 / SAMPLE_RATE)).astype(np.float32)
    for audio_format in FORMATS.values():
        path = tmp_path / f"tone{audio_format.suffix}"
        writer = open_audio(path, output_options(BookSettings(format=audio_format.name, bitrate=96)))
        assert type(writer).__name__ == audio_format.writer
        writer.append_samples(tone)
        assert writer.finish(BookTags("Tone", "", "", ())) == path
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            assert stream.codec_context.name in codecs[audio_format.name]
            kbps = container.bit_rate / 1000
        assert abs(kbps - audio_format.encoder_kbps(96)) < 0.2 * audio_format.encoder_kbps(96), kbps
        assert format_of(path) is audio_format and mime_type(path.name) == audio_format.mime_type
    assert aac_bitrate(96) == 72 and FORMATS["m4b"].encoder_kbps(96) == 72 and FORMATS["mp3"].encoder_kbps(96) == 96
    assert mime_type("Ann/B.M4A") == "audio/mp4" and mime_type("notes.txt") == "application/octet-stream"


def test_the_placement_names_a_flat_a_split_and_a_library_books_files(tmp_path):
    mp3, m4b_split = output_options(BookSettings()), output_options(BookSettings(format="m4b", split="chapter"))
    flat = Placement(tmp_path / "sub", "Fog", tmp_path)
    assert flat.book_file(mp3) == tmp_path / "sub" / "Fog.mp3"
    assert [p.path for p in flat.parts(m4b_split, ["One", "Two: Again"])] == [
        tmp_path / "sub" / "Fog" / "01 - One.m4b", tmp_path / "sub" / "Fog" / "02 - Two - Again.m4b"]
    own = Placement(tmp_path / ".staging", "Fog", tmp_path, ("Ann", "Fog"), own_folder=True)
    assert [p.path for p in own.parts(m4b_split, ["One"])] == [tmp_path / ".staging" / "01 - One.m4b"]
    assert own.moved(tmp_path / ".staging" / "01 - One.m4b", tmp_path / "Ann" / "Fog") == \
        tmp_path / "Ann" / "Fog" / "01 - One.m4b"
    assert Placement.of_file(tmp_path / "x" / "Book.mp3").book_file(m4b_split) == tmp_path / "x" / "Book" / "Book.m4b"


# --------------------------------------------------------------------------- loudness, unit by unit

def _speechlike(seconds: float, level: float, seed: int = 1) -> np.ndarray:
    """Noise bursts and pauses, with rare loud peaks: closer to speech than a tone."""
    rng = np.random.default_rng(seed)
    audio = rng.normal(0, level, int(seconds * SAMPLE_RATE)).astype(np.float32)
    envelope = (np.sin(np.linspace(0, seconds * 2 * np.pi * 2, len(audio))) > -0.3).astype(np.float32)
    audio *= envelope
    audio[:: SAMPLE_RATE // 3] *= 6  # plosives
    return np.clip(audio, -1, 1)


def test_the_streaming_meter_agrees_with_pyloudnorm():
    audio = _speechlike(30, 0.05)
    meter = LoudnessMeter()
    for start in range(0, len(audio), 7777):  # pieces that cut the 100 ms steps anywhere
        meter.add(audio[start:start + 7777])
    assert meter.integrated() == pytest.approx(lufs(audio.astype(np.float64)), abs=0.05)
    assert LoudnessMeter().integrated() == -math.inf


def test_the_k_weighting_is_pyloudnorms_filters_sample_for_sample():
    from pyloudnorm.iirfilter import IIRfilter
    from scipy.signal import lfilter

    reference = [IIRfilter(4.0, 1 / math.sqrt(2), 1500.0, SAMPLE_RATE, "high_shelf"),
                 IIRfilter(0.0, 0.5, 38.0, SAMPLE_RATE, "high_pass")]
    for (b, a), stage in zip(k_weighting(), reference):
        assert np.allclose(b, stage.b / stage.a[0], rtol=1e-13) and np.allclose(a, stage.a / stage.a[0], rtol=1e-13)
    audio = _speechlike(20, 0.1).astype(np.float64)
    weighting = KWeighting()
    ours = np.concatenate([weighting(piece) for piece in np.split(audio, [1, 2, 4800, 4801, 200_000])])
    expected = audio
    for b, a in k_weighting():
        expected = lfilter(b, a, expected)  # one piece, the state never cut
    assert len(ours) == len(audio)
    assert np.max(np.abs(ours - expected)) < 1e-9 * np.max(np.abs(expected))


def test_the_limiter_keeps_every_sample_under_the_ceiling_and_its_length():
    audio = _speechlike(10, 0.3)
    limiter = PeakLimiter(-1.5)
    out = np.concatenate([limiter.process(audio[i:i + 5000]) for i in range(0, len(audio), 5000)]
                         + [limiter.flush()])
    assert len(out) == len(audio)
    assert np.abs(out).max() <= limiter.ceiling + 1e-6
    quiet = np.abs(audio) < 0.05  # far from any peak the audio passes untouched
    assert np.median(np.abs(out[quiet] - audio[quiet])) < 1e-4


def _checkpoints(folder: Path, levels: list[float], seconds: float = 20) -> list[Path]:
    paths = []
    for n, level in enumerate(levels):
        paths.append(folder / f"segment-{n:05d}.flac")
        paths[-1].write_bytes(encode_flac(_speechlike(seconds, level, seed=n)))
    return paths


def test_a_book_louder_after_its_opening_is_encoded_again_from_the_checkpoints(tmp_path):
    paths = _checkpoints(tmp_path, [0.01] * 3 + [0.05] * 9)  # 60 s quiet, then 3 minutes 14 dB louder
    audio = BookAudio(tmp_path / "book.mp3", output_options(BookSettings()), ["Only"])
    for n, path in enumerate(paths):
        audio.add(path, 0, n == len(paths) - 1)
    [output] = audio.finish(BookTags("Book", "", "", (ChapterMark("Only", 0, 240),)))
    assert audio.report.passes == 2
    assert abs(lufs(decoded(output)) - (-18)) < 1.0  # LAME cuts some of the noise's treble
    assert not list(tmp_path.glob(".partial*"))


def test_loudness_null_keeps_the_models_level(tmp_path):
    paths = _checkpoints(tmp_path, [0.02, 0.02])
    audio = BookAudio(tmp_path / "book.m4b", output_options(BookSettings(format="m4b", loudness_lufs=None)), ["Only"])
    for n, path in enumerate(paths):
        audio.add(path, 0, n == 1)
    [output] = audio.finish(BookTags("Book", "", "", (ChapterMark("Only", 0, 40),)))
    source = np.concatenate([soundfile.read(p)[0] for p in paths])
    assert lufs(decoded(output)) == pytest.approx(lufs(source), abs=0.3)


# --------------------------------------------------------------------------- settings

def test_output_settings_are_checked_and_leave_the_plan_alone(tmp_path):
    book = simple_book(tmp_path / "book.epub", CHAPTERS[:1])
    plain = prepare(book, BookSettings())
    m4b = prepare(book, BookSettings().merged({"format": "m4b", "split": "chapter", "loudness_lufs": None}))
    assert plan_fingerprint(plain) == plan_fingerprint(m4b), "checkpoints stay good"
    assert job_fingerprint(plain) != job_fingerprint(m4b), "but it is another job"
    assert m4b.settings.as_record()["format"] == "m4b" and "format" not in plain.settings.as_record()
    for key, value in (("format", "ogg"), ("split", "page"), ("loudness_lufs", -60), ("true_peak_db", 3)):
        with pytest.raises(InvalidSetting, match=key):
            BookSettings().merged({key: value})


# --------------------------------------------------------------------------- the real model

@pytest.mark.model
@pytest.mark.processes
def test_two_voices_of_different_loudness_come_out_at_the_target(tmp_path, real_models):
    """am_michael reads about 5 LU quieter than am_adam; both books end at -18 LUFS ± 1.
    One pool reads both books (one model load per worker), an M4B and MP3 chapter files."""
    from daemon.service.scheduler import Scheduler

    from .test_convert_e2e import JEKYLL

    book = simple_book(tmp_path / "tiny.epub", [("The Door", JEKYLL[:1]), ("The Street", JEKYLL[1:2])],
                       title="Tiny", author="R. L. Stevenson")
    engine = EngineSettings(str(real_models / "kokoro-v1.0.int8.onnx"), str(real_models / "voices-v1.0.bin"))
    runs = [BookRun(prepare(book, BookSettings(voice=voice).merged(settings)), tmp_path / voice / "Tiny.mp3",
                    tmp_path / f"job-{voice}", 2)
            for voice, settings in (("am_michael", {"format": "m4b"}), ("am_adam", {"split": "chapter"}))]
    pool = LocalPool(engine, 2)
    pool.start()
    scheduler = Scheduler(pool)
    for run in runs:
        scheduler.add(run)
    events = []
    try:
        while len(events) < 2:
            events += scheduler.step(timeout=0.5)
    finally:
        scheduler.close()
    assert all(e.error is None for e in events), [e.error for e in events]
    measured = {}
    for event in events:
        result = event.result
        assert len(result.outputs) == (1 if result.output.suffix == ".m4b" else 2)
        audio = np.concatenate([decoded(p) for p in result.outputs])
        measured[event.run.prepared.settings.voice] = (result.loudness.model_lufs, lufs(audio))
    (quiet, quiet_out), (loud, loud_out) = measured["am_michael"], measured["am_adam"]
    assert loud - quiet > 2, measured
    assert abs(quiet_out + 18) < 1 and abs(loud_out + 18) < 1, measured


# --------------------------------------------------------------------------- the command line and the status file

@pytest.mark.processes
def test_convert_writes_m4b_chapter_files_from_the_command_line(tmp_path):
    import os
    import sys

    book = simple_book(tmp_path / "Small Book.epub", CHAPTERS, title="Small Book")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOKORO_INBOX_")}
    env["KOKORO_INBOX_PATHS_PROCESSING"] = str(tmp_path / "processing")
    done = subprocess.run([sys.executable, "-m", "daemon", "convert", "--engine", "tone", "--workers", "2",
                           "--format", "m4b", "--split", "chapter", str(book)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    files = sorted(p.name for p in (tmp_path / "Small Book").iterdir())
    assert files == ["01 - The Door.m4b", "02 - Search - for Mr. Hyde.m4b", "03 - The End.m4b"], files
    assert "(3 files)" in done.stderr


def test_the_status_file_lists_every_output_file():
    from daemon.status import Job, JobStatus

    job = Job("6f1c2a1e-0000-4000-8000-000000000000", JobStatus.COMPLETED, "b.epub", "", {}, "b.json", "k",
              output_file="b/01 - One.mp3", output_files=["b/01 - One.mp3", "b/02 - Two.mp3"])
    assert Job.from_record(job.record()).output_files == job.output_files
    with pytest.raises(ValueError):
        Job.from_record({**job.record(), "output_files": ["../elsewhere.mp3"]})


@pytest.mark.processes
def test_an_encoder_that_cannot_write_fails_the_book_with_an_output_error(tmp_path):
    from daemon.errors import OutputError

    book = simple_book(tmp_path / "book.epub", CHAPTERS[:1])
    run = BookRun(prepare(book, BookSettings(format="m4b")), tmp_path / "out" / "book.mp3", tmp_path / "job", 1)
    shutil.rmtree(tmp_path / "out")  # the folder went away (an unmounted share) before the audio came
    with pytest.raises(OutputError, match="is missing"):
        convert(run, LocalPool(stand_in_settings(EngineKind.TONE), 1))
    assert (tmp_path / "job").exists(), "the checkpoints stay for a retry"
