"""Sidecar settings and the service config: bad values are named, good ones are typed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from daemon.config import load_config
from daemon.errors import ConfigError, InvalidSetting
from daemon.settings import BookSettings, format_chapters, load_sidecar, parse_chapters
from daemon.speech.languages import parse_voice


def test_sidecar_values_are_validated_and_typed(tmp_path):
    sidecar = tmp_path / "Book.yaml"
    sidecar.write_text("voice: 'af_sarah:60,am_adam:40'\nspeed: 1.2\nchapters: '1-3,7'\nbitrate: 96\n")
    settings = BookSettings().merged(load_sidecar(sidecar))
    assert settings.voice == "af_sarah:60,am_adam:40"
    assert settings.speed == 1.2 and settings.bitrate == 96
    assert settings.chapters == frozenset({1, 2, 3, 7})


@pytest.mark.parametrize("raw, key, words", [
    ({"voice": "af_nobody"}, "voice", "not a known voice"),
    ({"speed": 3}, "speed", "out of range"),
    ({"speed": "fast"}, "speed", "must be a number"),
    ({"bitrate": 400}, "bitrate", "32 to 160"),
    ({"lang": "xx"}, "lang", "en-us"),
    ({"chapters": "3-1"}, "chapters", "not a valid range"),
    ({"chapters": "one"}, "chapters", "1-3,7"),
    ({"colour": "red"}, "colour", "unknown setting"),
])
def test_bad_sidecar_values_name_the_key(raw, key, words):
    with pytest.raises(InvalidSetting) as caught:
        BookSettings().merged(raw)
    assert caught.value.key == key
    assert caught.value.message.startswith(f"{key}:") and words in caught.value.message


def test_sidecar_yaml_is_loaded_safely(tmp_path):
    sidecar = tmp_path / "evil.yaml"
    sidecar.write_text("voice: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(InvalidSetting):
        load_sidecar(sidecar)


def test_voice_blend_weights_are_normalised():
    mix = parse_voice("af_sarah:60,am_adam:40")
    assert mix.parts == (("af_sarah", 0.6), ("am_adam", 0.4))
    assert str(parse_voice("af_heart")) == "af_heart"


def test_chapter_lists_round_trip():
    assert parse_chapters("chapters", [5, 1, 2]) == frozenset({1, 2, 5})
    assert format_chapters(frozenset({1, 2, 3, 7, 9, 10})) == "1-3,7,9-10"


def test_config_layers_file_env_and_flags(tmp_path):
    config_file = tmp_path / "config.yaml"
    config_file.write_text("api:\n  port: 9000\nworkers: 3\npaths:\n  inbox: in\n")
    config = load_config(config_file, {"workers": 2}, environ={"KOKORO_INBOX_API_PORT": "9100"})
    assert config.api_port == 9100 and config.workers == 2
    assert config.paths.inbox == (tmp_path / "in").resolve()  # relative to the file


@pytest.mark.parametrize("text, words", [
    ("colour: red\n", "colour: unknown key"),
    ("api:\n  prot: 1\n", "api.prot: unknown key"),
    ("api:\n  port: seventy\n", "api.port"),
    ("workers: 0\n", "workers"),
    ("paths:\n  inbox: data\n  outbox: data/out\n", "lies inside paths.inbox"),
    ("paths:\n  archive: x\n  failed: x\n", "same folder"),
])
def test_config_errors_name_the_key(tmp_path, text, words):
    config_file = tmp_path / "config.yaml"
    config_file.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(config_file, environ={})
    assert words in caught.value.message


@pytest.mark.parametrize("text, words", [
    ("defaults:\n  voice: af_nobody\n", "defaults.voice: "),
    ("defaults:\n  voice: null\n", "defaults.voice: "),
    ("defaults:\n  lang: xx\n", "defaults.lang: "),
    ("defaults:\n  speed: 3\n", "defaults.speed: 3 is out of range; allowed is 0.5 to 2.0"),
    ("defaults:\n  bitrate: 64.5\n", "defaults.bitrate: 64.5 must be a whole number from 32 to 160"),
    ("speech:\n  notes: footer\n", "speech.notes: 'footer' is not allowed; use one of inline, end_of_chapter"),
    ("output:\n  format: ogg\n", "output.format: 'ogg' is not allowed; use one of mp3, m4b"),
    ("output:\n  loudness_lufs: -60\n", "output.loudness_lufs: -60 is out of range"),
    ("output:\n  colour: red\n", "output.colour: unknown key"),
])
def test_the_config_checks_book_defaults_as_a_sidecar_is_checked(tmp_path, text, words):
    """One check per setting: the config file's sections say what a sidecar would, named
    as the config file names the key."""
    config_file = tmp_path / "config.yaml"
    config_file.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(config_file, environ={})
    assert caught.value.message.startswith(words.partition(" ")[0]) and words in caught.value.message


def test_the_config_holds_every_book_default_once(tmp_path):
    from daemon.settings import ENCODING, KEYS, PLACEMENT, BookDefaults

    config_file = tmp_path / "config.yaml"
    config_file.write_text("defaults:\n  voice: am_adam\n  lang: fr-fr\n  bitrate: 96\n"
                           "speech:\n  notes: skip\noutput:\n  layout: audiobookshelf\n  loudness_lufs: null\n")
    defaults = load_config(config_file, environ={}).book_defaults
    assert defaults.voice == "am_adam" and defaults.lang == "fr-fr"
    assert defaults.settings == BookSettings(bitrate=96, notes="skip", layout="audiobookshelf", loudness_lufs=None)
    assert defaults.settings.voice is None and defaults.settings.lang is None, "the book still decides"
    assert load_config(None, environ={}).book_defaults == BookDefaults()
    assert BookSettings().loudness_lufs == -18.0
    assert "bitrate" in ENCODING and PLACEMENT == ("layout",) and set(ENCODING) < set(KEYS)


def test_unknown_environment_variable_is_an_error():
    with pytest.raises(ConfigError) as caught:
        load_config(None, environ={"KOKORO_INBOX_API_PROT": "1"})
    assert "KOKORO_INBOX_API_PROT" in caught.value.message


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "daemon", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60, env=_env())


def _env() -> dict:
    import os
    return {k: v for k, v in os.environ.items() if not k.startswith("KOKORO_INBOX_")} | {
        "PYTHONPATH": str(Path(__file__).resolve().parents[1])}


@pytest.mark.processes
def test_cli_config_error_exits_2(tmp_path):
    (tmp_path / "bad.yaml").write_text("paths:\n  inbox: a\n  outbox: a/b\n")
    result = _cli("inspect", "--config", "bad.yaml", "x.epub", cwd=tmp_path)
    assert result.returncode == 2
    assert "paths.outbox" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.processes
def test_cli_models_check_exits_3_when_missing(tmp_path):
    (tmp_path / "c.yaml").write_text("models:\n  dir: empty\n")
    result = _cli("models", "check", "--config", "c.yaml", cwd=tmp_path)
    assert result.returncode == 3
    assert "missing" in result.stderr and "models fetch" in result.stderr


@pytest.mark.processes
def test_cli_inspect_bad_book_exits_1(tmp_path):
    bad = Path(__file__).resolve().parents[1].parent / "shared/corpus/bad/text-file-renamed.epub"
    result = _cli("inspect", str(bad), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == ("kokoro-inbox: not an EPUB: the file is not a ZIP archive "
                                     "(an EPUB is a ZIP of XHTML files)")


@pytest.mark.processes
def test_cli_inspect_lists_numbered_chapters(tmp_path):
    book = Path(__file__).resolve().parents[1].parent / "shared/corpus/se_wells_the-time-machine.epub"
    result = _cli("inspect", str(book), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "   3  I " in result.stdout and "(skipped: imprint)" in result.stdout
    text = _cli("inspect", "--text", str(book), cwd=tmp_path).stdout
    assert text.startswith("=== 3. I\nOne.\nThe Time Traveller")


def test_environment_values_are_typed_like_the_file():
    config = load_config(None, environ={"KOKORO_INBOX_WORKERS": "3", "KOKORO_INBOX_API_ENABLED": "false",
                                        "KOKORO_INBOX_DEFAULTS_SPEED": "1.5", "KOKORO_INBOX_API_TOKEN": "0123",
                                        "KOKORO_INBOX_WATCH_SETTLE_SECONDS": "2"})
    assert config.workers == 3 and config.api_enabled is False and config.book_defaults.settings.speed == 1.5
    assert config.settle_seconds == 2.0
    assert config.api_token == "0123", "a token of digits stays text"
    with pytest.raises(ConfigError) as caught:
        load_config(None, environ={"KOKORO_INBOX_API_PORT": "eighty"})
    assert "api.port" in caught.value.message


def test_sidecar_anchors_and_oversize_are_refused(tmp_path):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("a: &a [1, 2]\nspeed: *a\n")
    with pytest.raises(InvalidSetting) as caught:
        load_sidecar(bomb)
    assert "anchors and aliases" in caught.value.message
    big = tmp_path / "big.yaml"
    big.write_text("voice: af_heart\n" + "#\n" * 40_000)
    with pytest.raises(InvalidSetting) as caught:
        load_sidecar(big)
    assert "larger than 64 KB" in caught.value.message


def test_values_in_messages_are_cut_short():
    with pytest.raises(InvalidSetting) as caught:
        BookSettings().merged({"speed": ["x" * 10_000] * 1000})
    assert len(caught.value.message) < 300


def test_config_example_documents_every_key_with_its_default():
    """config.example.yaml is the user's reference: every key, with the value it has unset."""
    import yaml

    from daemon.config import SCHEMA, load_config

    example = Path(__file__).resolve().parents[1] / "config.example.yaml"
    data = yaml.safe_load(example.read_text())
    for section, keys in SCHEMA.items():
        for key, (default, _) in keys.items():
            where = data.get(section) if section else data
            assert isinstance(where, dict) and key in where, f"{section}.{key} is not in {example.name}"
            if section not in ("paths", "models"):  # paths and the models folder are examples
                assert where[key] == default or list(where[key] or []) == list(default or []), \
                    f"{section}.{key}: {where[key]!r} in the example, {default!r} in fact"
    load_config(example, environ={})


def test_the_feed_token_is_its_own_or_derived_and_never_the_admin_token(tmp_path):
    def feed(**api) -> str | None:
        return load_config(None, {f"api.{key}": value for key, value in api.items()}, environ={}).api_feed_token

    derived = feed(token="s3cret")
    assert derived and len(derived) == 32 and "s3cret" not in derived
    assert feed(token="s3cret") == derived != feed(token="other")  # the same after a restart
    assert feed(token="s3cret", feed_token="podcasts-only") == "podcasts-only"
    assert feed() is None  # no token at all: nothing asks for one
    assert load_config(None, environ={"KOKORO_INBOX_API_TOKEN": "s3cret",
                                      "KOKORO_INBOX_API_FEED_TOKEN": "0123"}).api_feed_token == "0123"
    with pytest.raises(ConfigError, match="api.feed_token must differ from api.token"):
        feed(token="s3cret", feed_token="s3cret")
    with pytest.raises(ConfigError, match="api.feed_token is set but api.token is not"):
        feed(feed_token="podcasts-only")


def test_a_book_named_lexicon_keeps_its_sidecar_and_the_folder_keeps_its_lexicon(tmp_path):
    from daemon.settings import requested_settings, sidecar_of

    def settings(folder: Path, name: str) -> BookSettings:
        return requested_settings(folder / name, BookSettings(), inbox=tmp_path)

    sidecar = tmp_path / "sidecar"  # lexicon.epub with its own settings, beside another book
    sidecar.mkdir()
    for name in ("lexicon.epub", "other.epub"):
        (sidecar / name).write_bytes(b"PK")
    (sidecar / "lexicon.yaml").write_text("voice: am_adam\n")
    assert sidecar_of(sidecar / "lexicon.epub") == sidecar / "lexicon.yaml"
    assert settings(sidecar, "lexicon.epub").voice == "am_adam"
    other = settings(sidecar, "other.epub")
    assert other.pronounce == () and other.voice is None  # before: "voice" was read as "am_adam"

    words = tmp_path / "words"  # the folder's lexicon, and a book that happens to be named lexicon.epub
    words.mkdir()
    for name in ("lexicon.epub", "other.epub", "folder.epub"):
        (words / name).write_bytes(b"PK")
    (words / "lexicon.yaml").write_text("Hyde: /hˈaɪd/\n")
    (words / "folder.yaml").write_text("speed: 1.5\n")
    assert sidecar_of(words / "lexicon.epub") is None  # it stays for the other books
    assert sidecar_of(words / "folder.epub") is None  # folder.yaml is always the folder's
    for name in ("lexicon.epub", "other.epub", "folder.epub"):
        found = settings(words, name)
        assert [entry.word for entry in found.pronounce] == ["Hyde"] and found.speed == 1.5, name
    (words / "folder.yml").write_text("speed: 0.8\n")
    assert sidecar_of(words / "folder.epub") == words / "folder.yml"


def test_reading_a_book_on_its_own_reads_it_with_the_settings_defaults():
    """read_book's own options (for a book read outside a conversion) are the settings'."""
    from daemon.book.options import ReadingOptions
    from daemon.settings import BookSettings, reading_options

    assert ReadingOptions() == reading_options(BookSettings(), keep_boilerplate=False)
