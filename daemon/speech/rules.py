"""What a normalisation rule is: a name, a regex, what is said for a match, and the
gates that must be open for the rule to be tried at all.

Each module of :mod:`daemon.speech` that reads one kind of printed form (money,
dates, Roman numerals...) has a function ``rules(p: Profile) -> list[Rule]``: all its
rules, with the regex :data:`NEVER` for a form the language does not have.
:mod:`daemon.speech.normalize` puts them in priority order (its ``ORDER``: a new rule
gets its place there) and scans a paragraph once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable

from .profiles import Profile

# What is said for a match, given the language's profile
Handler = Callable[[re.Match, Profile], str]

# The regex of a rule a language does not have: it never matches, and it is left out
# of the scan
NEVER = r"(?!x)x"

# Most paragraphs have no digit, no sign and no address: the rules that need one are
# left out of the scan for them, which makes it about four times faster.
GATES = {
    "digit": re.compile(r"\d"),
    "sign": re.compile(r"[&§¶*†‡¹²³⁴⁵⁶⁷⁸⁹⁰•‣⁃▪½⅓⅔¼¾⅕⅖⅗⅘⅙⅚⅛⅜⅝⅞]"),
    "web": re.compile(r"@|://|www\d?\.|\.(?:com|org|net|edu|gov|info)\b"),
}
DIGIT = frozenset({"digit"})
SIGN = frozenset({"sign"})
WEB = frozenset({"web"})


@dataclass(frozen=True)
class Rule:
    """One kind of printed form and what a narrator says for it."""

    name: str      # the regex group's name, and what :func:`~daemon.speech.normalize.trace` reports
    regex: str     # NEVER where the language has no such form
    say: Handler
    needs: frozenset[str] = frozenset()  # tried only where one of these GATES is open; empty: always


def alternatives(words: Iterable[str]) -> str:
    """A regex matching any of the words, the longest first (so 'pp.' wins over 'p.')."""
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) or NEVER
