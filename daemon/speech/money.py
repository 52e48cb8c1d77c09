"""Money: £40, $10.50, 10 €, R$ 5,00 and '3 millions d'euros' said as the amount and its
currency; and English old money, pounds, shillings and pence (£3 10s. 6d.)."""

from __future__ import annotations

import re

from .context import stop
from .numbers import cardinal, decimal, gendered, integer
from .profiles import Profile
from .rules import DIGIT, NEVER, Rule, alternatives
from .tables import by_family

_CURRENCIES: dict[str, dict[str, tuple[str, ...]]] = by_family("CURRENCIES")
_CURRENCY_SIGNS = ("£", "$", "US$", "€", "¥", "￥", "₹", "Rs.", "R$", "रु.")
_SCALES = ("thousand", "million", "billion", "millions", "milliards", "milliard", "millones", "millón",
           "milioni", "milione", "miliardi", "milhões", "milhão", "bilhões", "万", "億", "亿")
_PENCE = r"\d{1,2}½?|½"
_OLD_MONEY = (rf"£\s?(?P<lsd_l>\d+)\s(?P<lsd_s>\d{{1,2}})s\.?(?:\s(?P<lsd_d>{_PENCE})d\.?)?(?![\w])"
              rf"|(?<![\w£])(?P<lsd_s2>\d{{1,3}})s\.\s?(?P<lsd_d2>{_PENCE})d\.?(?![\w])"
              rf"|(?<![\w£])(?<!the )(?P<lsd_d3>{_PENCE})d\.(?!\w)")


def rules(p: Profile) -> list[Rule]:
    return [
        Rule("old_money", _OLD_MONEY if p.family == "en" else NEVER, _old_money, DIGIT),
        Rule("money", _money_re(p), _money, DIGIT),
    ]


def _money_re(p: Profile) -> str:
    cur = alternatives(_CURRENCY_SIGNS)
    if p.family == "en":
        cur += r"|(?<![\w])L(?=\d)"  # the old printers' pound sign: Moby-Dick's 'L100,000'
    dec, scales = p.number_re, "|".join(_SCALES)
    return (rf"(?<![^\W\d_])(?P<cur_a>{cur})\s?(?P<amt_a>{dec})(?:\s?(?P<scale>{scales})(?![\w]))?"
            rf"|(?<![\w.,])(?P<amt_b>{dec})\s?(?P<cur_b>{cur})(?!\w)")


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
    words = gendered(p.num(number), p.family, names[-1] == "f")
    return f"{words} {names[0] if one else names[1]}"


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
    return spoken + (stop(match.string, match.end()) if match.group(0).endswith(".") else "")


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
