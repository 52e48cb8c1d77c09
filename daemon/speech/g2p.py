"""Text to the phonemes Kokoro reads: the grapheme-to-phoneme stage, per language.

Kokoro was trained on the phonemes of misaki, hexgrad's G2P, and reads best from
them.  Measured on 208 words from the corpus (bench/g2p_eval.py, README "How
words are pronounced"), misaki with spaCy's tagger gets 87 % right where
espeak-ng gets 75.5 % (homographs 88 % vs 74 %), so:

- English (en-us, en-gb): misaki, with the tagger ``kokoro-inbox models fetch``
  verifies and unpacks, and espeak-ng for words misaki does not know; plain
  espeak-ng when misaki or the tagger is missing (misaki without its tagger is
  worse than espeak-ng, so it is never used that way);
- Japanese and Mandarin: misaki's readers for them (fugashi with unidic-lite;
  jieba with pypinyin), from the ``japanese``/``chinese`` extras.  espeak-ng
  reads every kanji as "Chinese letter" and drops Mandarin tones, so without
  those extras such a book is refused with a sentence saying what to install;
- every other language: espeak-ng, as kokoro-onnx does.

One ``Phonemizer`` lives in each worker process; readers load on first use.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import types
from pathlib import Path
from typing import Callable

from daemon.errors import UnsupportedLanguage

log = logging.getLogger(__name__)

Espeak = Callable[[str, str], str]  # (text, espeak language) -> phonemes

EXTRAS = {
    "ja": ("japanese", ("misaki", "fugashi", "unidic_lite", "jaconv", "mojimoji"), "Japanese"),
    "cmn": ("chinese", ("misaki", "jieba", "pypinyin", "cn2an", "ordered_set"), "Mandarin Chinese"),
}


def _installed(*modules: str) -> bool:
    return all(importlib.util.find_spec(name) is not None for name in modules)


def check_reader(lang: str) -> None:
    """Refuse, before any work, a language whose reader is not installed."""
    extra = EXTRAS.get(lang)
    if extra is None or _installed(*extra[1]):
        return
    name, _, language = extra
    raise UnsupportedLanguage(
        f"{language} books need the optional {language} reader, which is not installed "
        f"(espeak-ng reads them as noise): pip install 'kokoro-inbox[{name}]' in the service's "
        "environment, then drop the book again")


class Phonemizer:
    """Phonemes for a text in one of Kokoro's languages, through the best reader installed."""

    def __init__(self, models_dir: Path | None, espeak: Espeak) -> None:
        self.models_dir = models_dir
        self.espeak = espeak
        self._readers: dict[str, Callable[[str], str]] = {}

    def __call__(self, text: str, lang: str) -> str:
        reader = self._readers.get(lang)
        if reader is None:
            reader = self._readers[lang] = self._reader(lang)
        return reader(text)

    def reader_name(self, lang: str) -> str:
        self(".", lang)
        return getattr(self._readers[lang], "name", "espeak-ng")

    def _reader(self, lang: str) -> Callable[[str], str]:
        if lang in ("en-us", "en-gb"):
            return self._english(lang == "en-gb") or self._espeak_for(lang)
        if lang == "ja":
            check_reader(lang)
            return _named(_japanese(), "misaki (fugashi, unidic-lite)")
        if lang == "cmn":
            check_reader(lang)
            return _named(_mandarin(), "misaki (jieba, pypinyin)")
        return self._espeak_for(lang)

    def _espeak_for(self, lang: str) -> Callable[[str], str]:
        return _named(lambda text: self.espeak(text, lang), "espeak-ng")

    def _english(self, british: bool) -> Callable[[str], str] | None:
        from daemon import models

        tagger = models.english_tagger(self.models_dir) if self.models_dir and _installed("misaki", "spacy") \
            else None
        if tagger is None:
            log.warning("English is read with espeak-ng: misaki or its tagger (%s) is missing; "
                        "'kokoro-inbox models fetch' gets the tagger", models.ENGLISH_TAGGER)
            return None
        return _named(_misaki_english(tagger, british), "misaki (spaCy tagger)")


def _named(reader: Callable[[str], str], name: str) -> Callable[[str], str]:
    reader.name = name  # type: ignore[attr-defined]
    return reader


def _misaki_english(tagger: Path, british: bool) -> Callable[[str], str]:
    """misaki's English G2P around a tagger loaded from a folder.

    misaki 0.9.4 (pinned) builds its G2P with spaCy's model loaded by package
    name, downloading it from GitHub when it is missing; the same attributes are
    set here with the verified model loaded from the models folder.
    """
    import spacy
    from misaki import en, espeak

    g2p = en.G2P.__new__(en.G2P)
    g2p.version, g2p.british, g2p.unk = None, british, ""
    g2p.nlp = spacy.load(tagger, enable=["tok2vec", "tagger"])
    g2p.lexicon = en.Lexicon(british)
    g2p.fallback = espeak.EspeakFallback(british=british)  # words misaki does not know
    return lambda text: g2p(text)[0]


def _japanese() -> Callable[[str], str]:
    # misaki.ja imports pyopenjtalk at the top, though its default reader (fugashi with
    # unidic-lite) never calls it; pyopenjtalk itself downloads its dictionary at run time.
    if importlib.util.find_spec("pyopenjtalk") is None:
        sys.modules.setdefault("pyopenjtalk", types.ModuleType("pyopenjtalk"))
    from misaki import ja

    g2p = ja.JAG2P()
    return lambda text: g2p(text)[0].replace("g", "ɡ")  # an ASCII g now and then; Kokoro has ɡ


def _mandarin() -> Callable[[str], str]:
    from misaki import zh

    g2p = zh.ZHG2P()  # the phoneme set Kokoro v1.0's Mandarin voices were trained with
    return lambda text: g2p(text)[0]
