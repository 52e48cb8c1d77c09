"""The listener's lexicon: how it is written, checked, layered and applied."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from daemon.errors import InvalidSetting
from daemon.settings import BookSettings, requested_settings
from daemon.speech.pronounce import (
    MAX_ENTRIES,
    MAX_TOTAL_ENTRIES,
    Pronunciation,
    merged,
    parse_lexicon,
    phonemes,
    respell,
    words_in,
)

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


def test_lexicons_beyond_the_total_are_refused_naming_where_they_came_from(tmp_path):
    """Twenty folders of 5,000 words, each within its own cap, gave a book 100,000 entries."""
    folder = inbox = tmp_path / "inbox"
    for level in range(20):
        folder = folder / f"shelf{level}"
        folder.mkdir(parents=True)
        (folder / "lexicon.yaml").write_text("".join(f"w{level:02d}n{n:04d}: R\n" for n in range(MAX_ENTRIES)))
    book = simple_book(folder / "Book.epub", [("One", ["Hello."])])
    with pytest.raises(InvalidSetting) as caught:
        requested_settings(book, BookSettings(), inbox)
    message = caught.value.message
    assert message.startswith(f"pronounce: the lexicons for this book add up to 15,000 words, more than "
                              f"{MAX_TOTAL_ENTRIES:,} (shelf0/lexicon.yaml: 5,000, shelf1/lexicon.yaml: 5,000, "
                              "shelf2/lexicon.yaml: 5,000)")
    assert caught.value.key == "pronounce"  # and the other 17 files were not even read


def test_ten_thousand_entries_are_matched_as_fast_as_ten(tmp_path):
    """One regex alternation of every word tried each entry at each word: 10,000 entries
    made a 5,000-paragraph book take minutes to plan.  Now the words are looked up."""
    import random
    import string
    import time

    chance = random.Random(13)
    words = ["".join(chance.choices(string.ascii_lowercase, k=chance.randint(4, 10))) for _ in range(MAX_TOTAL_ENTRIES)]
    paragraphs = [" ".join(chance.choice(words) for _ in range(60)) + "." for _ in range(300)]

    def lexicon(size: int) -> tuple:
        entries = {w.capitalize() if n % 2 else w: ("/hˈaɪd/" if n % 3 else "Resp") for n, w in enumerate(words[:size])}
        return merged(*(parse_lexicon(dict(list(entries.items())[at:at + MAX_ENTRIES]), "t")
                        for at in range(0, size, MAX_ENTRIES)))

    def plan_time(entries: tuple) -> float:
        start = time.perf_counter()
        for paragraph in paragraphs:
            words_in(entries, respell(paragraph, entries))
            if time.perf_counter() - start > 30:
                break  # far too slow already
        return time.perf_counter() - start

    few, many = lexicon(10), lexicon(MAX_TOTAL_ENTRIES)
    plan_time(few), plan_time(many)  # built once each, as for a book
    assert plan_time(many) < 5 * plan_time(few) + 0.05


def test_keys_with_dots_and_hyphens_match_the_longest_whole_word():
    lexicon = parse_lexicon({"Hyde": "Hide", "Hyde-Park": "Haid Park", "St.": "Saint", "park": "Parc"}, "t")
    assert respell("St. Hyde-Park, Hyde's hat; HYDE, Hyde-park. PARK St.Hyde", lexicon) == \
        "Saint Haid Park, Hyde's hat; HYDE, Hide-Parc. Parc St.Hide"


@pytest.mark.processes
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


@pytest.mark.model
def test_the_model_hears_the_lexicon(real_models):
    """The same sentence with a name given a longer pronunciation comes out longer."""
    from daemon.synth.engine import EngineSettings, KokoroEngine

    engine = KokoroEngine(EngineSettings(str(real_models / "kokoro-v1.0.int8.onnx"),
                                         str(real_models / "voices-v1.0.bin")))
    plain = engine.speak("Then Hyde came in.", "af_heart", 1.0, "en-us")
    longer = parse_lexicon({"Hyde": "/hˈaɪdəbɹˌaɪdəbˌaɪdə/"}, "t")
    spliced = engine.speak("Then Hyde came in.", "af_heart", 1.0, "en-us", longer)
    assert len(spliced) > len(plain) + 0.3 * 24000
