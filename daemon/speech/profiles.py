"""How each of our language codes prints numbers, and which word tables it reads with.

Every rule is given the :class:`Profile` of the book's language: its family names the
word tables (:mod:`daemon.speech.tables`) and number words (:mod:`daemon.speech.numbers`),
its marks say how a number is printed ('1,000.5' in English, '1 000,5' in French).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .numbers import integer
from .tables import FAMILIES


@dataclass(frozen=True)
class Profile:
    """What one language needs beyond its dictionaries: how numbers are printed."""

    code: str
    family: str
    decimal_sep: str   # the decimal mark: '.' in English, ',' in French
    group_re: str      # one thousands group with its separator

    @property
    def words(self) -> dict[str, str]:
        return FAMILIES[self.family].WORDS

    def num(self, text: str) -> str:
        return integer(text, self.family)

    @property
    def number_re(self) -> str:
        """A printed number, grouped by thousands or not, with a decimal part or not.
        Romance books also print '3.5' the English way: both marks are decimal marks."""
        whole = rf"\d{{1,3}}(?:{self.group_re})+|\d+"
        return rf"(?:{whole})(?:[{re.escape(self.decimal_sep)}.]\d+)?"


_ROMANCE_GROUP = r"[.\u00a0\u202f]\d{3}(?!\d)"
_PROFILES = {
    "en-us": Profile("en-us", "en", ".", r",\d{3}(?!\d)"),
    "en-gb": Profile("en-gb", "en", ".", r",\d{3}(?!\d)"),
    "fr-fr": Profile("fr-fr", "fr", ",", r"[.\u00a0\u202f ]\d{3}(?!\d)"),
    "es": Profile("es", "es", ",", r"[.\u00a0\u202f ]\d{3}(?!\d)"),
    "it": Profile("it", "it", ",", _ROMANCE_GROUP),
    "pt-br": Profile("pt-br", "pt", ",", _ROMANCE_GROUP),
    "hi": Profile("hi", "hi", ".", r",\d{2,3}(?!\d)"),  # 1,00,000: Indian grouping
    "ja": Profile("ja", "ja", ".", r",\d{3}(?!\d)"),
    "cmn": Profile("cmn", "zh", ".", r",\d{3}(?!\d)"),
}


def profile(lang: str) -> Profile:
    """The profile of one of our language codes; an unknown code reads as US English."""
    return _PROFILES.get(lang, _PROFILES["en-us"])
