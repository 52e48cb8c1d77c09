"""From a chapter's paragraphs to what the voice model is asked to say.

Two jobs: make printed text speakable (dashes, ellipses, roman chapter
numbers), and cut it into pieces the model reads whole.  Kokoro takes at most
510 phonemes per call; a piece here is kept well under that (``MAX_PIECE``
characters) by cutting at sentence ends, then clause marks, then spaces, so no
word is ever dropped whatever the kokoro-onnx version does at its limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .epub import Chapter

# English runs about 1.05 phonemes a character; numbers and initials expand.
# 300 characters stays far enough below 510 phonemes for any real sentence.
MAX_PIECE = 300
# A segment (the unit of parallel work) holds about this many characters.
SEGMENT_CHARS = 2000
# ...but never less than this, where the book's tail is cut finer.
MIN_SEGMENT = 200

# Seconds of silence after a piece, by what ends it.
PAUSE_CLAUSE = 0.15
PAUSE_SENTENCE = 0.35
PAUSE_PARAGRAPH = 0.75
PAUSE_HEADING = 1.0
PAUSE_CHAPTER = 2.0

_ROMAN = re.compile(r"^[IVXLCDM]+$")
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
_KEYWORD_ROMAN = re.compile(
    r"\b(Chapter|Book|Part|Volume|Vol\.|Letter|Section|Act|Scene|Canto|Stave|Article|Appendix)"
    r"\s+([IVXLCDM]+)\b(?=[\s.:,;—–-]|$)",
    re.IGNORECASE,
)
_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
         "fourteen fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_ABBREVIATIONS = ("Mr", "Mrs", "Ms", "Dr", "St", "Mt", "Jr", "Sr", "Prof", "Rev", "Capt",
                  "Col", "Gen", "Lt", "Sgt", "Hon", "No", "vs", "etc", "viz", "cf", "Messrs",
                  "Mme", "Mlle", "Esq", "i.e", "e.g")
# A sentence ends at . ! ? or … and any closing quotes or brackets after it.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)")
_CLAUSE_END = re.compile(r"(?<=[,;:])\s+|\s+(?=—)|(?<=—)")


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


def number_words(number: int) -> str:
    """Cardinal number in English words, 0 to 9999."""
    if number < 20:
        return _ONES[number]
    if number < 100:
        tens, ones = divmod(number, 10)
        return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")
    if number < 1000:
        hundreds, rest = divmod(number, 100)
        return f"{_ONES[hundreds]} hundred" + (f" and {number_words(rest)}" if rest else "")
    thousands, rest = divmod(number, 1000)
    tail = "" if not rest else (" and " if rest < 100 else " ") + number_words(rest)
    return f"{number_words(thousands)} thousand{tail}"


def _keyword_numeral(match: re.Match[str]) -> str:
    value = roman_to_int(match.group(2).upper()) if match.group(2).isupper() else None
    return f"{match.group(1)} {number_words(value)}" if value else match.group(0)


def speakable(text: str, heading: bool = False, english: bool = True) -> str:
    """Printed text -> text the model reads well."""
    text = text.replace("…", "...").replace("&", " and " if english else "&")
    text = re.sub(r"\s*(?:—|--|―)\s*", " — ", text)  # one spaced dash, read as a break
    text = re.sub(r"(\d)\s*–\s*(\d)", r"\1 to \2" if english else r"\1-\2", text)
    text = re.sub(r"\s*–\s*", " — ", text)
    text = text.replace("“", '"').replace("”", '"').replace("„", '"')
    text = text.replace("‘", "'").replace("’", "'").replace("′", "'").replace("″", '"')
    text = re.sub(r"\[\d+\]", "", text)  # bracketed note numbers left in the text
    if english:
        text = _KEYWORD_ROMAN.sub(_keyword_numeral, text)
        if heading:
            text = _heading(text)
    text = re.sub(r"\s+", " ", text).strip()
    if heading and text and text[-1] not in ".!?…:;,\"'":
        text += "."
    return text


def _heading(text: str) -> str:
    """A heading that is only a roman numeral ('XIV', 'IV.') is a chapter number."""
    bare = text.strip().rstrip(".")
    value = roman_to_int(bare)
    if value:
        return number_words(value).capitalize()
    words = text.split()
    if len(words) >= 2 and text.isupper():
        # espeak spells out short all-capital words as letters; headings are not acronyms.
        return text.title()
    return text


def has_speech(text: str) -> bool:
    """True when the text has something to pronounce (not just '* * *')."""
    return any(ch.isalnum() for ch in text)


def _protect_abbreviations(text: str) -> str:
    for abbr in _ABBREVIATIONS:
        text = re.sub(rf"\b{re.escape(abbr)}\.\s", f"{abbr}.\ue000", text)
    return re.sub(r"\b([A-Z])\.\s(?=[A-Z])", "\\1.\ue000", text)  # initials: H. G. Wells


def _split(text: str, pattern: re.Pattern[str]) -> list[str]:
    return [p.strip() for p in pattern.split(text) if p and p.strip()]


def split_sentences(text: str) -> list[str]:
    protected = _protect_abbreviations(text)
    sentences, start = [], 0
    for match in _SENTENCE_END.finditer(protected):
        sentences.append(protected[start:match.end()])
        start = match.end()
    sentences.append(protected[start:])
    return [s.replace("\ue000", " ").strip() for s in sentences if s.strip()]


def pieces(text: str, limit: int = MAX_PIECE) -> list[tuple[str, float]]:
    """Cut a paragraph into (piece, pause after) with every piece within ``limit``.

    Sentences are packed together up to the limit; a sentence longer than the
    limit is cut at clause marks, and a clause longer than that at spaces.
    """
    packed: list[str] = []
    for sentence in split_sentences(text):
        for part in _sentence_parts(sentence, limit):
            if packed and len(packed[-1]) + 1 + len(part) <= limit:
                packed[-1] = f"{packed[-1]} {part}"
            else:
                packed.append(part)
    return [(piece, _pause_for(piece)) for piece in packed]


def _pause_for(piece: str) -> float:
    end = piece.rstrip("\"')]” ’")[-1:]
    if end in ".!?…":
        return PAUSE_SENTENCE
    if end in ",;:—":
        return PAUSE_CLAUSE
    return 0.0


def _sentence_parts(sentence: str, limit: int) -> list[str]:
    if len(sentence) <= limit:
        return [sentence]
    parts: list[str] = []
    for clause in _split(sentence, _CLAUSE_END):
        parts.extend(_pack_words(clause, limit) if len(clause) > limit else [clause])
    return parts


def _pack_words(text: str, limit: int) -> list[str]:
    chunks: list[str] = []
    current = ""
    for word in text.split():
        while len(word) > limit:  # a "word" longer than a piece: cut it, never drop it
            if current:
                chunks.append(current)
                current = ""
            chunks.append(word[:limit])
            word = word[limit:]
        if current and len(current) + 1 + len(word) > limit:
            chunks.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        chunks.append(current)
    return chunks


# --------------------------------------------------------------------------- segments

@dataclass(frozen=True)
class Segment:
    """A run of pieces from one chapter: the unit a worker synthesises."""

    index: int
    chapter: int
    pieces: tuple[tuple[str, float], ...]
    last_of_chapter: bool

    @property
    def chars(self) -> int:
        return sum(len(text) for text, _ in self.pieces)


def chapter_pieces(chapter: Chapter, english: bool = True) -> list[tuple[str, float]]:
    """Every piece of a chapter with the pause after it."""
    out: list[tuple[str, float]] = []
    for paragraph in chapter.paragraphs:
        text = speakable(paragraph.text, heading=paragraph.heading, english=english)
        if not has_speech(text):
            if out:  # a '* * *' scene break is a long pause, not a word
                out[-1] = (out[-1][0], max(out[-1][1], PAUSE_HEADING))
            continue
        cut = pieces(text)
        end_pause = PAUSE_HEADING if paragraph.heading else PAUSE_PARAGRAPH
        cut[-1] = (cut[-1][0], max(cut[-1][1], end_pause))
        out.extend(cut)
    if out:
        out[-1] = (out[-1][0], PAUSE_CHAPTER)
    return out


def plan_segments(chapters: list[Chapter], workers: int = 1, english: bool = True,
                  target: int = SEGMENT_CHARS) -> list[Segment]:
    """Cut chapters into segments of about ``target`` characters, in reading order.

    Towards the end of the book segments shrink, so that the last ones finish
    together instead of one worker reading a long tail while the others idle.
    """
    per_chapter = [(c.index, chapter_pieces(c, english)) for c in chapters]
    remaining = sum(len(text) for _, items in per_chapter for text, _ in items)
    segments: list[Segment] = []
    for chapter_index, items in per_chapter:
        batch: list[tuple[str, float]] = []
        size = 0
        for number, piece in enumerate(items):
            batch.append(piece)
            size += len(piece[0])
            last = number == len(items) - 1
            limit = min(target, max(MIN_SEGMENT, remaining // (2 * max(workers, 1))))
            if size >= limit or last:
                segments.append(Segment(len(segments), chapter_index, tuple(batch), last))
                remaining -= size
                batch, size = [], 0
    return segments
