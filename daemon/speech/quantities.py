"""Printed figures: ordinals (1st, 1er, 2.º), percentages, fractions (12½, 3/4), units
of measure (6 ft., 19°), ranges (1914–1918, pp. 12-14), ratios (3:1), and the figure
that is either a year ('in 1881 he') or a count ('1881 chests'); digits no other rule
read are said as a number, never skipped."""

from __future__ import annotations

import re
from functools import lru_cache

from .abbreviations import counting_before
from .context import WORD_AFTER, next_word, stop
from .numbers import LONGEST_NUMBER, cardinal, decimal, joiner, ordinal, year
from .profiles import Profile
from .rules import DIGIT, NEVER, SIGN, Rule
from .tables import by_family, en

_ORDINAL_SUFFIXES: dict[str, str] = by_family("ORDINAL_SUFFIXES")
_UNITS: dict[str, dict[str, tuple[str, str]]] = by_family("UNITS")
_FRACTIONS: dict[str, dict[tuple[int, int], tuple[str, ...]]] = by_family("FRACTIONS")
# Abbreviated units whose full stop is part of the key ('in.' is a unit, 'in' a word)
_UNIT_KEEP_DOT = frozenset({"in."})
_VULGAR = {"½": (1, 2), "⅓": (1, 3), "⅔": (2, 3), "¼": (1, 4), "¾": (3, 4), "⅕": (1, 5), "⅖": (2, 5),
           "⅗": (3, 5), "⅘": (4, 5), "⅙": (1, 6), "⅚": (5, 6), "⅛": (1, 8), "⅜": (3, 8), "⅝": (5, 8),
           "⅞": (7, 8)}


def rules(p: Profile) -> list[Rule]:
    dec = p.number_re
    return [
        Rule("ratio", r"(?<![\d.:,])(?P<ra_a>\d{1,3}):(?P<ra_b>\d)(?![\d:])" if p.family == "en" else NEVER,
             _ratio, DIGIT),
        Rule("ordinal", _ordinal_re(p.family), _ordinal, DIGIT),
        Rule("percent", rf"(?<![\d.,])(?P<pc_num>{dec})\s?(?:%|％)", _percent, DIGIT),
        Rule("fraction", r"(?:(?P<f_whole>\d+)\s?)?(?P<f_glyph>[½⅓⅔¼¾⅕⅖⅗⅘⅙⅚⅛⅜⅝⅞])"
                         r"|(?<![\d/.,])(?:(?P<f_whole2>\d+)\s)?(?P<f_top>\d{1,2})/(?P<f_bottom>\d{1,2})(?![\d/])",
             _fraction, SIGN | DIGIT),
        Rule("unit", rf"(?<![\d.,])(?P<u_num>{dec})\s?(?P<u_unit>{_units_re(p)})", _unit, DIGIT),
        Rule("range", r"(?<![\d.,/-])(?P<r_a>\d{1,4})(?P<r_sep>\s?[–-]\s?)(?P<r_b>\d{1,4})(?![\d.,/]\d|[\w-])",
             _range, DIGIT),
        Rule("number", rf"(?<![\d.,])(?P<n_num>{dec})(?![.,]?\d)", _number, DIGIT),
        Rule("digits", r"\d+", _digits_left, DIGIT),
    ]


def _ordinal_re(family: str) -> str:
    suffixes = _ORDINAL_SUFFIXES.get(family)
    if not suffixes:
        return rf"(?P<o_num>{NEVER})(?P<o_suf>)"
    return rf"(?<![\w.,])(?P<o_num>\d+)(?P<o_suf>{suffixes})(?![^\W\d_])"


def _ordinal(match: re.Match, p: Profile) -> str:
    """1st, 21st, 2d, French 1er / 3e, Spanish 1.º / 2.ª, Italian 3º."""
    suffix = match.group("o_suf").lstrip(".")
    feminine = suffix in ("ª", "ra", "da", "ta", "re", "ère", "res", "ères", "ᵉʳᵉ")
    number = match.group("o_num")
    if len(number) > LONGEST_NUMBER:  # no ordinal has words that long; num2words gives up
        return p.num(number)
    return ordinal(int(number), p.family, feminine)


def _percent(match: re.Match, p: Profile) -> str:
    amount = _amount(match.group("pc_num"), p)
    if p.family == "zh":
        return "百分之" + amount
    return amount + joiner(p.family) + p.words["percent"]


def _amount(text: str, p: Profile) -> str:
    """A printed number that may have a decimal part, in this language's notation."""
    grouped, with_decimals = _amount_patterns(p)
    if not grouped.fullmatch(text):
        match = with_decimals.fullmatch(text)
        if match:
            return decimal(match.group(1), match.group(2), p.family)
    return p.num(text)


@lru_cache(maxsize=None)
def _amount_patterns(p: Profile) -> tuple[re.Pattern, re.Pattern]:
    # Romance books also print '3.5' the English way: both marks read as the decimal word
    return (re.compile(rf"\d{{1,3}}(?:{p.group_re})+"),
            re.compile(rf"(.+?)[{re.escape(p.decimal_sep)}.](\d+)"))


def _units(p: Profile) -> dict[str, tuple[str, str]]:
    """The units of the language; American English spells 'meter'."""
    return en.UNITS_US if p.code == "en-us" else _UNITS[p.family]


def _units_re(p: Profile) -> str:
    parts = []
    for key in sorted(_units(p), key=len, reverse=True):
        tail = r"\.?" if key[-1].isalpha() and key not in _UNIT_KEEP_DOT else ""
        parts.append(re.escape(key) + tail + (r"(?![\w’'])" if key[-1].isalnum() or key[-1] == "." else ""))
    return "|".join(parts)


def _unit(match: re.Match, p: Profile) -> str:
    """19° -> 'nineteen degrees'; 8′ -> 'eight minutes'; 6 ft. -> 'six feet'."""
    number, unit = match.group("u_num"), match.group("u_unit")
    singular, plural = _units(p)[unit.rstrip(".") if unit not in _UNIT_KEEP_DOT else unit]
    spoken = _amount(number, p) + joiner(p.family) + (singular if number == "1" else plural)
    if unit.endswith("."):
        spoken += stop(match.string, match.end())
    return spoken


def _fraction(match: re.Match, p: Profile) -> str:
    """12½ -> 'twelve and a half'; 3/4 -> 'three quarters'."""
    glyph = match.group("f_glyph")
    whole = match.group("f_whole") if glyph else match.group("f_whole2")
    if glyph:
        top, bottom = _VULGAR[glyph]
    else:
        top, bottom = int(match.group("f_top")), int(match.group("f_bottom"))
        if not bottom or top >= bottom * 10:  # '45/2' is not a fraction a reader says
            return f"{p.num(match.group('f_top'))} {p.words['over']} {p.num(match.group('f_bottom'))}"
    part = _fraction_words(top, bottom, p.family, bool(whole))
    if not whole:
        return part
    if p.family in ("ja", "zh"):
        return p.num(whole) + p.words["and"] + part
    return f"{p.num(whole)} {p.words['and']} {part}"


def _fraction_words(top: int, bottom: int, family: str, after_whole: bool) -> str:
    named = _FRACTIONS.get(family, {}).get((top, bottom))
    if named:
        return named[1] if after_whole and len(named) > 1 else named[0]
    if family == "ja":
        return f"{cardinal(bottom, 'ja')}分の{cardinal(top, 'ja')}"
    if family == "zh":
        return f"{cardinal(bottom, 'zh')}分之{cardinal(top, 'zh')}"
    if family == "hi":
        return f"{cardinal(top, 'hi')} बटा {cardinal(bottom, 'hi')}"
    part = ordinal(bottom, family)
    return f"{cardinal(top, family)} {part}{'s' if top > 1 else ''}"


def _range(match: re.Match, p: Profile) -> str:
    """1914–1918 -> 'nineteen fourteen to nineteen eighteen'; pp. 12-14 -> 'twelve to fourteen'."""
    first, second = match.group("r_a"), match.group("r_b")
    a, b = int(first), int(second)
    years = not counting_before(match.string, match.start()) and len(first) == 4 and 1000 <= a <= 2099
    if b <= a and len(second) < len(first):
        b = int(first[:len(first) - len(second)] + second)  # 1914-18, pp. 151-3
    if b <= a:  # not a range: two numbers joined by a hyphen, said one after the other
        return f"{_number_text(first, p, years)}{match.group('r_sep')}{p.num(second)}"
    if years:
        a_words, b_words = year(a, p.family), year(b, p.family)
    else:
        a_words, b_words = p.num(first), cardinal(b, p.family)
    if p.family in ("ja", "zh"):
        return a_words + p.words["to"] + b_words
    return f"{a_words} {p.words['to']} {b_words}"


def _ratio(match: re.Match, p: Profile) -> str:
    """'odds of 3:1': one digit after the colon is never minutes."""
    return f"{p.num(match.group('ra_a'))} to {p.num(match.group('ra_b'))}"


def _number(match: re.Match, p: Profile) -> str:
    """Any other number: a year where it reads as one, else a quantity or a decimal."""
    text = match.group("n_num")
    if p.family == "zh" and match.string.startswith("年", match.end()) and len(text) == 4:
        return year(int(text), "zh")
    if not text.isdigit():
        return _amount(text, p)
    before_word = bool(WORD_AFTER.match(match.string, match.end()))
    return _number_text(text, p, _is_year(text, match, p), before_word)


def _number_text(text: str, p: Profile, as_year: bool, before_word: bool = False) -> str:
    if as_year:
        return year(int(text), p.family)
    words = p.num(text)
    if before_word and p.family == "es":  # 'veintiún libros', 'treinta y un días'
        words = re.sub(r"uno$", "ún" if words != "uno" and not words.endswith(" uno") else "un", words)
    return words


def _is_year(text: str, match: re.Match, p: Profile) -> bool:
    """'in 1881 he' is a year, '1881 chests' a quantity: a four-figure number without a
    separator is a year unless a counted noun follows or 'No.', 'p.' precede it."""
    if p.family not in ("en", "hi") or len(text) != 4 or not 1000 <= int(text) <= 2999:
        return False
    if counting_before(match.string, match.start()):
        return False
    following = next_word(match.string, match.end())
    if p.family == "hi" or not following.islower():
        return True
    plural = following.endswith("s") and following not in en.NOT_PLURALS
    return not (plural or following in en.IRREGULAR_PLURALS)


def _digits_left(match: re.Match, p: Profile) -> str:
    """Digits no other rule read ('12.3.1900', '4to'): said as a number, never skipped."""
    return p.num(match.group(0))
