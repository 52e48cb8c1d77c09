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
nothing is dropped by accident.  Number words come from ``num2words`` (English,
French, Spanish, Italian, Brazilian Portuguese, Japanese), ``indic-numtowords``
(Hindi, which num2words lacks) and ``cn2an`` (Mandarin, likewise).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from num2words import num2words

Handler = Callable[[re.Match, "Profile"], str]


@dataclass(frozen=True)
class Span:
    """A stretch of a paragraph and what is said for it (``rule`` None: as printed)."""

    source: str
    spoken: str
    rule: str | None


# The only rules that say nothing for what they match (footnote marks glued to a
# word, list bullets): the deliberate exceptions to "every character is spoken".
SILENT_RULES = frozenset({"mark", "bullet"})


# --------------------------------------------------------------------------- numbers

_N2W = {"en": "en", "fr": "fr", "es": "es", "it": "it", "pt": "pt_BR", "ja": "ja"}
_ZH_DIGITS = "零一二三四五六七八九"


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
        return _HI_ORDINALS.get(number) or cardinal(number, "hi") + "वाँ"
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
    return _joiner(family).join(cardinal(int(d), family) for d in text if d.isdigit())


_LONGEST_NUMBER = 15  # digits; a longer run is read digit by digit


def integer(text: str, family: str = "en") -> str:
    """A printed integer, separators ignored; leading zeros and very long runs digit by digit."""
    plain = re.sub(r"\D", "", text)
    if (len(plain) > 1 and plain.startswith("0")) or len(plain) > _LONGEST_NUMBER:
        return digits(plain, family)
    return cardinal(int(plain), family)


def decimal(whole: str, fraction: str, family: str = "en") -> str:
    """'3', '25' -> 'three point two five'.  Romance languages read a short part after
    the comma as a number: 'trois virgule vingt-cinq'."""
    if family in ("fr", "es", "it", "pt") and not fraction.startswith("0") and len(fraction) <= 2:
        tail = cardinal(int(fraction), family)
    else:
        tail = digits(fraction, family)
    return _joiner(family).join((integer(whole, family), _WORDS[family]["point"], tail))


def _joiner(family: str) -> str:
    return "" if family in ("ja", "zh") else " "


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
    out = []
    for value, letters in ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"),
                           (90, "XC"), (50, "L"), (40, "XL"), (10, "X"), (9, "IX"),
                           (5, "V"), (4, "IV"), (1, "I")):
        while number >= value:
            out.append(letters)
            number -= value
    return "".join(out)


_ROMAN = re.compile(r"^[IVXLCDM]+$")
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}


# --------------------------------------------------------------------------- profiles

@dataclass(frozen=True)
class Profile:
    """What one language needs beyond its dictionaries: how numbers are printed."""

    code: str
    family: str
    decimal_sep: str   # the decimal mark: '.' in English, ',' in French
    group_re: str      # one thousands group with its separator

    @property
    def words(self) -> dict[str, str]:
        return _WORDS[self.family]

    def num(self, text: str) -> str:
        return integer(text, self.family)


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


# --------------------------------------------------------------------------- context

# Book text is hostile: every rule and every look around a match runs in linear time.
# A look ahead stops within a word's length (no word is 100 characters long), so that
# '1881x1881x...' does not make each number read the rest of the paragraph as its next word.
_LONGEST_WORD = 100
_NEXT_CHAR = re.compile(r"[\"'”’»)\]]*\s*[\"“‘'«(]*(\S?)")
_NEXT_WORD = re.compile(r"[\"'”’»)\]]*\s*[\"“‘'«(]*([^\s\"”’'»),.;:!?]{0,%d})" % _LONGEST_WORD)
_PREV_WORD = re.compile(r"(\S+)\s+$")
_WORD_AFTER = re.compile(r"\s++[^\W\d_]")
_SPACE_THEN_WORD = re.compile(r"\s++\w")
_OPENING = "\"“‘'«("
_ONLY_CLOSING = re.compile(r"[\s.,;:!?\"'”’»)\]]*")


def _next_char(text: str, end: int) -> str:
    """The next letter or sign after ``end``, past closing quotes and spaces."""
    return _NEXT_CHAR.match(text, end).group(1)


def _next_word(text: str, end: int) -> str:
    return _NEXT_WORD.match(text, end).group(1)


def _only_opening_before(text: str, start: int) -> bool:
    """True when nothing but spaces and opening quotes stands before ``start``.  Read
    backwards, so each character is read for one match at most (a forward check read a
    long run of '(' again for every match after it)."""
    position = start
    while position and (text[position - 1].isspace() or text[position - 1] in _OPENING):
        position -= 1
    return position == 0


def _prev_word(text: str, start: int) -> str:
    match = _PREV_WORD.search(text, max(0, start - 40), start)
    return match.group(1) if match else ""


def sentence_ends_after(text: str, end: int) -> bool:
    """True when a full stop just before ``end`` also ends the sentence: the paragraph
    ends there, or what follows starts with a capital letter."""
    following = _next_char(text, end)
    return not following or following.isupper()


def _stop(text: str, end: int) -> str:
    return "." if sentence_ends_after(text, end) else ""


def _capitalised(word: str) -> bool:
    return bool(word) and word[0].isupper() and not (len(word) > 1 and word.isupper())


# --------------------------------------------------------------------------- rules

def _url(match: re.Match, p: Profile) -> str:
    """A web address is said as its site: 'https://www.gutenberg.org/ebooks/84' ->
    'gutenberg dot org'; the path is deliberately not read (trace shows it)."""
    printed = match.group(0)
    link = printed.rstrip(".,;:!?)]")  # (a regex anchored at $ retried every position: quadratic)
    trail = printed[len(link):]
    host = re.sub(r"^(?:[a-z]+://)?(?:www\d?\.)?", "", link, flags=re.I)
    host = re.split(r"[/?#:]", host, maxsplit=1)[0]
    return _dotted(host, p) + trail


def _email(match: re.Match, p: Profile) -> str:
    """'x@y.org' -> 'x at y dot org': an address is short, and the listener may want it."""
    user, host = match.group(0).split("@", 1)
    return f"{_dotted(user, p)} {p.words['at']} {_dotted(host, p)}"


def _dotted(name: str, p: Profile) -> str:
    return f" {p.words['dot']} ".join(part for part in name.split(".") if part)


def _silent(match: re.Match, p: Profile) -> str:
    return ""


def _money(match: re.Match, p: Profile) -> str:
    """£40, $10.50, €3, 10 €, ¥100, R$ 5,00 -> the amount in words with its currency."""
    symbol = match.group("cur_a") or match.group("cur_b")
    whole, cents = _split_amount(match.group("amt_a") or match.group("amt_b"), p)
    scale = match.group("scale")
    names = _CURRENCIES[p.family].get(symbol) or _CURRENCIES["en"][symbol]
    if p.family in ("ja", "zh"):
        amount = decimal(whole, cents, p.family) if cents else p.num(whole)
        return amount + (scale or "") + names[0]
    if scale:
        amount = f"{p.num(whole)} {scale} {names[1]}"
    else:
        amount = _count(whole, names, p)
    if cents and int(cents):
        amount += f" {p.words['and']} {_count(cents, names[2:4] + names[4:], p)}"
    return amount


def _split_amount(text: str, p: Profile) -> tuple[str, str | None]:
    """'10.50' -> ('10', '50') in English; '10,50' -> ('10', '50') in French."""
    whole, sep, cents = text.rpartition(p.decimal_sep)
    if sep and len(cents) == 2:
        return whole, cents
    return text, None


def _count(number: str, names: tuple[str, ...], p: Profile) -> str:
    """A number with its noun: 'one pound', 'forty pounds', 'una libra', 'veintiún euros'."""
    one = re.sub(r"\D", "", number).lstrip("0") == "1"  # (int() of 5,000 digits raises)
    words = _gendered(p.num(number), p.family, names[-1] == "f")
    return f"{words} {names[0] if one else names[1]}"


def _gendered(words: str, family: str, feminine: bool) -> str:
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


def _old_money(match: re.Match, p: Profile) -> str:
    """£3 10s. 6d., 12s. 6d., 6d.: pounds, shillings and pence as they were said."""
    g = match.groupdict()
    pounds, shillings, pence = g["lsd_l"], g["lsd_s"] or g["lsd_s2"], g["lsd_d"] or g["lsd_d2"] or g["lsd_d3"]
    parts = []
    if pounds:
        parts.append(f"{integer(pounds)} pound{'' if pounds == '1' else 's'}")
    if shillings:
        parts.append(f"{integer(shillings)} shilling{'' if shillings == '1' else 's'}")
    if pence:
        parts.append(_pence(pence))
    spoken = " ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]
    return spoken + (_stop(match.string, match.end()) if match.group(0).endswith(".") else "")


def _pence(text: str) -> str:
    """'6' -> 'sixpence', '2' -> 'twopence', '1½' -> 'three halfpence', '15' -> 'fifteen pence'."""
    half = text.endswith("½")
    number = text.rstrip("½")
    if not number:
        return "a halfpenny"
    value = int(number)
    if half:
        return "three halfpence" if value == 1 else f"{cardinal(value)} and a half pence"
    if value == 1:
        return "a penny"
    return f"{cardinal(value)}pence" if value < 12 else f"{cardinal(value)} pence"


def _time(match: re.Match, p: Profile) -> str:
    """'10.30 a.m.' -> 'ten thirty a-m'; '3:15' -> 'three fifteen'; '10 h 30' -> 'dix heures trente'."""
    g = match.groupdict()
    hour = int(g["t_h"] or g["t_h2"] or g["t_h3"])
    minute = g["t_m"] or g["t_m2"]
    marker = g["t_ap"] or g["t_ap2"] or g["t_ap3"]
    spoken = _clock(hour, int(minute) if minute else None, p.family, bool(marker))
    if p.family == "hi" and spoken.endswith(" बजे") and match.string.startswith(" बजे", match.end()):
        spoken = spoken[:-4]  # '10:30 बजे': the book already says बजे
    if marker:
        spoken += " " + ("a-m" if marker[0] in "aA" else "p-m")
        if marker.endswith("."):
            spoken += _stop(match.string, match.end())
    return spoken


def _clock(hour: int, minute: int | None, family: str, marked: bool = False) -> str:
    h = cardinal(hour, family)
    m = cardinal(minute, family) if minute else ""
    if family == "en":
        if not minute:
            return h if marked else f"{h} o'clock"
        return f"{h} oh {m}" if minute < 10 else f"{h} {m}"
    if family == "fr":
        base = f"{_gendered(h, 'fr', True)} heure{'s' if hour > 1 else ''}"
        return f"{base} {m}" if m else base
    if family in ("es", "it", "pt"):
        hour_words = _gendered(h, family, True)
        if not m:
            return {"es": f"{hour_words} en punto", "it": f"{hour_words} in punto",
                    "pt": f"{hour_words} hora{'s' if hour > 1 else ''}"}[family]
        return f"{hour_words} {_WORDS[family]['and']} {m}"
    if family == "hi":
        return _hindi_clock(hour, minute or 0)
    if family == "ja":
        return f"{h}時{m}分" if m else f"{h}時"
    h = "两" if hour == 2 else h  # Mandarin says liǎng diǎn, not èr diǎn
    return f"{h}点{m}分" if m else f"{h}点"


def _hindi_clock(hour: int, minute: int) -> str:
    """10:30 -> 'साढ़े दस बजे', 1:30 -> 'डेढ़ बजे', 10:15 -> 'सवा दस बजे', 10:20 -> 'दस बजकर बीस मिनट'."""
    h = cardinal(hour, "hi")
    if minute == 30 and hour in (1, 2):
        return ("डेढ़" if hour == 1 else "ढाई") + " बजे"
    special = {0: h, 30: f"साढ़े {h}", 15: f"सवा {h}", 45: f"पौने {cardinal(hour % 12 + 1, 'hi')}"}
    if minute in special:
        return special[minute] + " बजे"
    return f"{h} बजकर {cardinal(minute, 'hi')} मिनट"


def _date(match: re.Match, p: Profile) -> str:
    """'January 19' -> 'January nineteenth'; 'Sept. 6' -> 'September sixth'."""
    month = _month(match.group("d_mon"))
    return f"{month} {ordinal(int(match.group('d_day')))}"


def _day_month(match: re.Match, p: Profile) -> str:
    """'15 October' -> 'the fifteenth of October' ('the' only where it is not printed)."""
    month = _month(match.group("dm_mon"))
    printed_the = match.string[max(0, match.start() - 4):match.start()].lower() == "the "
    return f"{'' if printed_the else 'the '}{ordinal(int(match.group('dm_day')))} of {month}"


def _month(printed: str) -> str:
    return _MONTHS.get(printed.rstrip("."), printed)


def _ordinal(match: re.Match, p: Profile) -> str:
    """1st, 21st, 2d, French 1er / 3e, Spanish 1.º / 2.ª, Italian 3º."""
    suffix = match.group("o_suf").lstrip(".")
    feminine = suffix in ("ª", "ra", "da", "ta", "re", "ère", "res", "ères", "ᵉʳᵉ")
    number = match.group("o_num")
    if len(number) > _LONGEST_NUMBER:  # no ordinal has words that long; num2words gives up
        return p.num(number)
    return ordinal(int(number), p.family, feminine)


def _percent(match: re.Match, p: Profile) -> str:
    amount = _amount(match.group("pc_num"), p)
    if p.family == "zh":
        return "百分之" + amount
    return amount + _joiner(p.family) + p.words["percent"]


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


def _unit(match: re.Match, p: Profile) -> str:
    """19° -> 'nineteen degrees'; 8′ -> 'eight minutes'; 6 ft. -> 'six feet'."""
    number, unit = match.group("u_num"), match.group("u_unit")
    singular, plural = _units(p.family, p.code)[unit.rstrip(".") if unit not in _UNIT_KEEP_DOT else unit]
    spoken = _amount(number, p) + _joiner(p.family) + (singular if number == "1" else plural)
    if unit.endswith("."):
        spoken += _stop(match.string, match.end())
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
    years = not _counting_before(match.string, match.start()) and len(first) == 4 and 1000 <= a <= 2099
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


def _dash_year(match: re.Match, p: Profile) -> str:
    """'in the year 18—' (a year left blank on purpose) -> 'eighteen hundred and —'."""
    return f"{cardinal(int(match.group('dy_c')))} hundred and —"


def _decade(match: re.Match, p: Profile) -> str:
    """'the 1840s' -> 'the eighteen forties'."""
    return re.sub(r"y$", "ie", year(int(match.group("dec_y")))) + "s"


def _counting_before(text: str, start: int) -> bool:
    """A number after 'No.', 'p.', '§', '#' counts things: it is never a year."""
    return bool(_COUNTING.search(text, max(0, start - 12), start))


def _number(match: re.Match, p: Profile) -> str:
    """Any other number: a year where it reads as one, else a quantity or a decimal."""
    text = match.group("n_num")
    if p.family == "zh" and match.string.startswith("年", match.end()) and len(text) == 4:
        return year(int(text), "zh")
    if not text.isdigit():
        return _amount(text, p)
    before_word = bool(_WORD_AFTER.match(match.string, match.end()))
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
    if _counting_before(match.string, match.start()):
        return False
    following = _next_word(match.string, match.end())
    if p.family == "hi" or not following.islower():
        return True
    plural = following.endswith("s") and following not in _NOT_PLURALS
    return not (plural or following in _IRREGULAR_PLURALS)


def _digits_left(match: re.Match, p: Profile) -> str:
    """Digits no other rule read ('12.3.1900', '4to'): said as a number, never skipped."""
    return p.num(match.group(0))


def _roman_keyword(match: re.Match, p: Profile) -> str:
    """'Chapter XII', 'vol. iv', 'TOME II', 'World War I' -> the number as a cardinal."""
    keyword, numeral = match.group("rk_key"), match.group("rk_num")
    value = roman_to_int(numeral.upper())
    if value is None or (numeral.islower() and not keyword.endswith(".")):
        return match.group(0)
    if numeral == "I" and keyword.islower():  # 'no. I am sure', 'the letter I'
        return match.group(0)
    if numeral == "I" and keyword.rstrip(".").lower() == "no" and \
            _SPACE_THEN_WORD.match(match.string, match.end()):  # '"No. I cannot expect you to believe it."'
        return match.group(0)
    spoken_key = _COUNTERS[p.family].get(keyword, keyword)
    if p.family == "it" and keyword.lower() == "secolo":
        return f"{spoken_key} {ordinal(value, 'it')}"  # 'il secolo diciannovesimo'
    return f"{spoken_key}{match.group('rk_sp')}{cardinal(value, p.family)}"


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


def _counter(match: re.Match, p: Profile) -> str:
    """'No. 1', 'pp. 12-14', 'vol. 3' -> 'Number', 'pages', 'volume' (a number follows)."""
    spoken = _COUNTERS[p.family][match.group("ct")]
    return spoken if match.string[match.end():match.end() + 1].isspace() else spoken + " "  # '#5'


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
        return spoken + ("" if _next_char(text, end) else ".")
    return spoken + _stop(text, end)


def _saint(match: re.Match, p: Profile) -> str:
    """St. Paul -> Saint Paul; Gracechurch St. -> Gracechurch Street."""
    text, end = match.string, match.end()
    following = _next_word(text, end)
    if _capitalised(following) and following not in _SENTENCE_STARTERS:
        return "Saint"
    return "Street" + (_stop(text, end) if match.group(0).endswith(".") else "")


def _title_letter(match: re.Match, p: Profile) -> str:
    """M. Dupin -> Monsieur Dupin, D. Quijote -> don Quijote; but Raymond M. Alden keeps
    his initial, and so does a letter signed 'M. Gardiner.'."""
    letter = match.group("tl")
    text, end = match.string, match.end()
    before = _prev_word(text, match.start())
    following = _next_word(text, end)
    after_name = (_capitalised(before) and before not in _SENTENCE_STARTERS
                  and not before.endswith((".", ",", ";", ":", "!", "?", "”", '"')))
    after_initial = bool(re.fullmatch(r"[A-Z]\.", before))
    signature = bool(_only_opening_before(text, match.start())
                     and _ONLY_CLOSING.fullmatch(text, end + len(_NEXT_WORD.match(text, end).group(0))))
    if after_name or after_initial or signature or not _capitalised(following):
        return _initials_text([letter], p) + ("" if _next_char(text, end) else ".")
    return _title_word(letter, p.family, following)


def _title_word(letter: str, family: str, name: str) -> str:
    if family == "pt" and letter == "D":
        return "Dona" if name.endswith("a") else "Dom"
    return _TITLE_LETTERS[family][letter]


def _power(match: re.Match, p: Profile) -> str:
    """'x²' -> 'x squared': a superscript after a one-letter variable is a power, not a note."""
    return {"²": " squared", "³": " cubed"}[match.group(0)]


def _initials(match: re.Match, p: Profile) -> str:
    """'H. G. Wells' -> 'H-G Wells'; 'U.S.' -> 'U-S': letter names, no full stops, except
    where the sentence ends ('in the U.S. He left')."""
    printed = match.group("in")
    letters = re.findall(r"[A-Z]", printed)
    if letters == ["I"]:
        return printed  # 'said I. Then ...': the pronoun ending a sentence
    text, end = match.string, match.end()
    following = _next_word(text, end)
    lower_after = not following or following[0].islower()
    # one letter before a verb is a person ('he feared W. was not a man to be trusted')
    bearing = len(letters) > 1 or not following or following.lower() in _AFTER_A_BEARING
    if p.family == "en" and len(letters) <= 3 and set(letters) <= set("NSEW") and lower_after and bearing:
        spoken = _compass(letters)  # 'wind N. N. W.', 'S. E. of the island', 'due W. of it'
    else:
        spoken = _initials_text(letters, p)
    if not _next_char(text, end):
        return spoken + "."
    return spoken + ("." if following in _SENTENCE_STARTERS else "")


_AFTER_A_BEARING = {"of", "by", "and", "to", "from", "or", "in", "at", "quarter", "half"}


def _compass(letters: list[str]) -> str:
    """N. N. W. -> north-north-west."""
    words = [{"N": "north", "S": "south", "E": "east", "W": "west"}[letter] for letter in letters]
    return "-".join(words)


def _era(match: re.Match, p: Profile) -> str:
    """'AD 1781', '55 BC': said as letters (espeak reads 'AD' as the word 'ad')."""
    return "-".join(match.group(0))


def _initials_text(letters: list[str], p: Profile) -> str:
    # espeak reads a lone capital A as the article 'a'; a hyphen makes it the letter's name
    joined = "-".join(letters)
    return joined + "-" if joined == "A" and p.family == "en" else joined


def _symbol(match: re.Match, p: Profile) -> str:
    """&, §, ¶, and ×, +, = between numbers: the word for the sign."""
    sign = match.group("sym").strip()
    word = _SYMBOLS[p.family].get(sign) or _SYMBOLS["en"][sign]
    return word if p.family in ("ja", "zh") else f" {word} "


# --------------------------------------------------------------------------- assembly

_NEVER = r"(?!x)x"


def _rules(p: Profile) -> list[tuple[str, str, Handler]]:
    """(name, regex, handler) in priority order: at one position the earlier rule wins."""
    f = p.family
    num = rf"\d{{1,3}}(?:{p.group_re})+|\d+"
    dec = rf"(?:{num})(?:[{re.escape(p.decimal_sep)}.]\d+)?"
    cur = "|".join(re.escape(c) for c in sorted(_CURRENCY_SIGNS, key=len, reverse=True))
    if f == "en":
        cur += r"|(?<![\w])L(?=\d)"  # the old printers' pound sign: Moby-Dick's 'L100,000'

    scales = "|".join(_SCALES)
    rules: list[tuple[str, str, Handler]] = [
        # an address's parts are as long as the standards allow (64 before @, 63 a label,
        # 16 labels), so that in '-a-a-a...' or 'a.a.a...' each of the many starts reads a
        # few dozen characters, not the rest of the paragraph; possessive (++) where giving
        # characters back can never make a match
        ("email", r"(?<![\w.])[\w.+-]{1,64}+@[\w-]++(?:\.[\w-]++)+", _email),
        ("url", r"(?:\b(?:https?|ftp)://|\bwww\d?\.)[^\s<>\"”’]+"
                r"|\b[\w-]{1,63}+(?:\.[\w-]{1,63}+){0,15}\.(?:com|org|net|edu|gov|info)\b(?:/[^\s<>\"”’]*)?",
         _url),
        ("bullet", r"^[*•‣⁃▪]\s+", _silent),
        ("power", r"(?<=(?<!\w)[a-zA-Z])[²³]" if f == "en" else _NEVER, _power),
        ("mark", r"(?:(?<=[^\W\d_])|(?<=[^\W\d_][.,;:!?”’\"»)]))[*†‡¹²³⁴⁵⁶⁷⁸⁹⁰]+"
                 r"(?=[\s.,;:!?\"”’'»)\]—–-]|$)", _silent),
    ]
    if f == "en":
        pence = r"\d{1,2}½?|½"
        rules.append(("old_money",
                      rf"£\s?(?P<lsd_l>\d+)\s(?P<lsd_s>\d{{1,2}})s\.?(?:\s(?P<lsd_d>{pence})d\.?)?(?![\w])"
                      rf"|(?<![\w£])(?P<lsd_s2>\d{{1,3}})s\.\s?(?P<lsd_d2>{pence})d\.?(?![\w])"
                      rf"|(?<![\w£])(?<!the )(?P<lsd_d3>{pence})d\.(?!\w)", _old_money))
    rules += [
        ("verse", rf"\b(?P<v_book>{_BIBLE_BOOKS}) (?P<v_ch>\d{{1,3}}):(?P<v_v>\d{{1,3}})"
                  rf"(?:[–-](?P<v_end>\d{{1,3}}))?(?![\d:])" if f == "en" else _NEVER, _verse),
        ("ratio", r"(?<![\d.:,])(?P<ra_a>\d{1,3}):(?P<ra_b>\d)(?![\d:])" if f == "en" else _NEVER, _ratio),
        ("money", rf"(?<![^\W\d_])(?P<cur_a>{cur})\s?(?P<amt_a>{dec})(?:\s?(?P<scale>{scales})(?![\w]))?"
                  rf"|(?<![\w.,])(?P<amt_b>{dec})\s?(?P<cur_b>{cur})(?!\w)", _money),
        ("time", _time_re(f), _time),
    ]
    if f == "en":
        months = "|".join(sorted(_MONTH_PATTERNS, key=len, reverse=True))
        rules += [
            ("date", rf"\b(?P<d_mon>{months})\s(?P<d_day>[1-9]|[12]\d|3[01])(?:st|nd|rd|th|d)?\b(?![.,:]\d)", _date),
            ("day_month", rf"\b(?P<dm_day>[1-9]|[12]\d|3[01])\s(?P<dm_mon>{months})(?!\w)", _day_month),
            ("dash_year", r"\b(?P<dy_c>1\d)—(?!\d)", _dash_year),
            ("decade", r"\b(?P<dec_y>1\d\d0|20\d0)[’']?s\b", _decade),
        ]
    rules += [
        ("ordinal", _ordinal_re(f), _ordinal),
        ("percent", rf"(?<![\d.,])(?P<pc_num>{dec})\s?(?:%|％)", _percent),
        ("fraction", r"(?:(?P<f_whole>\d+)\s?)?(?P<f_glyph>[½⅓⅔¼¾⅕⅖⅗⅘⅙⅚⅛⅜⅝⅞])"
                     r"|(?<![\d/.,])(?:(?P<f_whole2>\d+)\s)?(?P<f_top>\d{1,2})/(?P<f_bottom>\d{1,2})(?![\d/])",
         _fraction),
        ("unit", rf"(?<![\d.,])(?P<u_num>{dec})\s?(?P<u_unit>{_units_re(p)})", _unit),
        ("range", r"(?<![\d.,/-])(?P<r_a>\d{1,4})(?P<r_sep>\s?[–-]\s?)(?P<r_b>\d{1,4})(?![\d.,/]\d|[\w-])", _range),
        ("number", rf"(?<![\d.,])(?P<n_num>{dec})(?![.,]?\d)", _number),
        ("digits", r"\d+", _digits_left),
        ("counter", rf"(?<![\w.])(?P<ct>{_alternatives(_COUNTERS[f])})(?=\s?\d)", _counter),
        ("roman_keyword", rf"(?<![\w.])(?P<rk_key>{_alternatives(_roman_keywords(f))})(?P<rk_sp>\s+)"
                          r"(?P<rk_num>[IVXLCDM]+|[ivxlcdm]+)\b(?![’'-])", _roman_keyword),
        ("roman_suffix", _roman_suffix_re(f), _roman_suffix),
        # a name is one word of at most 41 characters ending in a small letter: read once,
        # not again from every capital of 'A-A-A-...'
        ("regnal", r"\b(?P<rg_name>[A-Z][\w’'-]{0,40}+(?<=[a-zà-ÿ]))\s(?P<rg_num>[IVX]+)\b(?![’'\w-])", _regnal),
        ("saint", r"(?<![\w.])St\.?(?=\s)" if f == "en" else _NEVER, _saint),
        ("title_letter", rf"(?<![\w.’'-])(?P<tl>{'|'.join(_TITLE_LETTERS.get(f, {})) or 'x^'})\.(?=\s+\w)",
         _title_letter),
        ("abbreviation", _abbreviation_re(f), _abbreviation),
        ("era", r"(?<=\d )(?:AD|BC|BCE|CE)\b|\b(?:AD|BC)(?= \d)" if f == "en" else _NEVER, _era),
        ("initials", r"(?<![\w.’'-])(?P<in>(?:[A-Z]\.\s?)*[A-Z]\.)(?=[\s,;:)\]”’\"]|$)", _initials),
        ("symbol", r"(?P<sym>&|§§|§|¶|(?<=\d)\s?×\s?(?=\d)|(?<=\d )[+=](?= \d))", _symbol),
        ("greek", _GREEK_WORD if f in _LATIN_FAMILIES else _NEVER, _greek),
    ]
    return rules


# --------------------------------------------------------------------------- chapter and verse

# 'Cf. Ezekiel 2:1' (The Waste Land's notes) is neither a time nor a ratio: a narrator says
# 'Ezekiel chapter two, verse one'. Only after a book of the Bible, where nothing else is meant.
_BIBLE_BOOKS = "|".join(sorted((
    "Genesis Exodus Leviticus Numbers Deuteronomy Joshua Judges Ruth Samuel Kings Chronicles Ezra "
    "Nehemiah Esther Job Psalms? Proverbs Ecclesiastes Isaiah Jeremiah Lamentations Ezekiel Daniel "
    "Hosea Joel Amos Obadiah Jonah Micah Nahum Habakkuk Zephaniah Haggai Zechariah Malachi Matthew "
    "Mark Luke John Acts Romans Corinthians Galatians Ephesians Philippians Colossians "
    "Thessalonians Timothy Titus Philemon Hebrews James Peter Jude Revelation").split(), key=len, reverse=True))


def _verse(match: re.Match, p: Profile) -> str:
    book, chapter, verse, end = match.group("v_book", "v_ch", "v_v", "v_end")
    spoken = f"{book} chapter {p.num(chapter)}, verse{'s' if end else ''} {p.num(verse)}"
    return spoken + (f" to {p.num(end)}" if end else "")


def _ratio(match: re.Match, p: Profile) -> str:
    """'odds of 3:1': one digit after the colon is never minutes."""
    return f"{p.num(match.group('ra_a'))} to {p.num(match.group('ra_b'))}"


# --------------------------------------------------------------------------- Greek in a Latin-script book

# A Greek epigraph or word in an English (French, …) book is read the way a narrator
# without Greek reads it: transliterated, not spelled letter by letter ('phi, rho,
# epsilon…' is what the readers made of 'φρενός'). A short run of capitals is letters
# on a stone or a label ('the letters ΛΑΣΜ') and is read by their names.
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


def _alternatives(words) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) or _NEVER


def _time_re(family: str) -> str:
    hour = r"(?<![\d.:,])(?P<{}>[01]?\d|2[0-3])"
    ampm = r"[ap]\.\s?m\.|[AP]\.\s?M\.|[ap]m\b|[AP]M\b"
    if family == "en":
        return (hour.format("t_h") + rf":(?P<t_m>[0-5]\d)(?:\s?(?P<t_ap>{ampm}))?(?![\d:])"
                + "|" + hour.format("t_h2") + rf"\.(?P<t_m2>[0-5]\d)\s?(?P<t_ap2>{ampm})"
                + "|" + hour.format("t_h3") + rf"\s?(?P<t_ap3>{ampm})")
    separator, minutes = (r"(?:\s?h\s?|:)", r"(?P<t_m>[0-5]\d)?") if family == "fr" else (r"(?:h|:)", r"(?P<t_m>[0-5]\d)")
    unused = "".join(f"(?P<{name}>{_NEVER})?" for name in ("t_ap", "t_h2", "t_m2", "t_ap2", "t_h3", "t_ap3"))
    end = r"(?![\d:])" if family in ("ja", "zh") else r"(?![\w:])"  # no spaces between CJK words
    return hour.format("t_h") + separator + minutes + end + unused


def _ordinal_re(family: str) -> str:
    suffixes = {
        "en": r"st|nd|rd|th|ST|ND|RD|TH|(?<=[23])[dD]",
        "fr": r"ᵉʳᵉ|ᵉʳ|ᵉ|ères|ère|ers|er|res|re|èmes|ème|eme|es|e",
        "es": r"\.?[ºª]|ro|ra|do|da|to|ta|er",
        "it": r"\.?[ºª]",
        "pt": r"\.?[ºª]",
    }.get(family)
    if not suffixes:
        return rf"(?P<o_num>{_NEVER})(?P<o_suf>)"
    return rf"(?<![\w.,])(?P<o_num>\d+)(?P<o_suf>{suffixes})(?![^\W\d_])"


def _roman_suffix_re(family: str) -> str:
    suffixes = {"en": r"th|st|nd|rd", "fr": r"ème|e|er|re|ère"}.get(family, _NEVER)
    # one letter only where no word is meant: 'Le', 'Ce', 'De', 'Me' are French words
    return rf"\b(?P<rs_num>[IVXLC]{{2,}}|[IVX])(?P<rs_suf>{suffixes})\b"


def _units_re(p: Profile) -> str:
    parts = []
    for key in sorted(_units(p.family, p.code), key=len, reverse=True):
        tail = r"\.?" if key[-1].isalpha() and key not in _UNIT_KEEP_DOT else ""
        parts.append(re.escape(key) + tail + (r"(?![\w’'])" if key[-1].isalnum() or key[-1] == "." else ""))
    return "|".join(parts)


def _abbreviation_re(family: str) -> str:
    # Forms without a full stop ('Mr Darcy') count only before a capitalised name
    alternatives = "|".join(
        re.escape(k) + ("" if k.endswith(".") else r"(?=\s+[A-ZÀ-Ý])")
        for k in sorted(_ABBREVIATIONS[family], key=len, reverse=True))
    return rf"(?<![\w.&])(?P<ab>{alternatives or _NEVER})(?!\w)"


# Most paragraphs have no digit, no sign and no address: the rules that need one are
# left out of the scan for them, which makes it about four times faster.
_GATES = {
    "digit": re.compile(r"\d"),
    "sign": re.compile(r"[&§¶*†‡¹²³⁴⁵⁶⁷⁸⁹⁰•‣⁃▪½⅓⅔¼¾⅕⅖⅗⅘⅙⅚⅛⅜⅝⅞]"),
    "web": re.compile(r"@|://|www\d?\.|\.(?:com|org|net|edu|gov|info)\b"),
}
_NEEDS = {
    **dict.fromkeys(("verse", "ratio", "old_money", "money", "time", "date", "day_month", "dash_year", "decade", "ordinal",
                     "percent", "unit", "range", "number", "digits", "counter", "era"), {"digit"}),
    **dict.fromkeys(("email", "url"), {"web"}),
    **dict.fromkeys(("bullet", "power", "mark"), {"sign"}),
    **dict.fromkeys(("fraction", "symbol"), {"sign", "digit"}),
}


@lru_cache(maxsize=None)
def _handlers(lang: str) -> dict[str, Handler]:
    return {name: handler for name, _, handler in _rules(profile(lang))}


@lru_cache(maxsize=None)
def _compiled(lang: str, gates: frozenset[str]) -> re.Pattern:
    rules = [(name, regex) for name, regex, _ in _rules(profile(lang))
             if regex != _NEVER and (name not in _NEEDS or _NEEDS[name] & gates)]
    return re.compile("|".join(f"(?P<{name}>{regex})" for name, regex in rules), re.MULTILINE)


def _pattern(text: str, lang: str) -> re.Pattern:
    return _compiled(lang, frozenset(name for name, gate in _GATES.items() if gate.search(text)))


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


# --------------------------------------------------------------------------- dictionaries

_WORDS: dict[str, dict[str, str]] = {
    "en": {"point": "point", "and": "and", "at": "at", "dot": "dot", "percent": "percent",
           "to": "to", "over": "over"},
    "fr": {"point": "virgule", "and": "et", "at": "arobase", "dot": "point", "percent": "pour cent",
           "to": "à", "over": "sur"},
    "es": {"point": "coma", "and": "y", "at": "arroba", "dot": "punto", "percent": "por ciento",
           "to": "a", "over": "entre"},
    "it": {"point": "virgola", "and": "e", "at": "chiocciola", "dot": "punto", "percent": "per cento",
           "to": "a", "over": "su"},
    "pt": {"point": "vírgula", "and": "e", "at": "arroba", "dot": "ponto", "percent": "por cento",
           "to": "a", "over": "sobre"},
    "hi": {"point": "दशमलव", "and": "और", "at": "एट", "dot": "डॉट", "percent": "प्रतिशत",
           "to": "से", "over": "बटा"},
    "ja": {"point": "点", "and": "と", "at": "アット", "dot": "ドット", "percent": "パーセント",
           "to": "から", "over": "分の"},
    "zh": {"point": "点", "and": "又", "at": "艾特", "dot": "点", "percent": "",
           "to": "至", "over": "分之"},
}

_HI_ORDINALS = {1: "पहला", 2: "दूसरा", 3: "तीसरा", 4: "चौथा", 6: "छठा"}

# symbol -> (singular, plural, minor singular, minor plural, gender of the major unit)
_CURRENCIES: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {"£": ("pound", "pounds", "penny", "pence", "m"), "$": ("dollar", "dollars", "cent", "cents", "m"),
           "US$": ("dollar", "dollars", "cent", "cents", "m"), "€": ("euro", "euros", "cent", "cents", "m"),
           "¥": ("yen", "yen", "sen", "sen", "m"), "￥": ("yen", "yen", "sen", "sen", "m"),
           "₹": ("rupee", "rupees", "paisa", "paise", "m"), "Rs.": ("rupee", "rupees", "paisa", "paise", "m"),
           "R$": ("real", "reais", "centavo", "centavos", "m"), "L": ("pound", "pounds", "penny", "pence", "m"),
           "रु.": ("rupee", "rupees", "paisa", "paise", "m")},
    "fr": {"£": ("livre", "livres", "penny", "pence", "f"), "$": ("dollar", "dollars", "cent", "cents", "m"),
           "€": ("euro", "euros", "centime", "centimes", "m"), "¥": ("yen", "yens", "sen", "sen", "m"),
           "R$": ("réal", "réais", "centavo", "centavos", "m")},
    "es": {"£": ("libra", "libras", "penique", "peniques", "f"), "$": ("dólar", "dólares", "centavo", "centavos", "m"),
           "€": ("euro", "euros", "céntimo", "céntimos", "m"), "¥": ("yen", "yenes", "sen", "sen", "m"),
           "R$": ("real", "reales", "centavo", "centavos", "m")},
    "it": {"£": ("sterlina", "sterline", "penny", "pence", "f"), "$": ("dollaro", "dollari", "centesimo", "centesimi", "m"),
           "€": ("euro", "euro", "centesimo", "centesimi", "m"), "¥": ("yen", "yen", "sen", "sen", "m")},
    "pt": {"£": ("libra", "libras", "pêni", "pence", "f"), "$": ("dólar", "dólares", "centavo", "centavos", "m"),
           "R$": ("real", "reais", "centavo", "centavos", "m"), "€": ("euro", "euros", "cêntimo", "cêntimos", "m"),
           "¥": ("iene", "ienes", "sen", "sen", "m")},
    "hi": {"₹": ("रुपया", "रुपये", "पैसा", "पैसे", "m"), "रु.": ("रुपया", "रुपये", "पैसा", "पैसे", "m"),
           "Rs.": ("रुपया", "रुपये", "पैसा", "पैसे", "m"), "$": ("डॉलर", "डॉलर", "सेंट", "सेंट", "m"),
           "£": ("पाउंड", "पाउंड", "पेंस", "पेंस", "m"), "€": ("यूरो", "यूरो", "सेंट", "सेंट", "m")},
    "ja": {"¥": ("円",), "￥": ("円",), "$": ("ドル",), "€": ("ユーロ",), "£": ("ポンド",), "₹": ("ルピー",)},
    "zh": {"¥": ("元",), "￥": ("元",), "$": ("美元",), "€": ("欧元",), "£": ("英镑",), "₹": ("卢比",)},
}
_CURRENCY_SIGNS = ("£", "$", "US$", "€", "¥", "￥", "₹", "Rs.", "R$", "रु.")
_SCALES = ("thousand", "million", "billion", "millions", "milliards", "milliard", "millones", "millón",
           "milioni", "milione", "miliardi", "milhões", "milhão", "bilhões", "万", "億", "亿")

_MONTHS = {"Jan": "January", "Feb": "February", "Mar": "March", "Apr": "April", "Jun": "June",
           "Jul": "July", "Aug": "August", "Sep": "September", "Sept": "September", "Oct": "October",
           "Nov": "November", "Dec": "December"}
_MONTH_PATTERNS = [*(m for m in ("January February March April May June July August September October "
                                 "November December").split()), *(re.escape(k) + r"\." for k in _MONTHS)]

# Words ending in s that may follow a year ('in 1881 was', '1881 this') without being counted
_NOT_PLURALS = frozenset(
    "was is has his this its as us thus yes whereas unless perhaps always afterwards towards besides "
    "sometimes upwards downwards less across alas nevertheless regardless hers ours theirs yours".split())
_IRREGULAR_PLURALS = frozenset(
    "men women children people feet teeth geese mice oxen sheep deer cattle head foot pence swine "
    "fish horse infantry cavalry souls".split())

_SENTENCE_STARTERS = frozenset(
    "The He She It They We I You But And In On At When Then There This That What How Why Where If So "
    "A An As His Her Their My Our Its Yet Nor Or For After Before While Now No Yes Not All One Some "
    "Here To From With By Is Was Are Were Do Did Have Had Let Oh Well Still Even Only Such These "
    "Those Who Which Thus Hence Besides Although Though Since Upon Meanwhile Once Every Each Nothing "
    "Il Elle Le La Les Un Une Et Mais Je Nous Vous Ils On Ce El Los Las Y Pero Yo Lo Gli Ma Io Os "
    "Eu Ele Ela Não".split())

# Capitalised words that precede roman numerals without being monarchs' names
_NOT_REGNAL = frozenset(
    "Chapter Book Part Volume Letter Section Act Scene Canto Stave Article Appendix Psalm Plate War "
    "World Class Type Form Table Figure Schedule Tome Livre Chapitre Partie Acte Scène Chant Lettre "
    "Capítulo Libro Parte Tomo Acto Escena Capitolo Atto Scena Livro Ato Cena Page Number No Year "
    "Vol Fig Psaume Salmo".split()) | _SENTENCE_STARTERS
_REGNAL_NAMES = frozenset(
    "Henry Edward George William Richard Charles James John Elizabeth Mary Anne Victoria Louis Napoleon "
    "Francis Philip Peter Catherine Frederick Alexander Nicholas Ivan Pius Leo Gregory Innocent Clement "
    "Benedict Urban Boniface Paul Sixtus Julius Ferdinand Isabella Alfonso Henri François Philippe "
    "Carlos Felipe Fernando Pedro João Luís Luigi Carlo Vittorio Umberto Otto Wilhelm Friedrich Ludwig "
    "Rudolf Gustav Gustavus Christian Olaf Harold Malcolm David Robert Stephen Ptolemy Rameses Ramses "
    "Darius Xerxes Antiochus Constantine Justinian Theodosius Leopold Maximilian Joseph Franz Karl Sancho "
    "Enrique Juan Jaime Manuel Afonso Sebastião Guillaume Jean Jacques Charlemagne Carlo Giovanni Pio "
    "Leone Gregorio Ferdinando Filippo Enrico Luis Isabel Maria Emanuele Vittorio Ricardo".split())

_TITLE_LETTERS = {
    "en": {"M": "Monsieur"},
    "fr": {"M": "monsieur"},
    "es": {"D": "don", "S": "San"},
    "it": {"S": "San"},
    "pt": {"D": "Dom", "S": "São"},
}

# printed -> (spoken, kind).  'title' and 'lead' precede what they qualify and never end
# a sentence; 'word' keeps its full stop where the next word starts a sentence.
_ABBREVIATIONS: dict[str, dict[str, tuple[str, str]]] = {
    "en": {
        **{k: (v, "title") for k, v in {
            "Mr.": "Mister", "Mr": "Mister", "Mrs.": "Missus", "Mrs": "Missus", "Ms.": "Miz",
            "Messrs.": "Messers", "Messrs": "Messers", "Mme.": "Madame", "Mme": "Madame",
            "Mlle.": "Mademoiselle", "Mlle": "Mademoiselle", "Dr.": "Doctor", "Dr": "Doctor",
            "Prof.": "Professor", "Rev.": "Reverend", "Revd.": "Reverend", "Capt.": "Captain",
            "Col.": "Colonel", "Gen.": "General", "Lieut.": "Lieutenant", "Lt.": "Lieutenant",
            "Sgt.": "Sergeant", "Serj.": "Serjeant", "Maj.": "Major", "Adm.": "Admiral",
            "Gov.": "Governor", "Hon.": "Honourable", "Rt.": "Right",
            "Mt.": "Mount", "Ft.": "Fort", "Pres.": "President", "Supt.": "Superintendent",
            "Insp.": "Inspector", "Fr.": "Father", "Bp.": "Bishop", "Abp.": "Archbishop",
        }.items()},
        **{k: (v, "lead") for k, v in {
            "i.e.": "that is", "e.g.": "for example", "viz.": "namely", "cf.": "compare", "Cf.": "Compare",
            "vs.": "versus",
        }.items()},
        **{k: (v, "word") for k, v in {
            "etc.": "et cetera", "&c.": "et cetera", "&c": "et cetera", "Esq.": "Esquire",
            "Jr.": "Junior", "Sr.": "Senior", "Bros.": "Brothers",
            "Co.": "Company", "Ltd.": "Limited", "Inc.": "Incorporated", "ibid.": "ibidem",
            "Ibid.": "Ibidem", "inst.": "instant", "ult.": "ultimo", "MS.": "manuscript",
            "MSS.": "manuscripts", "a.m.": "a-m", "p.m.": "p-m", "A.M.": "A-M", "P.M.": "P-M",
        }.items()},
    },
    "fr": {
        **{k: (v, "title") for k, v in {
            "MM.": "messieurs", "Mme": "madame", "Mme.": "madame", "Mmes": "mesdames",
            "Mlle": "mademoiselle", "Mlle.": "mademoiselle", "Mlles": "mesdemoiselles",
            "Me": "maître", "Mgr": "monseigneur", "Mgr.": "monseigneur", "Dr": "docteur",
            "Dr.": "docteur", "Pr": "professeur", "St": "saint", "Ste": "sainte", "St.": "saint",
            "Ste.": "sainte", "Vve": "veuve",
        }.items()},
        **{k: (v, "lead") for k, v in {
            "p. ex.": "par exemple", "c.-à-d.": "c'est-à-dire", "cf.": "confer", "env.": "environ",
        }.items()},
        **{k: (v, "word") for k, v in {
            "etc.": "et cetera", "&c.": "et cetera", "Cie": "compagnie", "Cie.": "compagnie",
            "av. J.-C.": "avant Jésus-Christ", "apr. J.-C.": "après Jésus-Christ",
            "J.-C.": "Jésus-Christ",
        }.items()},
    },
    "es": {
        **{k: (v, "title") for k, v in {
            "Sr.": "señor", "Sra.": "señora", "Srta.": "señorita", "Sres.": "señores",
            "Srs.": "señores", "Dña.": "doña", "D.ª": "doña", "Dª": "doña", "Dr.": "doctor",
            "Dra.": "doctora", "Lic.": "licenciado", "Ing.": "ingeniero", "Prof.": "profesor",
            "Gral.": "general", "Sto.": "santo", "Sta.": "santa", "Fr.": "fray", "Ud.": "usted",
            "Vd.": "usted", "Uds.": "ustedes", "Vds.": "ustedes",
        }.items()},
        **{k: (v, "lead") for k, v in {"p. ej.": "por ejemplo", "cf.": "confróntese"}.items()},
        **{k: (v, "word") for k, v in {
            "etc.": "etcétera", "a. C.": "antes de Cristo", "d. C.": "después de Cristo",
            "a.C.": "antes de Cristo", "d.C.": "después de Cristo", "EE. UU.": "Estados Unidos",
            "EE.UU.": "Estados Unidos", "Cía.": "compañía",
        }.items()},
    },
    "it": {
        **{k: (v, "title") for k, v in {
            "Sig.": "signor", "Sig.ra": "signora", "Sig.na": "signorina", "Sigg.": "signori",
            "Dott.": "dottor", "Dott.ssa": "dottoressa", "Dr.": "dottor", "Prof.": "professor",
            "Prof.ssa": "professoressa", "Avv.": "avvocato", "Ing.": "ingegner", "On.": "onorevole",
            "Mons.": "monsignor", "Ill.mo": "illustrissimo", "Gent.mo": "gentilissimo",
            "Gent.ma": "gentilissima", "Egr.": "egregio",
        }.items()},
        **{k: (v, "lead") for k, v in {"ad es.": "ad esempio", "p. es.": "per esempio", "cfr.": "confronta"}.items()},
        **{k: (v, "word") for k, v in {
            "ecc.": "eccetera", "etc.": "eccetera", "a.C.": "avanti Cristo", "d.C.": "dopo Cristo",
            "c.d.": "cosiddetto", "ca.": "circa",
        }.items()},
    },
    "pt": {
        **{k: (v, "title") for k, v in {
            "Sr.": "senhor", "Sra.": "senhora", "Srta.": "senhorita", "Srs.": "senhores",
            "Dr.": "doutor", "Dra.": "doutora", "Prof.": "professor", "Profa.": "professora",
            "V. Exa.": "Vossa Excelência", "V. Ex.ª": "Vossa Excelência", "V. Sa.": "Vossa Senhoria",
            "Sto.": "santo", "Sta.": "santa", "Pe.": "padre", "Fr.": "frei",
        }.items()},
        **{k: (v, "lead") for k, v in {"p. ex.": "por exemplo", "cf.": "conforme"}.items()},
        **{k: (v, "word") for k, v in {
            "etc.": "etcétera", "a.C.": "antes de Cristo", "d.C.": "depois de Cristo",
            "Cia.": "companhia", "Ltda.": "limitada",
        }.items()},
    },
    "hi": {
        **{k: (v, "title") for k, v in {
            "डॉ.": "डॉक्टर", "प्रो.": "प्रोफ़ेसर", "स्व.": "स्वर्गीय", "श्री.": "श्री", "Dr.": "डॉक्टर",
            "Mr.": "मिस्टर", "Mrs.": "मिसेज़",
        }.items()},
        **{k: (v, "lead") for k, v in {"जैसे.": "जैसे"}.items()},
        **{k: (v, "word") for k, v in {
            "ई.पू.": "ईसा पूर्व", "ई. पू.": "ईसा पूर्व", "ई.": "ईसवी", "आदि.": "आदि", "कि.मी.": "किलोमीटर",
            "etc.": "इत्यादि",
        }.items()},
    },
    "ja": {},
    "zh": {},
}

# Words that introduce a number ('No. 5', 'pp. 12-14', 'vol. iv'): spoken only before one.
_COUNTERS: dict[str, dict[str, str]] = {
    "en": {"No.": "Number", "Nos.": "Numbers", "no.": "number", "nos.": "numbers", "p.": "page",
           "pp.": "pages", "vol.": "volume", "Vol.": "Volume", "vols.": "volumes", "Vols.": "Volumes",
           "ch.": "chapter", "Ch.": "Chapter", "chap.": "chapter", "Chap.": "Chapter", "fig.": "figure",
           "Fig.": "Figure", "figs.": "figures", "art.": "article", "Art.": "Article", "c.": "circa",
           "ca.": "circa", "l.": "line", "ll.": "lines", "#": "number"},
    "fr": {"n°": "numéro", "N°": "numéro", "nº": "numéro", "Nº": "numéro", "no": "numéro", "No": "numéro",
           "p.": "page", "pp.": "pages", "t.": "tome", "vol.": "volume", "chap.": "chapitre",
           "art.": "article", "fig.": "figure", "#": "numéro"},
    "es": {"n.º": "número", "nº": "número", "N.º": "número", "Nº": "número", "núm.": "número",
           "Núm.": "número", "n.°": "número", "p.": "página", "pág.": "página", "págs.": "páginas",
           "pp.": "páginas", "t.": "tomo", "vol.": "volumen", "cap.": "capítulo", "art.": "artículo",
           "fig.": "figura", "#": "número"},
    "it": {"n.": "numero", "n°": "numero", "nº": "numero", "N.": "numero", "p.": "pagina",
           "pag.": "pagina", "pp.": "pagine", "pagg.": "pagine", "vol.": "volume", "cap.": "capitolo",
           "art.": "articolo", "fig.": "figura", "#": "numero"},
    "pt": {"n.º": "número", "nº": "número", "N.º": "número", "Nº": "número", "n°": "número",
           "p.": "página", "pág.": "página", "págs.": "páginas", "pp.": "páginas", "t.": "tomo",
           "vol.": "volume", "cap.": "capítulo", "art.": "artigo", "fig.": "figura", "#": "número"},
    "hi": {"पृ.": "पृष्ठ", "नं.": "नंबर", "No.": "नंबर", "#": "नंबर"},
    "ja": {"#": "番号"},
    "zh": {"#": "第"},
}
_COUNTING = re.compile(r"(?:(?<![\w.])(?:" + "|".join(
    re.escape(k) for k in sorted({k for table in _COUNTERS.values() for k in table}, key=len, reverse=True))
    + r"|§|[Pp]ages?|[Nn]umbers?)\s*)$")

_ROMAN_KEYWORDS = {
    "en": "Chapter Book Part Volume Letter Section Act Scene Canto Stave Article Appendix Psalm Plate "
          "War Tome",
    "fr": "Chapitre chapitre Livre livre Tome tome Partie partie Acte acte Scène scène Chant chant "
          "Volume volume Lettre Section Article article Annexe Psaume",
    "es": "Capítulo capítulo Libro libro Parte parte Tomo tomo Acto acto Escena escena Canto canto "
          "Volumen volumen Carta Sección Artículo artículo Apéndice siglo Siglo",
    "it": "Capitolo capitolo Libro libro Parte parte Tomo tomo Atto atto Scena scena Canto canto "
          "Volume volume Lettera Sezione Articolo articolo Appendice secolo Secolo",
    "pt": "Capítulo capítulo Livro livro Parte parte Tomo tomo Ato ato Acto Cena cena Canto canto "
          "Volume volume Carta Seção Secção Artigo artigo Apêndice século Século",
}


def _roman_keywords(family: str) -> list[str]:
    words = _ROMAN_KEYWORDS.get(family, _ROMAN_KEYWORDS["en"]).split()
    upper = [w.upper() for w in words if w[0].isupper()]
    lower = [w.lower() for w in words if w[0].isupper() and w.lower() not in words]
    counters = [k for k in _COUNTERS.get(family, {}) if k.endswith(".")]
    return words + upper + lower + counters


_SYMBOLS = {
    "en": {"&": "and", "§": "section", "§§": "sections", "¶": "paragraph", "×": "by", "+": "plus", "=": "equals"},
    "fr": {"&": "et", "§": "paragraphe", "§§": "paragraphes", "¶": "alinéa", "×": "fois", "+": "plus", "=": "égale"},
    "es": {"&": "y", "§": "párrafo", "§§": "párrafos", "¶": "párrafo", "×": "por", "+": "más", "=": "igual a"},
    "it": {"&": "e", "§": "paragrafo", "§§": "paragrafi", "¶": "capoverso", "×": "per", "+": "più", "=": "uguale"},
    "pt": {"&": "e", "§": "parágrafo", "§§": "parágrafos", "¶": "parágrafo", "×": "vezes", "+": "mais", "=": "igual a"},
    "hi": {"&": "और", "§": "धारा", "§§": "धाराएँ", "¶": "अनुच्छेद", "×": "गुणा", "+": "जमा", "=": "बराबर"},
    "ja": {"&": "と", "§": "節", "§§": "節", "¶": "段落", "×": "かける", "+": "たす", "=": "は"},
    "zh": {"&": "和", "§": "第", "§§": "第", "¶": "段", "×": "乘", "+": "加", "=": "等于"},
}

_VULGAR = {"½": (1, 2), "⅓": (1, 3), "⅔": (2, 3), "¼": (1, 4), "¾": (3, 4), "⅕": (1, 5), "⅖": (2, 5),
           "⅗": (3, 5), "⅘": (4, 5), "⅙": (1, 6), "⅚": (5, 6), "⅛": (1, 8), "⅜": (3, 8), "⅝": (5, 8),
           "⅞": (7, 8)}
# (top, bottom) -> (alone, after a whole number)
_FRACTIONS = {
    "en": {(1, 2): ("one half", "a half"), (1, 4): ("one quarter", "a quarter"), (3, 4): ("three quarters",),
           (1, 3): ("one third", "a third"), (2, 3): ("two thirds",)},
    "fr": {(1, 2): ("un demi", "demi"), (1, 4): ("un quart",), (3, 4): ("trois quarts",),
           (1, 3): ("un tiers",), (2, 3): ("deux tiers",)},
    "es": {(1, 2): ("un medio", "medio"), (1, 4): ("un cuarto",), (3, 4): ("tres cuartos",),
           (1, 3): ("un tercio",), (2, 3): ("dos tercios",)},
    "it": {(1, 2): ("un mezzo", "mezzo"), (1, 4): ("un quarto",), (3, 4): ("tre quarti",),
           (1, 3): ("un terzo",), (2, 3): ("due terzi",)},
    "pt": {(1, 2): ("um meio", "meio"), (1, 4): ("um quarto",), (3, 4): ("três quartos",),
           (1, 3): ("um terço",), (2, 3): ("dois terços",)},
    "hi": {(1, 2): ("आधा",), (1, 4): ("एक चौथाई",), (3, 4): ("तीन चौथाई",)},
}

# Abbreviated units whose full stop is part of the key ('in.' is a unit, 'in' a word)
_UNIT_KEEP_DOT = frozenset({"in."})


@lru_cache(maxsize=None)
def _units(family: str, code: str) -> dict[str, tuple[str, str]]:
    metre = "meter" if code == "en-us" else "metre"
    table = {
        "en": {"°C": ("degree Celsius", "degrees Celsius"), "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
               "°": ("degree", "degrees"), "′": ("minute", "minutes"), "″": ("second", "seconds"),
               "ft": ("foot", "feet"), "in.": ("inch", "inches"), "lb": ("pound", "pounds"),
               "lbs": ("pounds", "pounds"), "oz": ("ounce", "ounces"), "yds": ("yards", "yards"),
               "yd": ("yard", "yards"), "doz": ("dozen", "dozen"), "cwt": ("hundredweight", "hundredweight"),
               "mph": ("mile per hour", "miles per hour"), "km": (f"kilo{metre}", f"kilo{metre}s"),
               "cm": (f"centi{metre}", f"centi{metre}s"), "mm": (f"milli{metre}", f"milli{metre}s"),
               "kg": ("kilogram", "kilograms")},
        "fr": {"°C": ("degré Celsius", "degrés Celsius"), "°": ("degré", "degrés"), "′": ("minute", "minutes"),
               "″": ("seconde", "secondes"), "km": ("kilomètre", "kilomètres"), "cm": ("centimètre", "centimètres"),
               "mm": ("millimètre", "millimètres"), "kg": ("kilogramme", "kilogrammes"), "m": ("mètre", "mètres")},
        "es": {"°C": ("grado Celsius", "grados Celsius"), "°": ("grado", "grados"), "km": ("kilómetro", "kilómetros"),
               "cm": ("centímetro", "centímetros"), "kg": ("kilo", "kilos"), "m": ("metro", "metros")},
        "it": {"°C": ("grado Celsius", "gradi Celsius"), "°": ("grado", "gradi"), "km": ("chilometro", "chilometri"),
               "cm": ("centimetro", "centimetri"), "kg": ("chilo", "chili"), "m": ("metro", "metri")},
        "pt": {"°C": ("grau Celsius", "graus Celsius"), "°": ("grau", "graus"), "km": ("quilômetro", "quilômetros"),
               "cm": ("centímetro", "centímetros"), "kg": ("quilo", "quilos"), "m": ("metro", "metros")},
        "hi": {"°": ("डिग्री", "डिग्री"), "km": ("किलोमीटर", "किलोमीटर"), "kg": ("किलोग्राम", "किलोग्राम")},
        "ja": {"°": ("度", "度"), "km": ("キロメートル", "キロメートル"), "kg": ("キログラム", "キログラム"),
               "cm": ("センチメートル", "センチメートル")},
        "zh": {"°": ("度", "度"), "km": ("公里", "公里"), "kg": ("公斤", "公斤"), "cm": ("厘米", "厘米")},
    }
    return table[family]
