"""What stands around a match: the next word, the word before, whether a full stop ends
the sentence.  The rules that need to look beyond their own match use these.

Book text is hostile: every rule and every look around a match runs in linear time.
A look ahead stops within a word's length (no word is 100 characters long), so that
'1881x1881x...' does not make each number read the rest of the paragraph as its next word.
"""

from __future__ import annotations

import re

_LONGEST_WORD = 100
_NEXT_CHAR = re.compile(r"[\"'”’»)\]]*\s*[\"“‘'«(]*(\S?)")
NEXT_WORD = re.compile(r"[\"'”’»)\]]*\s*[\"“‘'«(]*([^\s\"”’'»),.;:!?]{0,%d})" % _LONGEST_WORD)
_PREV_WORD = re.compile(r"(\S+)\s+$")
WORD_AFTER = re.compile(r"\s++[^\W\d_]")
SPACE_THEN_WORD = re.compile(r"\s++\w")
_OPENING = "\"“‘'«("
ONLY_CLOSING = re.compile(r"[\s.,;:!?\"'”’»)\]]*")

# Capitalised words that start sentences, in each of our Latin-script languages: after
# them a capital letter is not a name's
SENTENCE_STARTERS = frozenset(
    "The He She It They We I You But And In On At When Then There This That What How Why Where If So "
    "A An As His Her Their My Our Its Yet Nor Or For After Before While Now No Yes Not All One Some "
    "Here To From With By Is Was Are Were Do Did Have Had Let Oh Well Still Even Only Such These "
    "Those Who Which Thus Hence Besides Although Though Since Upon Meanwhile Once Every Each Nothing "
    "Il Elle Le La Les Un Une Et Mais Je Nous Vous Ils On Ce El Los Las Y Pero Yo Lo Gli Ma Io Os "
    "Eu Ele Ela Não".split())


def next_char(text: str, end: int) -> str:
    """The next letter or sign after ``end``, past closing quotes and spaces."""
    return _NEXT_CHAR.match(text, end).group(1)


def next_word(text: str, end: int) -> str:
    """The word after ``end``, past closing quotes and spaces ('' at the paragraph's end)."""
    return NEXT_WORD.match(text, end).group(1)


def only_opening_before(text: str, start: int) -> bool:
    """True when nothing but spaces and opening quotes stands before ``start``.  Read
    backwards, so each character is read for one match at most (a forward check read a
    long run of '(' again for every match after it)."""
    position = start
    while position and (text[position - 1].isspace() or text[position - 1] in _OPENING):
        position -= 1
    return position == 0


def prev_word(text: str, start: int) -> str:
    """The word before ``start`` (looked for in the 40 characters before it)."""
    match = _PREV_WORD.search(text, max(0, start - 40), start)
    return match.group(1) if match else ""


def sentence_ends_after(text: str, end: int) -> bool:
    """True when a full stop just before ``end`` also ends the sentence: the paragraph
    ends there, or what follows starts with a capital letter."""
    following = next_char(text, end)
    return not following or following.isupper()


def stop(text: str, end: int) -> str:
    """The full stop to keep after a spoken abbreviation: '.' where the sentence ends."""
    return "." if sentence_ends_after(text, end) else ""


def capitalised(word: str) -> bool:
    """'Darcy' is, 'darcy' and 'USA' are not."""
    return bool(word) and word[0].isupper() and not (len(word) > 1 and word.isupper())
