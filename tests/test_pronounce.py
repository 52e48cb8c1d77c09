"""The listener's lexicon: how it is written, checked, layered and applied."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from daemon.errors import InvalidSetting
from daemon.pronounce import Pronunciation, parse_lexicon, phonemes, respell, words_in
from daemon.settings import BookSettings, requested_settings

from .epubs import simple_book

ROOT = Path(__file__).resolve().parents[1]


def fake_phonemize(text: str, lang: str) -> str:
    return text.strip().upper()  # stands in for espeak-ng: shows which text reached it


def test_ipa_between_slashes_and_respellings():
    lexicon = parse_lexicon({"Hyde": "/hˈaɪd/", "Utterson": "Utter-sun"}, "test")
    assert lexicon == (Pronunciation("Hyde", ipa="hˈaɪd"), Pronunciation("Utterson", respelling="Utter-sun"))


@pytest.mark.parametrize("raw, words", [
    ({"Hy de": "/x/"}, "is not a word"),
    ({"Hyde": ""}, "needs a pronunciation"),
    ({"Hyde": "/hˈaɪd£/"}, "'£' is not in the model's phoneme set"),
    ({"Hyde": ["h", "i"]}, "needs a pronunciation"),
    (["Hyde"], "must map words to pronunciations"),
])
def test_bad_entries_name_the_word_and_the_fix(raw, words):
    with pytest.raises(InvalidSetting) as caught:
        parse_lexicon(raw, "Book.yaml pronounce")
    assert words in caught.value.message and caught.value.message.startswith("Book.yaml pronounce")


def test_names_match_their_case_and_lowercase_words_any_case():
    lexicon = parse_lexicon({"Hyde": "Hide", "lead": "led"}, "t")
    assert respell("Mr. Hyde hid; hyde park. Lead on, the lead pipe; LEADER", lexicon) == \
        "Mr. Hide hid; hyde park. led on, the led pipe; LEADER"


def test_ipa_is_spliced_into_what_espeak_makes_of_the_rest():
    lexicon = parse_lexicon({"Hyde": "/hˈaɪd/"}, "t")
    assert phonemes("I saw Hyde, at last.", "en-us", lexicon, fake_phonemize) == "I SAW hˈaɪd, AT LAST."
    assert phonemes("Nobody here.", "en-us", lexicon, fake_phonemize) == "NOBODY HERE."


def test_a_segment_carries_only_the_entries_it_needs():
    lexicon = parse_lexicon({"Hyde": "/hˈaɪd/", "Jekyll": "/dʒˈiːkəl/", "Poole": "Pool"}, "t")
    assert [e.word for e in words_in(lexicon, "Then Jekyll spoke.")] == ["Jekyll"]


def test_lexicons_add_up_from_the_inbox_down_to_the_sidecar(tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "stevenson").mkdir(parents=True)
    (inbox / "lexicon.yaml").write_text("Hyde: /hˈaɪd/\nPoole: Pool\n")
    (inbox / "stevenson" / "lexicon.yaml").write_text("Hyde: /hˈiːd/\n")
    book = simple_book(inbox / "stevenson" / "Jekyll.epub", [("One", ["Hello."])])
    (inbox / "stevenson" / "Jekyll.yaml").write_text("pronounce:\n  Lanyon: /lˈænjən/\n")
    settings = requested_settings(book, BookSettings(), inbox)
    assert {e.word: e.as_text() for e in settings.pronounce} == {
        "Hyde": "/hˈiːd/", "Poole": "Pool", "Lanyon": "/lˈænjən/"}
    assert settings.as_record()["pronounce"]["Hyde"] == "/hˈiːd/"


def test_inspect_shows_respellings_as_text_and_ipa_as_phonemes(tmp_path):
    book = simple_book(tmp_path / "Jekyll.epub", [("One", ["Mr. Hyde met Poole at the door."])])
    (tmp_path / "Jekyll.yaml").write_text("pronounce:\n  Hyde: /hˈaɪd/\n  Poole: Pool\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    text = subprocess.run([sys.executable, "-m", "daemon", "inspect", "--text", str(book)],
                          capture_output=True, text=True, env=env, check=True).stdout
    assert "met Pool at the door" in text
    said = subprocess.run([sys.executable, "-m", "daemon", "inspect", "--phonemes", str(book)],
                          capture_output=True, text=True, env=env, check=True).stdout
    assert "hˈaɪd" in said and "Hyde" not in said and "WARNING" not in said


def test_the_model_hears_the_lexicon(real_models):
    """The same sentence with a name given a longer pronunciation comes out longer."""
    from daemon.engine import EngineSettings, KokoroEngine

    engine = KokoroEngine(EngineSettings(str(real_models / "kokoro-v1.0.int8.onnx"),
                                         str(real_models / "voices-v1.0.bin")))
    plain = engine.speak("Then Hyde came in.", "af_heart", 1.0, "en-us")
    longer = parse_lexicon({"Hyde": "/hˈaɪdəbɹˌaɪdəbˌaɪdə/"}, "t")
    spliced = engine.speak("Then Hyde came in.", "af_heart", 1.0, "en-us", longer)
    assert len(spliced) > len(plain) + 0.3 * 24000
