"""Times of day and dates: '10.30 a.m.', '3:15', '10 h 30', 'January 19', '15 October',
'the 1840s', and the year left blank on purpose ('in the year 18—').  Times are read in
every language; dates, decades and blank years in English books."""

from __future__ import annotations

import re

from .context import stop
from .numbers import cardinal, gendered, ordinal, year
from .profiles import Profile
from .rules import DIGIT, NEVER, Rule
from .tables import FAMILIES, en

_MONTH_PATTERNS = [*en.MONTHS, *(re.escape(k) + r"\." for k in en.MONTH_ABBREVIATIONS)]
_MONTHS_RE = "|".join(sorted(_MONTH_PATTERNS, key=len, reverse=True))


def rules(p: Profile) -> list[Rule]:
    english = p.family == "en"
    return [
        Rule("time", _time_re(p.family), _time, DIGIT),
        Rule("date", rf"\b(?P<d_mon>{_MONTHS_RE})\s(?P<d_day>[1-9]|[12]\d|3[01])(?:st|nd|rd|th|d)?\b(?![.,:]\d)"
             if english else NEVER, _date, DIGIT),
        Rule("day_month", rf"\b(?P<dm_day>[1-9]|[12]\d|3[01])\s(?P<dm_mon>{_MONTHS_RE})(?!\w)"
             if english else NEVER, _day_month, DIGIT),
        Rule("dash_year", r"\b(?P<dy_c>1\d)—(?!\d)" if english else NEVER, _dash_year, DIGIT),
        Rule("decade", r"\b(?P<dec_y>1\d\d0|20\d0)[’']?s\b" if english else NEVER, _decade, DIGIT),
    ]


def _time_re(family: str) -> str:
    hour = r"(?<![\d.:,])(?P<{}>[01]?\d|2[0-3])"
    ampm = r"[ap]\.\s?m\.|[AP]\.\s?M\.|[ap]m\b|[AP]M\b"
    if family == "en":
        return (hour.format("t_h") + rf":(?P<t_m>[0-5]\d)(?:\s?(?P<t_ap>{ampm}))?(?![\d:])"
                + "|" + hour.format("t_h2") + rf"\.(?P<t_m2>[0-5]\d)\s?(?P<t_ap2>{ampm})"
                + "|" + hour.format("t_h3") + rf"\s?(?P<t_ap3>{ampm})")
    separator, minutes = (r"(?:\s?h\s?|:)", r"(?P<t_m>[0-5]\d)?") if family == "fr" else (r"(?:h|:)", r"(?P<t_m>[0-5]\d)")
    unused = "".join(f"(?P<{name}>{NEVER})?" for name in ("t_ap", "t_h2", "t_m2", "t_ap2", "t_h3", "t_ap3"))
    end = r"(?![\d:])" if family in ("ja", "zh") else r"(?![\w:])"  # no spaces between CJK words
    return hour.format("t_h") + separator + minutes + end + unused


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
            spoken += stop(match.string, match.end())
    return spoken


def _clock(hour: int, minute: int | None, family: str, marked: bool = False) -> str:
    h = cardinal(hour, family)
    m = cardinal(minute, family) if minute else ""
    if family == "en":
        if not minute:
            return h if marked else f"{h} o'clock"
        return f"{h} oh {m}" if minute < 10 else f"{h} {m}"
    if family == "fr":
        base = f"{gendered(h, 'fr', True)} heure{'s' if hour > 1 else ''}"
        return f"{base} {m}" if m else base
    if family in ("es", "it", "pt"):
        hour_words = gendered(h, family, True)
        if not m:
            return {"es": f"{hour_words} en punto", "it": f"{hour_words} in punto",
                    "pt": f"{hour_words} hora{'s' if hour > 1 else ''}"}[family]
        return f"{hour_words} {FAMILIES[family].WORDS['and']} {m}"
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
    return en.MONTH_ABBREVIATIONS.get(printed.rstrip("."), printed)


def _dash_year(match: re.Match, p: Profile) -> str:
    """'in the year 18—' (a year left blank on purpose) -> 'eighteen hundred and —'."""
    return f"{cardinal(int(match.group('dy_c')))} hundred and —"


def _decade(match: re.Match, p: Profile) -> str:
    """'the 1840s' -> 'the eighteen forties'."""
    return re.sub(r"y$", "ie", year(int(match.group("dec_y")))) + "s"
