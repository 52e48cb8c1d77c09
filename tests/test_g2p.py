"""The grapheme-to-phoneme stage: misaki where it reads better, espeak-ng otherwise, and refusals."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from kokoro_onnx.tokenizer import Tokenizer

from daemon.errors import UnsupportedLanguage
from daemon.speech import g2p
from daemon.speech.g2p import Phonemizer, check_reader
from daemon.speech.pronounce import kokoro_phoneme_set

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def espeak():
    return Tokenizer().phonemize


@pytest.mark.model
def test_english_homographs_read_by_context(real_models, espeak):
    """Sentences from the corpus where espeak-ng reads the wrong word and misaki the right one."""
    reader = Phonemizer(real_models, espeak)
    assert reader.reader_name("en-us") == "misaki (spaCy tagger)"
    past = reader("Her feelings as she read were scarcely to be defined.", "en-us")  # Pride and Prejudice
    assert "ɹˈɛd" in past and "ɹˈid" not in past
    present = reader("It is now ten; I must go home and read these documents in quiet.", "en-us")  # Jekyll
    assert "ɹˈid" in present and "ɹˈɛd" not in present
    assert "mˈɪstəɹ ˈʌ" in reader("Mr. Utterson the lawyer", "en-us"), "no full stop inside the title"


def test_without_the_tagger_english_falls_back_to_espeak_with_a_warning(tmp_path, espeak, caplog):
    with caplog.at_level(logging.WARNING):
        reader = Phonemizer(tmp_path, espeak)
        assert reader.reader_name("en-us") == "espeak-ng"
    assert "models fetch" in caplog.text
    assert reader("Hello there.", "en-us") == espeak("Hello there.", "en-us")


def test_japanese_is_read_as_japanese_not_as_chinese_letters(espeak):
    said = Phonemizer(None, espeak)("山路を登りながら、こう考えた。", "ja")
    assert said.startswith("jamaʥi o noboɾʲi naɡaɾa")
    assert "tʃˈaɪniːz" not in said and "lˈetə" not in said
    assert set(said) <= kokoro_phoneme_set()
    assert "tʃˈaɪniːz" in espeak("山路を登りながら", "ja"), "what espeak-ng alone would say"


def test_mandarin_keeps_its_tones(espeak):
    said = Phonemizer(None, espeak)("银行的行长走在人行道上。", "cmn")
    assert any(mark in said for mark in "↗↘↓→") and set(said) <= kokoro_phoneme_set()


def test_a_language_whose_reader_is_missing_is_refused_with_what_to_install(monkeypatch):
    monkeypatch.setattr(g2p, "_installed", lambda *modules: False)
    with pytest.raises(UnsupportedLanguage) as caught:
        check_reader("ja")
    assert "pip install 'kokoro-inbox[japanese]'" in caught.value.message
    check_reader("fr-fr")  # espeak-ng is always there


def test_other_languages_go_to_espeak(espeak):
    assert Phonemizer(None, espeak)("Bonjour à tous.", "fr-fr") == espeak("Bonjour à tous.", "fr-fr")
