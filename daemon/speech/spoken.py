"""From a chapter's paragraphs to what the voice model is asked to say.

Two jobs: make printed text speakable (the words a narrator says, from
:mod:`daemon.speech.normalize`, then dashes, quotes and heading numerals), and cut it
into pieces the model reads whole.  Kokoro takes at most
510 phonemes per call; a piece here is kept well under that (``MAX_PIECE``
characters) by cutting at sentence ends, then clause marks, then spaces, so no
word is ever dropped whatever the kokoro-onnx version does at its limit.
Chinese and Japanese sentences end at 。！？ and their clauses at 、，；：, with
no space after them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from daemon.book.epub import Chapter

from .normalize import normalize
from .numbers import cardinal
from .numerals import roman_to_int

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
PAUSE_LINE = 0.45  # between lines of verse: a breath, not a paragraph
# After a paragraph of each kind (book.text.Paragraph.kind); others get PAUSE_PARAGRAPH.
PAUSE_AFTER = {"verse": PAUSE_LINE, "table": PAUSE_SENTENCE}

# Abbreviations whose full stop is not a sentence end, for text that did not go through
# normalize() (which has already spelled them out).  'No' is not here: after
# normalize a 'No.' that is left is the word no, ending a sentence.
_ABBREVIATIONS = ("Mr", "Mrs", "Ms", "Dr", "St", "Mt", "Jr", "Sr", "Prof", "Rev", "Capt",
                  "Col", "Gen", "Lt", "Sgt", "Hon", "vs", "etc", "viz", "cf", "Messrs",
                  "Mme", "Mlle", "Esq", "i.e", "e.g")
_PROTECTED = re.compile(
    r"\b(" + "|".join(re.escape(a) for a in _ABBREVIATIONS) + r")\.\s"  # Mr. Utterson
    r"|\b[A-HJ-Z]\.\s(?=[A-Z])"  # initials: H. G. Wells (but 'said I. Then' ends a sentence)
)
_KEEP = "\ue000"  # stands for a space that must not end a sentence
# A sentence ends at . ! ? or … and any closing quotes or brackets after it, before a
# space; at CJK 。！？ and their closing brackets with no space needed, unless a quoting
# particle follows (「はい。」と言った is one sentence); at the Devanagari danda.
# Book text is hostile, so every rule here runs in linear time: a run of marks is tried
# once, from its first mark ((?<!...)), and never given back (++, *+). Without that,
# 'Hello' and 200,000 full stops took hours: each of the 200,000 starts rescanned the run.
_SENTENCE_END = re.compile(
    r"(?<![.!?…])[.!?…]++[\"'”’)\]]*+(?=\s)"
    r"|[。！？]+[」』）〕】”’\"']*(?![」』）〕】”’\"'とっ])"
    r"|(?<![।॥])[।॥]++(?=\s|$)")
_CLAUSE_END = re.compile(r"(?<=[,;:])\s++|(?<!\s)\s++(?=—)|(?<=—)|(?<=[、，；：])\s*+")
_CJK = re.compile(r"[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
# Printed forms the model reads badly, whatever the language
# (a run of spaces is tried once, from its first space; a dash right after spaces that an
# earlier dash took is the second alternative)
_DASH = re.compile(r"(?<!\s)\s*+(?:—|--|―)\s*+|(?:—|--|―)\s*+")
_EN_DASH = re.compile(r"(?<!\s)\s*+–\s*+|–\s*+")
_SPACES = re.compile(r"\s+")
_LEADING_NUMERAL = re.compile(r"^([IVXLC]{2,}|[IVX])\.\s+(?=\S)")  # 'V. WHAT THE THUNDER SAID'
_WORD = re.compile(r"[^\W\d_][\w'’-]*")
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "′": "'", "″": '"'})
_LATIN_SCRIPT = ("en-us", "en-gb", "es", "fr-fr", "it", "pt-br")


def number_words(number: int) -> str:
    """Cardinal number in English words."""
    return cardinal(number, "en")


def speakable(text: str, heading: bool = False, lang: str = "en-us") -> str:
    """Printed text -> the text the model reads, in ``lang`` (one of our language codes)."""
    numeral = _heading_numeral(text, lang) if heading else None
    if heading and not numeral and lang in _LATIN_SCRIPT:
        text = _heading_case(text)  # first, so that 'MR. HANS' is seen as 'Mr. Hans'
    if heading and not numeral:
        text = _LEADING_NUMERAL.sub(lambda m: _heading_numeral(m.group(1), lang) + ". ", text)
    text = numeral or normalize(text, lang)
    if lang not in ("ja", "cmn"):  # CJK keeps its own ellipsis, read as a pause
        text = text.replace("…", "...")
    text = _DASH.sub(" — ", text)  # one spaced dash, read as a break
    text = _EN_DASH.sub(" — ", text)  # ranges of numbers were read as 'to' by normalize
    text = text.translate(_QUOTES)
    text = _SPACES.sub(" ", text).strip()
    if heading and text and text[-1] not in ".!?…:;,\"'。！？":
        text += "。" if lang in ("ja", "cmn") else "."
    return text


def _heading_numeral(text: str, lang: str) -> str | None:
    """A heading that is only a roman numeral ('XIV', 'IV.') is a chapter number."""
    value = roman_to_int(text.strip().rstrip("."))
    if not value:
        return None  # (a heading such as 'L.' or 'C.' is read as a number too, as before)
    family = {"fr-fr": "fr", "pt-br": "pt", "cmn": "zh"}.get(lang, lang[:2])
    return cardinal(value, family).capitalize()


def _heading_case(text: str) -> str:
    # espeak spells out short all-capital words as letters; headings are not acronyms.
    # Roman numerals keep their capitals: normalize reads them ('CHAPTER XIV').
    if len(text.split()) >= 2 and text.isupper():
        return _WORD.sub(lambda m: m.group(0) if roman_to_int(m.group(0)) else m.group(0).capitalize(), text)
    return text


def has_speech(text: str) -> bool:
    """True when the text has something to pronounce (not just '* * *')."""
    return any(ch.isalnum() for ch in text)


def _protect_abbreviations(text: str) -> str:
    return _PROTECTED.sub(lambda match: match.group(0)[:-1] + _KEEP, text)


def _split(text: str, pattern: re.Pattern[str]) -> list[str]:
    return [p.strip() for p in pattern.split(text) if p and p.strip()]


def split_sentences(text: str) -> list[str]:
    """The sentences of a paragraph, each with its closing quotes."""
    protected = _protect_abbreviations(text)
    sentences, start = [], 0
    for match in _SENTENCE_END.finditer(protected):
        sentences.append(protected[start:match.end()])
        start = match.end()
    sentences.append(protected[start:])
    return [s.replace(_KEEP, " ").strip() for s in sentences if s.strip()]


def _join(left: str, right: str) -> str:
    """Two pieces of text as one: CJK runs on without a space."""
    if _CJK.match(left[-1:]) or _CJK.match(right[:1]):
        return left + right
    return f"{left} {right}"


def pieces(text: str, limit: int = MAX_PIECE) -> list[tuple[str, float]]:
    """Cut a paragraph into (piece, pause after) with every piece within ``limit``.

    Sentences are packed together up to the limit; a sentence longer than the
    limit is cut at clause marks, and a clause longer than that at spaces.
    """
    packed: list[str] = []
    for sentence in split_sentences(text):
        for part in _sentence_parts(sentence, limit):
            if packed and len(packed[-1]) + 1 + len(part) <= limit:
                packed[-1] = _join(packed[-1], part)
            else:
                packed.append(part)
    return [(piece, _pause_for(piece)) for piece in packed]


def _pause_for(piece: str) -> float:
    end = piece.rstrip("\"')]” ’」』）")[-1:]
    if end in ".!?…。！？।॥":
        return PAUSE_SENTENCE
    if end in ",;:—、，；：":
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
        if len(word) > limit:  # a "word" longer than a piece: cut it, never drop it
            if current:
                chunks.append(current)
                current = ""
            whole = (len(word) - 1) // limit * limit  # the rest, 1 to limit characters, goes on
            chunks.extend(word[start:start + limit] for start in range(0, whole, limit))
            word = word[whole:]
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


def chapter_pieces(chapter: Chapter, lang: str = "en-us") -> list[tuple[str, float]]:
    """Every piece of a chapter, in ``lang``, with the pause after it."""
    out: list[tuple[str, float]] = []
    for paragraph in chapter.paragraphs:
        text = speakable(paragraph.text, heading=paragraph.heading, lang=lang)
        if not has_speech(text):
            if out:  # a '* * *' scene break is a long pause, not a word
                out[-1] = (out[-1][0], max(out[-1][1], PAUSE_HEADING))
            continue
        cut = pieces(text)
        end_pause = PAUSE_AFTER.get(paragraph.kind, PAUSE_PARAGRAPH)
        if paragraph.heading:
            end_pause = PAUSE_HEADING
        cut[-1] = (cut[-1][0], max(cut[-1][1], end_pause))
        out.extend(cut)
    if out:
        out[-1] = (out[-1][0], PAUSE_CHAPTER)
    return out


def plan_segments(chapters: list[Chapter], workers: int = 1, lang: str = "en-us",
                  target: int = SEGMENT_CHARS) -> list[Segment]:
    """Cut chapters into segments of about ``target`` characters, in reading order.

    Towards the end of the book segments shrink, so that the last ones finish
    together instead of one worker reading a long tail while the others idle.
    """
    per_chapter = [(c.index, chapter_pieces(c, lang)) for c in chapters]
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
