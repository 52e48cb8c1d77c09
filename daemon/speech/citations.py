"""Chapter and verse: 'Cf. Ezekiel 2:1' (The Waste Land's notes) is neither a time nor a
ratio; a narrator says 'Ezekiel chapter two, verse one'.  Only after a book of the Bible,
where nothing else is meant, and in English books."""

from __future__ import annotations

import re

from .profiles import Profile
from .rules import DIGIT, NEVER, Rule
from .tables import en

# (the names are words, but 'Psalms?' is a regex: Psalm or Psalms)
_BIBLE_BOOKS = "|".join(sorted(en.BIBLE_BOOKS, key=len, reverse=True))
_VERSE = (rf"\b(?P<v_book>{_BIBLE_BOOKS}) (?P<v_ch>\d{{1,3}}):(?P<v_v>\d{{1,3}})"
          rf"(?:[–-](?P<v_end>\d{{1,3}}))?(?![\d:])")


def rules(p: Profile) -> list[Rule]:
    return [Rule("verse", _VERSE if p.family == "en" else NEVER, _verse, DIGIT)]


def _verse(match: re.Match, p: Profile) -> str:
    book, chapter, verse, end = match.group("v_book", "v_ch", "v_v", "v_end")
    spoken = f"{book} chapter {p.num(chapter)}, verse{'s' if end else ''} {p.num(verse)}"
    return spoken + (f" to {p.num(end)}" if end else "")
