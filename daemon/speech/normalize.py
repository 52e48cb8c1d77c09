"""Printed text -> the words a careful narrator says, in each of Kokoro's languages.

The phonemizer reads what it is given: "Mr. Darcy" becomes a sentence end after
"mister", "£40" becomes "pound forty", "Henry VIII" becomes "Henry roman eight".
This stage rewrites such printed forms into plain words before that happens, so
that ``inspect --text`` shows exactly what is said.

It is one pass per paragraph: every rule of a language is an alternative of one
compiled regex, scanned left to right; a match is replaced by its spoken form and
the text between matches passes through untouched.  One pass means no rule ever
re-reads another's output ("Number one" is never seen again as "No"), and
:func:`trace` shows, span by span, what became of every character: the proof that
nothing is dropped by accident.

This module owns only the order of the rules and the scan.  Each kind of printed
form has its own module (money, dates, quantities, abbreviations, numerals...), its
words are in :mod:`daemon.speech.tables`, one module per language, and numbers are
said by :mod:`daemon.speech.numbers`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from . import abbreviations, citations, dates, greek, money, numerals, quantities, symbols, web
from .profiles import Profile, profile
from .rules import GATES, NEVER, Handler, Rule


@dataclass(frozen=True)
class Span:
    """A stretch of a paragraph and what is said for it (``rule`` None: as printed)."""

    source: str
    spoken: str
    rule: str | None


# The only rules that say nothing for what they match (footnote marks glued to a
# word, list bullets): the deliberate exceptions to "every character is spoken".
SILENT_RULES = frozenset({"mark", "bullet"})

_MODULES = (web, symbols, money, citations, quantities, dates, abbreviations, numerals, greek)

# Every rule by name, in priority order: where two rules match at one position, the
# earlier one wins.  Addresses first (their dots and digits are no one else's), then
# the marks that look like digits (x², a footnote's ¹), then the forms that hold a
# number (money before the plain number, ordinals and units before it, leftover digits
# last of them), then the words (a counter or a keyword before its numeral, titles and
# abbreviations before bare initials), and the signs and Greek last.
ORDER = (
    "email", "url", "bullet", "power", "mark",
    "old_money", "verse", "ratio", "money", "time", "date", "day_month", "dash_year", "decade",
    "ordinal", "percent", "fraction", "unit", "range", "number", "digits",
    "counter", "roman_keyword", "roman_suffix", "regnal", "saint", "title_letter", "abbreviation", "era",
    "initials", "symbol", "greek",
)


def _rules(p: Profile) -> list[Rule]:
    """Every rule of the profile's language, in :data:`ORDER`."""
    by_name = {rule.name: rule for module in _MODULES for rule in module.rules(p)}
    ordered = [by_name.pop(name) for name in ORDER]  # (a KeyError: ORDER names a rule no module has)
    if by_name:
        raise LookupError(f"rules with no place in ORDER, which would never be tried: {sorted(by_name)}")
    return ordered


@lru_cache(maxsize=None)
def _handlers(lang: str) -> dict[str, Handler]:
    return {rule.name: rule.say for rule in _rules(profile(lang))}


@lru_cache(maxsize=None)
def _compiled(lang: str, gates: frozenset[str]) -> re.Pattern:
    rules = [rule for rule in _rules(profile(lang))
             if rule.regex != NEVER and (not rule.needs or rule.needs & gates)]
    return re.compile("|".join(f"(?P<{rule.name}>{rule.regex})" for rule in rules), re.MULTILINE)


def _pattern(text: str, lang: str) -> re.Pattern:
    return _compiled(lang, frozenset(name for name, gate in GATES.items() if gate.search(text)))


def _speak(match: re.Match, lang: str) -> str:
    # a rule's own group is the outermost one, so it is the last to close
    return _handlers(lang)[match.lastgroup](match, profile(lang))


def normalize(text: str, lang: str = "en-us") -> str:
    """The paragraph as a narrator reads it in ``lang`` (one of our language codes)."""
    text = _prepare(text, lang)
    return _pattern(text, lang).sub(lambda match: _speak(match, lang), text)


def trace(text: str, lang: str = "en-us") -> list[Span]:
    """The paragraph cut into spans, each with what is said for it and the rule that
    decided; the spoken forms joined are :func:`normalize`'s result."""
    text = _prepare(text, lang)
    spans: list[Span] = []
    position = 0
    for match in _pattern(text, lang).finditer(text):
        if match.start() > position:
            spans.append(Span(text[position:match.start()], text[position:match.start()], None))
        spans.append(Span(match.group(0), _speak(match, lang), match.lastgroup))
        position = match.end()
    if position < len(text):
        spans.append(Span(text[position:], text[position:], None))
    return spans


_OTHER_DIGITS = str.maketrans("０１２３４５６７８９०१२३४५६७८९", "01234567890123456789")
_WIDE_SEPARATOR = re.compile(r"(?<=\d)[．，：](?=\d)")


def _prepare(text: str, lang: str) -> str:
    """Full-width and Devanagari digits (and full-width marks between them) are read
    like any others."""
    if lang not in ("ja", "cmn", "hi"):
        return text
    text = text.translate(_OTHER_DIGITS)
    return _WIDE_SEPARATOR.sub(lambda m: {"．": ".", "，": ",", "：": ":"}[m.group(0)], text)
