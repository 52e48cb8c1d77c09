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
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from daemon.errors import InvalidSetting

LEXICON_FILE = "lexicon.yaml"
MAX_ENTRIES = 5_000  # in one lexicon: a lexicon.yaml, the config's, a sidecar's pronounce:
# ...and in all those one book gathers, from the config down the inbox's folders to its
# sidecar.  A book's names and odd words are a few hundred; without a cap, twenty folders
# of 5,000 gave every book below them 100,000 entries to look for.
MAX_TOTAL_ENTRIES = 10_000
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


def check_total(lexicon: Lexicon, sources: list[tuple[str, int]]) -> None:
    """Refuse lexicons that add up to more than MAX_TOTAL_ENTRIES words for one book,
    naming where they came from: ``sources`` is (origin, entries) in the order gathered."""
    if len(lexicon) <= MAX_TOTAL_ENTRIES:
        return
    named = ", ".join(f"{origin}: {count:,}" for origin, count in sources[:6])
    if len(sources) > 6:
        named += f" and {len(sources) - 6} more"
    raise InvalidSetting(f"pronounce: the lexicons for this book add up to {len(lexicon):,} words, more than "
                         f"{MAX_TOTAL_ENTRIES:,} ({named}); keep them to the words your books need",
                         key="pronounce")


def as_mapping(lexicon: Lexicon) -> dict[str, str]:
    return {entry.word: entry.as_text() for entry in lexicon}


# --------------------------------------------------------------------------- applying it

# Where a lexicon word may start and end: not inside a word, an apostrophe's contraction or
# a possessive ("Hyde's" is not "Hyde"); dots and hyphens may stand on either side.
_WORD_START = re.compile(r"(?<![\w'’])[^\W\d_]")
_PLAIN_WORD = re.compile(r"(?<![\w'’])[^\W\d_][\w'’]*")  # a whole word, when no key has a dot or hyphen
_WORD_CHARS = re.compile(r"[\w'’.-]*")
_INNER_CUT = re.compile(r"[.-]")
_WORDLIKE = re.compile(r"[\w'’]")


class _Matcher:
    """Finds a lexicon's words in text in one pass, whatever the number of entries.

    Each word of the text is looked up in two dictionaries: a key with a capital letter
    matches only its own spelling, an all-lowercase key the word in any case.  When a
    key has a dot or a hyphen ('St.', 'Jean-Luc'), each place a word may start is
    tried at the few places it may end (a dot or hyphen, or the end of the run of word
    characters, at most the longest key on), longest first.  (One regex alternation
    of all the words, as before, tried every entry at every word: 10,000 entries made
    a 5,000-paragraph book take minutes to plan.)
    """

    def __init__(self, entries: Lexicon) -> None:
        self.exact = {e.word: e for e in entries if e.word != e.word.lower()}
        self.folded = {e.word: e for e in entries if e.word == e.word.lower()}
        self.lengths = frozenset(len(e.word) for e in entries)
        self.longest = max(self.lengths, default=0)
        self.order = {e: n for n, e in enumerate(entries)}
        self.plain = not any("." in e.word or "-" in e.word for e in entries)

    def finditer(self, text: str) -> Iterator[tuple[int, int, Pronunciation]]:
        """(start, end, entry) of each word of the lexicon in ``text``, left to right."""
        if not self.longest:
            return
        if self.plain:  # each word of the text is one key to look up
            for match in _PLAIN_WORD.finditer(text):
                word = match.group(0)
                entry = self.exact.get(word) or self.folded.get(word.lower())
                if entry is not None:
                    yield match.start(), match.end(), entry
            return
        position = 0
        while True:
            start = _WORD_START.search(text, position)
            if start is None:
                return
            found = self._at(text, start.start())
            if found is None:
                position = start.start() + 1
                continue
            yield start.start(), found[0], found[1]
            position = found[0]

    def _at(self, text: str, start: int) -> tuple[int, Pronunciation] | None:
        """The longest entry that is a whole word at ``start``, with its end."""
        run = _WORD_CHARS.match(text, start, start + self.longest + 1).end()
        ends = [m.start() for m in _INNER_CUT.finditer(text, start + 1, run)]
        if not _WORDLIKE.match(text, run):
            ends.append(run)
        for end in reversed(ends):
            if end - start not in self.lengths:
                continue
            word = text[start:end]
            entry = self.exact.get(word) or self.folded.get(word.lower())
            if entry is not None:
                return end, entry
        return None


_matchers: dict[tuple[int, bool], tuple[Lexicon, _Matcher]] = {}
_matchers_lock = threading.Lock()


def _matcher(lexicon: Lexicon, ipa: bool) -> _Matcher:
    """The matcher of the lexicon's IPA (or respelled) entries, built once per lexicon: it is
    looked up by identity, since hashing 10,000 entries for every paragraph cost seconds."""
    key = (id(lexicon), ipa)
    with _matchers_lock:
        cached = _matchers.get(key)
        if cached is not None and cached[0] is lexicon:  # (kept with it, so its id is its own)
            return cached[1]
        matcher = _Matcher(tuple(e for e in lexicon if (e.ipa is not None) == ipa))
        if len(_matchers) >= 16:
            del _matchers[next(iter(_matchers))]
        _matchers[key] = (lexicon, matcher)
        return matcher


def words_in(lexicon: Lexicon, text: str) -> Lexicon:
    """The IPA entries whose words occur in ``text`` (what one segment's worker needs)."""
    if not lexicon:
        return ()
    matcher = _matcher(lexicon, ipa=True)
    found = {entry for _, _, entry in matcher.finditer(text)}
    return tuple(sorted(found, key=matcher.order.__getitem__))


def respell(text: str, lexicon: Lexicon) -> str:
    """The text with respelled words replaced (what ``inspect --text`` shows being read)."""
    if not lexicon:
        return text
    parts: list[str] = []
    position = 0
    for start, end, entry in _matcher(lexicon, ipa=False).finditer(text):
        parts += [text[position:start], str(entry.respelling)]
        position = end
    return "".join(parts) + text[position:] if parts else text


def phonemes(text: str, lang: str, lexicon: Lexicon, phonemize: Callable[[str, str], str]) -> str:
    """What the model receives for ``text``: espeak-ng's phonemes, with the lexicon's IPA
    spliced in for its words (``phonemize`` is the tokenizer's espeak-ng call)."""
    matcher = _matcher(lexicon, ipa=True)
    if not matcher.longest:
        return phonemize(text, lang)
    parts: list[str] = []
    start = 0
    for begin, end, entry in matcher.finditer(text):
        parts.append(phonemize(text[start:begin], lang) if text[start:begin].strip() else "")
        parts.append(entry.ipa or "")
        start = end
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
