"""Signs: &, §, ¶ and arithmetic between numbers said as words; powers (x²); and the
marks deliberately left silent, footnote marks glued to a word and list bullets."""

from __future__ import annotations

import re

from .profiles import Profile
from .rules import DIGIT, NEVER, SIGN, Rule
from .tables import by_family

_SYMBOLS: dict[str, dict[str, str]] = by_family("SYMBOLS")

_BULLET = r"^[*•‣⁃▪]\s+"
_POWER = r"(?<=(?<!\w)[a-zA-Z])[²³]"
_MARK = (r"(?:(?<=[^\W\d_])|(?<=[^\W\d_][.,;:!?”’\"»)]))[*†‡¹²³⁴⁵⁶⁷⁸⁹⁰]+"
         r"(?=[\s.,;:!?\"”’'»)\]—–-]|$)")
_SYMBOL = r"(?P<sym>&|§§|§|¶|(?<=\d)\s?×\s?(?=\d)|(?<=\d )[+=](?= \d))"


def rules(p: Profile) -> list[Rule]:
    return [
        Rule("bullet", _BULLET, _silent, SIGN),
        Rule("power", _POWER if p.family == "en" else NEVER, _power, SIGN),
        Rule("mark", _MARK, _silent, SIGN),
        Rule("symbol", _SYMBOL, _symbol, SIGN | DIGIT),
    ]


def _silent(match: re.Match, p: Profile) -> str:
    return ""


def _power(match: re.Match, p: Profile) -> str:
    """'x²' -> 'x squared': a superscript after a one-letter variable is a power, not a note."""
    return {"²": " squared", "³": " cubed"}[match.group(0)]


def _symbol(match: re.Match, p: Profile) -> str:
    """&, §, ¶, and ×, +, = between numbers: the word for the sign."""
    sign = match.group("sym").strip()
    word = _SYMBOLS[p.family].get(sign) or _SYMBOLS["en"][sign]
    return word if p.family in ("ja", "zh") else f" {word} "
