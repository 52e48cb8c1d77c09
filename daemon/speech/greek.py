"""Greek in a Latin-script book.

A Greek epigraph or word in an English (French, …) book is read the way a narrator
without Greek reads it: transliterated, not spelled letter by letter ('phi, rho,
epsilon…' is what the readers made of 'φρενός'). A short run of capitals is letters
on a stone or a label ('the letters ΛΑΣΜ') and is read by their names.
"""

from __future__ import annotations

import re
import unicodedata

from .profiles import Profile
from .rules import NEVER, Rule

_LATIN_FAMILIES = {"en", "es", "fr", "it", "pt"}
_GREEK_WORD = r"[\u0370-\u03ff\u1f00-\u1fff][\u0370-\u03ff\u1f00-\u1fff\u0300-\u036f]*\u02bc?"  # ʼ: elision
_GREEK_PAIRS = {"αυ": "au", "ευ": "eu", "ηυ": "eu", "ου": "ou", "υι": "ui",
                "γγ": "ng", "γκ": "nk", "γξ": "nx", "γχ": "nch"}
_GREEK_LETTERS = dict(zip("αβγδεζηθικλμνξοπρσςϛτυφχψωϝ",
                          "a b g d e z e th i k l m n x o p r s s s t y ph ch ps o w".split()))
_GREEK_NAMES = dict(zip("αβγδεζηθικλμνξοπρστυφχψω",
                        "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi "
                        "omicron pi rho sigma tau upsilon phi chi psi omega".split()))
_ROUGH_BREATHING = "\u0314"


def rules(p: Profile) -> list[Rule]:
    return [Rule("greek", _GREEK_WORD if p.family in _LATIN_FAMILIES else NEVER, _greek)]


def _greek(match: re.Match, p: Profile) -> str:
    word = match.group(0)
    decomposed = unicodedata.normalize("NFD", word)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    if word.isupper() and len(bare) <= 4 and all(c in _GREEK_NAMES for c in bare):
        return " ".join(_GREEK_NAMES[c] for c in bare)
    out, position = [], 0
    while position < len(bare):
        pair = _GREEK_PAIRS.get(bare[position:position + 2])
        out.append(pair or _GREEK_LETTERS.get(bare[position], bare[position]))
        position += 2 if pair else 1
    latin = "".join(out).replace("\u02bc", "'")
    if _ROUGH_BREATHING in decomposed[:4]:  # the breathing sits on the first vowel or diphthong
        latin = "rh" + latin[1:] if latin.startswith("r") else "h" + latin
    return latin.capitalize() if word[0].isupper() else latin
