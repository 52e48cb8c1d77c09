"""How words are pronounced: the listener's lexicon, and text to the phonemes the model reads.

A lexicon maps words to a pronunciation, either IPA between slashes
(``Hyde: /hˈaɪd/``), given to the model as it is, or a respelling
(``Utterson: Utter-sun``), read instead of the word.  Entries apply to whole
words; a key written with a capital letter matches only that spelling (a name),
an all-lowercase key matches the word in any case.  Lexicons come from the
config (``speech.lexicon``), a ``lexicon.yaml`` in the inbox or any folder
below it (nearer ones win), and a sidecar's ``pronounce:`` mapping.

``phonemes`` is the grapheme-to-phoneme stage: it runs in the worker, just
before the model, and splices the lexicon's IPA into what espeak-ng makes of
the rest of the text.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from .errors import InvalidSetting

LEXICON_FILE = "lexicon.yaml"
MAX_ENTRIES = 5_000
MAX_WORD = 60
MAX_PRONUNCIATION = 120
_WORD = re.compile(r"^[^\W\d_][\w'’.-]*$")


@dataclass(frozen=True)
class Pronunciation:
    word: str
    ipa: str | None = None  # phonemes, given to the model as they are
    respelling: str | None = None  # words read instead

    def as_text(self) -> str:
        return f"/{self.ipa}/" if self.ipa is not None else str(self.respelling)


Lexicon = tuple[Pronunciation, ...]


@functools.lru_cache(maxsize=1)
def kokoro_phoneme_set() -> frozenset[str]:
    """The symbols the model knows (kokoro-onnx's vocabulary; no model file needed)."""
    import kokoro_onnx

    config = Path(kokoro_onnx.__file__).with_name("config.json")
    return frozenset(json.loads(config.read_text(encoding="utf-8"))["vocab"])


def parse_lexicon(raw: Any, origin: str) -> Lexicon:
    """Entries from a YAML mapping, each checked; errors name the word and say what is wrong."""
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise InvalidSetting(f"{origin}: must map words to pronunciations, e.g. 'Hyde: /hˈaɪd/'",
                             key="pronounce")
    if len(raw) > MAX_ENTRIES:
        raise InvalidSetting(f"{origin}: {len(raw)} entries is too many (at most {MAX_ENTRIES})", key="pronounce")
    return tuple(_entry(word, value, origin) for word, value in raw.items())


def _entry(word: Any, value: Any, origin: str) -> Pronunciation:
    if not isinstance(word, str) or len(word) > MAX_WORD or not _WORD.match(word):
        raise InvalidSetting(f"{origin}: {str(word)[:MAX_WORD]!r} is not a word (letters, then letters, "
                             "apostrophes, dots or hyphens)", key="pronounce")
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_PRONUNCIATION:
        raise InvalidSetting(f"{origin}: {word!r} needs a pronunciation: IPA between slashes "
                             "('/hˈaɪd/') or a respelling ('Hide')", key="pronounce")
    value = value.strip()
    if len(value) > 2 and value.startswith("/") and value.endswith("/"):
        ipa = value[1:-1].strip()
        unknown = sorted(set(ipa) - kokoro_phoneme_set() - {" "})
        if unknown:
            raise InvalidSetting(f"{origin}: {word!r}: {''.join(unknown)!r} is not in the model's "
                                 "phoneme set; use the symbols 'kokoro-inbox inspect --phonemes' shows",
                                 key="pronounce")
        return Pronunciation(word, ipa=ipa)
    return Pronunciation(word, respelling=value)


def merged(*lexicons: Lexicon) -> Lexicon:
    """Later lexicons win, word by word."""
    entries: dict[str, Pronunciation] = {}
    for lexicon in lexicons:
        for entry in lexicon:
            entries[entry.word] = entry
    return tuple(entries.values())


def as_mapping(lexicon: Lexicon) -> dict[str, str]:
    return {entry.word: entry.as_text() for entry in lexicon}


# --------------------------------------------------------------------------- applying it

@functools.lru_cache(maxsize=64)
def _pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"(?<![\w'’])(" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
                      + r")(?![\w'’])", re.IGNORECASE)


@functools.lru_cache(maxsize=64)
def _matcher(lexicon: Lexicon) -> Callable[[str], Pronunciation | None]:
    exact = {e.word: e for e in lexicon if e.word != e.word.lower()}
    folded = {e.word: e for e in lexicon if e.word == e.word.lower()}

    def find(word: str) -> Pronunciation | None:
        return exact.get(word) or folded.get(word.lower())
    return find


def words_in(lexicon: Lexicon, text: str) -> Lexicon:
    """The IPA entries whose words occur in ``text`` (what one segment's worker needs)."""
    with_ipa = tuple(e for e in lexicon if e.ipa is not None)
    if not with_ipa:
        return ()
    find = _matcher(with_ipa)
    found = {find(m.group(0)) for m in _pattern(tuple(e.word for e in with_ipa)).finditer(text)}
    return tuple(e for e in with_ipa if e in found)


def respell(text: str, lexicon: Lexicon) -> str:
    """The text with respelled words replaced (what ``inspect --text`` shows being read)."""
    respellings = tuple(e for e in lexicon if e.respelling is not None)
    if not respellings:
        return text
    find = _matcher(respellings)

    def replace(match: re.Match[str]) -> str:
        entry = find(match.group(0))
        return entry.respelling if entry and entry.respelling else match.group(0)
    return _pattern(tuple(e.word for e in respellings)).sub(replace, text)


def phonemes(text: str, lang: str, lexicon: Lexicon, phonemize: Callable[[str, str], str]) -> str:
    """What the model receives for ``text``: espeak-ng's phonemes, with the lexicon's IPA
    spliced in for its words (``phonemize`` is the tokenizer's espeak-ng call)."""
    with_ipa = tuple(e for e in lexicon if e.ipa is not None)
    if not with_ipa:
        return phonemize(text, lang)
    find = _matcher(with_ipa)
    parts: list[str] = []
    start = 0
    for match in _pattern(tuple(e.word for e in with_ipa)).finditer(text):
        entry = find(match.group(0))
        if entry is None:
            continue
        parts.append(phonemize(text[start:match.start()], lang) if text[start:match.start()].strip() else "")
        parts.append(entry.ipa or "")
        start = match.end()
    rest = text[start:]
    parts.append(phonemize(rest, lang) if rest.strip() else "")
    return _joined(parts)


def _joined(parts: list[str]) -> str:
    out = ""
    for part in (p.strip() for p in parts):
        if not part:
            continue
        glue = "" if not out or part[0] in ".,;:!?…—)\"'" else " "
        out += glue + part
    return out
