"""Abbreviations: titles and Latin (Mr. -> Mister, etc. -> et cetera), the words that
introduce a number (No. 5, pp. 12), St. as Saint or Street, a title's letter (M. Dupin),
initials (H. G. Wells, U.S.), compass bearings (N. N. W.) and eras (AD, BC).

Each keeps its full stop only where the sentence really ends there, so that the
sentence splitter downstream cuts where a narrator pauses.  The tables are per
language, in :mod:`daemon.speech.tables`.
"""

from __future__ import annotations

import re

from .context import (
    NEXT_WORD,
    ONLY_CLOSING,
    SENTENCE_STARTERS,
    capitalised,
    next_char,
    next_word,
    only_opening_before,
    prev_word,
    stop,
)
from .profiles import Profile
from .rules import DIGIT, NEVER, Rule, alternatives
from .tables import by_family, en

_ABBREVIATIONS: dict[str, dict[str, tuple[str, str]]] = by_family("ABBREVIATIONS")
COUNTERS: dict[str, dict[str, str]] = by_family("COUNTERS")
_TITLE_LETTERS: dict[str, dict[str, str]] = by_family("TITLE_LETTERS")
_COUNTING = re.compile(r"(?:(?<![\w.])(?:" + "|".join(
    re.escape(k) for k in sorted({k for table in COUNTERS.values() for k in table}, key=len, reverse=True))
    + r"|§|[Pp]ages?|[Nn]umbers?)\s*)$")


def rules(p: Profile) -> list[Rule]:
    f = p.family
    english = f == "en"
    return [
        Rule("counter", rf"(?<![\w.])(?P<ct>{alternatives(COUNTERS[f])})(?=\s?\d)", _counter, DIGIT),
        Rule("saint", r"(?<![\w.])St\.?(?=\s)" if english else NEVER, _saint),
        Rule("title_letter", rf"(?<![\w.’'-])(?P<tl>{'|'.join(_TITLE_LETTERS.get(f, {})) or 'x^'})\.(?=\s+\w)",
             _title_letter),
        Rule("abbreviation", _abbreviation_re(f), _abbreviation),
        Rule("era", r"(?<=\d )(?:AD|BC|BCE|CE)\b|\b(?:AD|BC)(?= \d)" if english else NEVER, _era, DIGIT),
        Rule("initials", r"(?<![\w.’'-])(?P<in>(?:[A-Z]\.\s?)*[A-Z]\.)(?=[\s,;:)\]”’\"]|$)", _initials),
    ]


def counting_before(text: str, start: int) -> bool:
    """A number after 'No.', 'p.', '§', '#' counts things: it is never a year."""
    return bool(_COUNTING.search(text, max(0, start - 12), start))


def _counter(match: re.Match, p: Profile) -> str:
    """'No. 1', 'pp. 12-14', 'vol. 3' -> 'Number', 'pages', 'volume' (a number follows)."""
    spoken = COUNTERS[p.family][match.group("ct")]
    return spoken if match.string[match.end():match.end() + 1].isspace() else spoken + " "  # '#5'


def _abbreviation_re(family: str) -> str:
    # Forms without a full stop ('Mr Darcy') count only before a capitalised name
    forms = "|".join(
        re.escape(k) + ("" if k.endswith(".") else r"(?=\s+[A-ZÀ-Ý])")
        for k in sorted(_ABBREVIATIONS[family], key=len, reverse=True))
    return rf"(?<![\w.&])(?P<ab>{forms or NEVER})(?!\w)"


def _abbreviation(match: re.Match, p: Profile) -> str:
    """Mr. -> Mister; etc. -> et cetera, keeping the full stop only where the sentence ends."""
    printed = match.group("ab")
    spoken, kind = _ABBREVIATIONS[p.family][printed]
    text, end = match.string, match.end()
    if not printed.endswith("."):
        return spoken
    if text.startswith(".", end):  # 'etc...': the full stop is the first dot of an ellipsis
        return spoken + "."
    if kind in ("title", "lead"):  # a name or an example follows: never a sentence end
        return spoken + ("" if next_char(text, end) else ".")
    return spoken + stop(text, end)


def _saint(match: re.Match, p: Profile) -> str:
    """St. Paul -> Saint Paul; Gracechurch St. -> Gracechurch Street."""
    text, end = match.string, match.end()
    following = next_word(text, end)
    if capitalised(following) and following not in SENTENCE_STARTERS:
        return "Saint"
    return "Street" + (stop(text, end) if match.group(0).endswith(".") else "")


def _title_letter(match: re.Match, p: Profile) -> str:
    """M. Dupin -> Monsieur Dupin, D. Quijote -> don Quijote; but Raymond M. Alden keeps
    his initial, and so does a letter signed 'M. Gardiner.'."""
    letter = match.group("tl")
    text, end = match.string, match.end()
    before = prev_word(text, match.start())
    following = next_word(text, end)
    after_name = (capitalised(before) and before not in SENTENCE_STARTERS
                  and not before.endswith((".", ",", ";", ":", "!", "?", "”", '"')))
    after_initial = bool(re.fullmatch(r"[A-Z]\.", before))
    signature = bool(only_opening_before(text, match.start())
                     and ONLY_CLOSING.fullmatch(text, end + len(NEXT_WORD.match(text, end).group(0))))
    if after_name or after_initial or signature or not capitalised(following):
        return _initials_text([letter], p) + ("" if next_char(text, end) else ".")
    return _title_word(letter, p.family, following)


def _title_word(letter: str, family: str, name: str) -> str:
    if family == "pt" and letter == "D":
        return "Dona" if name.endswith("a") else "Dom"
    return _TITLE_LETTERS[family][letter]


def _initials(match: re.Match, p: Profile) -> str:
    """'H. G. Wells' -> 'H-G Wells'; 'U.S.' -> 'U-S': letter names, no full stops, except
    where the sentence ends ('in the U.S. He left')."""
    printed = match.group("in")
    letters = re.findall(r"[A-Z]", printed)
    if letters == ["I"]:
        return printed  # 'said I. Then ...': the pronoun ending a sentence
    text, end = match.string, match.end()
    following = next_word(text, end)
    lower_after = not following or following[0].islower()
    # one letter before a verb is a person ('he feared W. was not a man to be trusted')
    bearing = len(letters) > 1 or not following or following.lower() in en.AFTER_A_BEARING
    if p.family == "en" and len(letters) <= 3 and set(letters) <= set("NSEW") and lower_after and bearing:
        spoken = _compass(letters)  # 'wind N. N. W.', 'S. E. of the island', 'due W. of it'
    else:
        spoken = _initials_text(letters, p)
    if not next_char(text, end):
        return spoken + "."
    return spoken + ("." if following in SENTENCE_STARTERS else "")


def _compass(letters: list[str]) -> str:
    """N. N. W. -> north-north-west."""
    return "-".join(en.COMPASS_POINTS[letter] for letter in letters)


def _era(match: re.Match, p: Profile) -> str:
    """'AD 1781', '55 BC': said as letters (espeak reads 'AD' as the word 'ad')."""
    return "-".join(match.group(0))


def _initials_text(letters: list[str], p: Profile) -> str:
    # espeak reads a lone capital A as the article 'a'; a hyphen makes it the letter's name
    joined = "-".join(letters)
    return joined + "-" if joined == "A" and p.family == "en" else joined
