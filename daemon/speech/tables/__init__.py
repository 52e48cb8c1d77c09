"""Word tables, one module per language family: what each printed form is said as.

Adding a language's abbreviations, units or currency names means editing its module
here, never the rules.  A family's module defines the tables its language has, under
the same names in every module (a family without one is read as the rules say:
see each rule's module):

- ``WORDS``: the few words the rules join numbers with ('point', 'and', 'to'...)
- ``CURRENCIES``: sign -> (singular, plural, minor singular, minor plural, gender)
- ``ABBREVIATIONS``: printed -> (spoken, kind: 'title', 'lead' or 'word')
- ``COUNTERS``: words that introduce a number ('No.', 'pp.', 'vol.')
- ``SYMBOLS``: &, §, ¶ and the arithmetic signs
- ``UNITS``: unit -> (singular, plural)
- ``FRACTIONS``: (top, bottom) -> (alone, after a whole number)
- ``ROMAN_KEYWORDS``: the words before a Roman numeral that counts ('Chapter XII')
- ``TITLE_LETTERS``: a capital and a full stop before a name ('M. Dupin')
- ``ORDINAL_SUFFIXES``, ``ROMAN_SUFFIXES``: what follows an ordinal's figure, as regexes

The families are those of :class:`daemon.speech.profiles.Profile`; the language codes
of a family (en-us, en-gb) differ only where a profile says so.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from . import en, es, fr, hi, it, ja, pt, zh

FAMILIES: dict[str, ModuleType] = {"en": en, "fr": fr, "es": es, "it": it, "pt": pt, "hi": hi, "ja": ja,
                                   "zh": zh}


def by_family(table: str) -> dict[str, Any]:
    """One table of every family that has it: ``by_family("UNITS")["fr"]`` is ``fr.UNITS``."""
    found = {family: getattr(module, table) for family, module in FAMILIES.items() if hasattr(module, table)}
    if not found:
        raise AttributeError(f"no language has a table named {table}")
    return found
