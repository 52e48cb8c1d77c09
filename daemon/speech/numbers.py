"""Number words: cardinals, ordinals, years, digits and decimals in each language family.

The rules of the other modules, and the headings of :mod:`daemon.speech.spoken`, say every
number through these functions.  Words come from ``num2words`` (English, French,
Spanish, Italian, Brazilian Portuguese, Japanese), ``indic-numtowords`` (Hindi, which
num2words lacks) and ``cn2an`` (Mandarin, likewise); both are imported only for a book
in their language.
"""

from __future__ import annotations

import re
from functools import lru_cache

from num2words import num2words

from .tables import FAMILIES, hi

_N2W = {"en": "en", "fr": "fr", "es": "es", "it": "it", "pt": "pt_BR", "ja": "ja"}
_ZH_DIGITS = "零一二三四五六七八九"

LONGEST_NUMBER = 15  # digits; a longer run is read digit by digit


@lru_cache(maxsize=8192)
def cardinal(number: int, family: str = "en") -> str:
    """1881 -> 'one thousand eight hundred and eighty-one', in the family's language."""
    if family == "hi":
        from indic_numtowords import num2words as hindi  # loaded only for Hindi books
        return hindi(number, lang="hi")
    if family == "zh":
        import cn2an  # loaded only for Chinese books: it takes 0.15 s to import
        return cn2an.an2cn(str(number))
    # num2words puts commas between English groups, and each would be read as a pause
    return num2words(number, lang=_N2W[family]).replace(",", "")


@lru_cache(maxsize=4096)
def ordinal(number: int, family: str = "en", feminine: bool = False) -> str:
    """21 -> 'twenty-first', 'vingt et unième', 'vigésimo primero'; 'primera' if feminine."""
    if family == "hi":
        return hi.ORDINALS.get(number) or cardinal(number, "hi") + "वाँ"
    if family in ("ja", "zh"):
        return "第" + cardinal(number, family)
    words = num2words(number, lang=_N2W[family], to="ordinal").replace(",", "")
    if feminine and family in ("es", "it", "pt"):
        words = re.sub(r"o\b", "a", words)
    if feminine and family == "fr" and words == "premier":
        words = "première"
    return words


@lru_cache(maxsize=4096)
def year(number: int, family: str = "en") -> str:
    """A year as it is said: 'eighteen eighty-one', 'उन्नीस सौ सैंतालीस', '二零二零'."""
    if family == "en":
        return num2words(number, lang="en", to="year")
    if family == "hi" and 1100 <= number < 2000 and number % 100:
        return f"{cardinal(number // 100, 'hi')} सौ {cardinal(number % 100, 'hi')}"
    if family == "zh":
        return "".join(_ZH_DIGITS[int(d)] for d in str(number))
    return cardinal(number, family)


def digits(text: str, family: str = "en") -> str:
    """'0548' -> 'zero five four eight'."""
    return joiner(family).join(cardinal(int(d), family) for d in text if d.isdigit())


def integer(text: str, family: str = "en") -> str:
    """A printed integer, separators ignored; leading zeros and very long runs digit by digit."""
    plain = re.sub(r"\D", "", text)
    if (len(plain) > 1 and plain.startswith("0")) or len(plain) > LONGEST_NUMBER:
        return digits(plain, family)
    return cardinal(int(plain), family)


def decimal(whole: str, fraction: str, family: str = "en") -> str:
    """'3', '25' -> 'three point two five'.  Romance languages read a short part after
    the comma as a number: 'trois virgule vingt-cinq'."""
    if family in ("fr", "es", "it", "pt") and not fraction.startswith("0") and len(fraction) <= 2:
        tail = cardinal(int(fraction), family)
    else:
        tail = digits(fraction, family)
    return joiner(family).join((integer(whole, family), FAMILIES[family].WORDS["point"], tail))


def joiner(family: str) -> str:
    """What goes between words: nothing in Japanese and Mandarin, a space elsewhere."""
    return "" if family in ("ja", "zh") else " "


def gendered(words: str, family: str, feminine: bool) -> str:
    """The number's form before a noun: Spanish 'un euro', 'una libra', 'veintiún'."""
    if family == "es":
        if feminine:
            return re.sub(r"ientos\b", "ientas", re.sub(r"uno\b", "una", words))
        return re.sub(r"\buno$", "un", words.replace("veintiuno", "veintiún"))
    if family == "fr" and feminine:
        return re.sub(r"\bun$", "une", words)
    if family == "it":
        return re.sub(r"^uno$", "una" if feminine else "un", words)
    if family == "pt" and feminine:
        return re.sub(r"entos\b", "entas", re.sub(r"\bdois\b", "duas", re.sub(r"\bum\b", "uma", words)))
    return words
