"""Web and e-mail addresses: said as their site ('gutenberg dot org') or in full
('x at y dot org'), never spelled character by character."""

from __future__ import annotations

import re

from .profiles import Profile
from .rules import WEB, Rule

# an address's parts are as long as the standards allow (64 before @, 63 a label,
# 16 labels), so that in '-a-a-a...' or 'a.a.a...' each of the many starts reads a
# few dozen characters, not the rest of the paragraph; possessive (++) where giving
# characters back can never make a match
_EMAIL = r"(?<![\w.])[\w.+-]{1,64}+@[\w-]++(?:\.[\w-]++)+"
_URL = (r"(?:\b(?:https?|ftp)://|\bwww\d?\.)[^\s<>\"”’]+"
        r"|\b[\w-]{1,63}+(?:\.[\w-]{1,63}+){0,15}\.(?:com|org|net|edu|gov|info)\b(?:/[^\s<>\"”’]*)?")


def rules(p: Profile) -> list[Rule]:
    return [Rule("email", _EMAIL, _email, WEB), Rule("url", _URL, _url, WEB)]


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
