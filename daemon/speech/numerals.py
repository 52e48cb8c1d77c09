"""Roman numerals: 'Chapter XII', 'vol. iv' (a cardinal after a word that counts), 'the
XVIIIth century', 'le XVIIe siècle' (ordinals), and monarchs, 'Henry VIII' -> 'Henry the
Eighth', 'Louis XIV' -> 'Louis quatorze'.  A lone 'I' is mostly the pronoun, and is read
as a numeral only where nothing else can be meant."""

from __future__ import annotations

import re

from .abbreviations import COUNTERS
from .context import SENTENCE_STARTERS, SPACE_THEN_WORD
from .numbers import cardinal, ordinal
from .profiles import Profile
from .rules import NEVER, Rule, alternatives
from .tables import by_family

_ROMAN = re.compile(r"^[IVXLCDM]+$")
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
_ROMAN_KEYWORDS: dict[str, str] = by_family("ROMAN_KEYWORDS")
_ROMAN_SUFFIXES: dict[str, str] = by_family("ROMAN_SUFFIXES")

# Capitalised words that precede roman numerals without being monarchs' names
_NOT_REGNAL = frozenset(
    "Chapter Book Part Volume Letter Section Act Scene Canto Stave Article Appendix Psalm Plate War "
    "World Class Type Form Table Figure Schedule Tome Livre Chapitre Partie Acte Scène Chant Lettre "
    "Capítulo Libro Parte Tomo Acto Escena Capitolo Atto Scena Livro Ato Cena Page Number No Year "
    "Vol Fig Psaume Salmo".split()) | SENTENCE_STARTERS
_REGNAL_NAMES = frozenset(
    "Henry Edward George William Richard Charles James John Elizabeth Mary Anne Victoria Louis Napoleon "
    "Francis Philip Peter Catherine Frederick Alexander Nicholas Ivan Pius Leo Gregory Innocent Clement "
    "Benedict Urban Boniface Paul Sixtus Julius Ferdinand Isabella Alfonso Henri François Philippe "
    "Carlos Felipe Fernando Pedro João Luís Luigi Carlo Vittorio Umberto Otto Wilhelm Friedrich Ludwig "
    "Rudolf Gustav Gustavus Christian Olaf Harold Malcolm David Robert Stephen Ptolemy Rameses Ramses "
    "Darius Xerxes Antiochus Constantine Justinian Theodosius Leopold Maximilian Joseph Franz Karl Sancho "
    "Enrique Juan Jaime Manuel Afonso Sebastião Guillaume Jean Jacques Charlemagne Carlo Giovanni Pio "
    "Leone Gregorio Ferdinando Filippo Enrico Luis Isabel Maria Emanuele Vittorio Ricardo".split())


def rules(p: Profile) -> list[Rule]:
    return [
        Rule("roman_keyword", rf"(?<![\w.])(?P<rk_key>{alternatives(_roman_keywords(p.family))})(?P<rk_sp>\s+)"
                              r"(?P<rk_num>[IVXLCDM]+|[ivxlcdm]+)\b(?![’'-])", _roman_keyword),
        Rule("roman_suffix", _roman_suffix_re(p.family), _roman_suffix),
        # a name is one word of at most 41 characters ending in a small letter: read once,
        # not again from every capital of 'A-A-A-...'
        Rule("regnal", r"\b(?P<rg_name>[A-Z][\w’'-]{0,40}+(?<=[a-zà-ÿ]))\s(?P<rg_num>[IVX]+)\b(?![’'\w-])",
             _regnal),
    ]


def roman_to_int(text: str) -> int | None:
    """'XIV' -> 14; None for anything that is not a well-formed numeral."""
    if not text or not _ROMAN.match(text):
        return None
    total = 0
    for index, char in enumerate(text):
        value = _ROMAN_VALUES[char]
        following = _ROMAN_VALUES[text[index + 1]] if index + 1 < len(text) else 0
        total += -value if value < following else value
    return total if 0 < total < 4000 and int_to_roman(total) == text else None


def int_to_roman(number: int) -> str:
    """14 -> 'XIV'."""
    out = []
    for value, letters in ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"),
                           (90, "XC"), (50, "L"), (40, "XL"), (10, "X"), (9, "IX"),
                           (5, "V"), (4, "IV"), (1, "I")):
        while number >= value:
            out.append(letters)
            number -= value
    return "".join(out)


def _roman_keywords(family: str) -> list[str]:
    words = _ROMAN_KEYWORDS.get(family, _ROMAN_KEYWORDS["en"]).split()
    upper = [w.upper() for w in words if w[0].isupper()]
    lower = [w.lower() for w in words if w[0].isupper() and w.lower() not in words]
    counters = [k for k in COUNTERS.get(family, {}) if k.endswith(".")]
    return words + upper + lower + counters


def _roman_keyword(match: re.Match, p: Profile) -> str:
    """'Chapter XII', 'vol. iv', 'TOME II', 'World War I' -> the number as a cardinal."""
    keyword, numeral = match.group("rk_key"), match.group("rk_num")
    value = roman_to_int(numeral.upper())
    if value is None or (numeral.islower() and not keyword.endswith(".")):
        return match.group(0)
    if numeral == "I" and keyword.islower():  # 'no. I am sure', 'the letter I'
        return match.group(0)
    if numeral == "I" and keyword.rstrip(".").lower() == "no" and \
            SPACE_THEN_WORD.match(match.string, match.end()):  # '"No. I cannot expect you to believe it."'
        return match.group(0)
    spoken_key = COUNTERS[p.family].get(keyword, keyword)
    if p.family == "it" and keyword.lower() == "secolo":
        return f"{spoken_key} {ordinal(value, 'it')}"  # 'il secolo diciannovesimo'
    return f"{spoken_key}{match.group('rk_sp')}{cardinal(value, p.family)}"


def _roman_suffix_re(family: str) -> str:
    suffixes = _ROMAN_SUFFIXES.get(family, NEVER)
    # one letter only where no word is meant: 'Le', 'Ce', 'De', 'Me' are French words
    return rf"\b(?P<rs_num>[IVXLC]{{2,}}|[IVX])(?P<rs_suf>{suffixes})\b"


def _roman_suffix(match: re.Match, p: Profile) -> str:
    """'the XVIIIth century', 'le XVIIe siècle', 'François Ier' -> ordinals."""
    value = roman_to_int(match.group("rs_num"))
    if value is None:
        return match.group(0)
    return ordinal(value, p.family, match.group("rs_suf") in ("re", "ère"))


def _regnal(match: re.Match, p: Profile) -> str:
    """'Henry VIII' -> 'Henry the Eighth'; 'Louis XIV' -> 'Louis quatorze'.  A lone 'I'
    only after a known monarch's name, since 'I' is mostly the pronoun."""
    name, numeral = match.group("rg_name"), match.group("rg_num")
    value = roman_to_int(numeral)
    known = name in _REGNAL_NAMES
    if value is None or name in _NOT_REGNAL or (len(numeral) == 1 and not known):
        return match.group(0)
    feminine = name.endswith("a") or name in ("Isabel", "Elisabeth")
    return f"{name} {_regnal_words(value, p.family, feminine)}"


def _regnal_words(value: int, family: str, feminine: bool = False) -> str:
    if family == "en":
        return "the " + ordinal(value).capitalize()
    if family == "fr":
        return "premier" if value == 1 else cardinal(value, "fr")
    if family in ("es", "pt"):  # Felipe segundo, Alfonso trece, Maria primeira
        return ordinal(value, family, feminine) if value <= 10 else cardinal(value, family)
    if family == "it":
        return ordinal(value, "it", feminine)
    return cardinal(value, family)
