"""From the text of a book's documents to its chapters: what each is called, what is not read.

The walk (``text``) gives one draft per table-of-contents entry.  Here the
drafts become numbered chapters, the way a narrator would present the book:

- Project Gutenberg's header and licence go, by their markup or, in older
  files, by the ``*** START OF`` / ``*** END OF`` lines around the book;
- title and copyright pages are recognised by what they say when no
  ``epub:type`` says so (short lines naming the book or its author; "All rights
  reserved", ISBN, ...), and tables of contents by their label in several
  languages;
- a section that is only a heading ("Part One", "LE BUISSON ARDENT") is read at
  the start of the chapter that follows it, whose title it prefixes ("Part One
  — Chapter 1"); an unlinked label over entries in the table of contents does
  the same for the entries under it;
- a chapter over ``LONG_CHAPTER`` characters is split at its own headings when
  its text has them, so a listener can find their place.

Every table-of-contents entry still gets a number, read or skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from .options import ReadingOptions
from .text import Draft, Paragraph

LONG_CHAPTER = 60_000  # characters (about an hour of audio)
MIN_PART = 2_000  # a split never leaves a part shorter than this
HEADING_ONLY = 300  # characters: a chapter of headings this short is a section title
MERGED = "a heading, read at the start of the next chapter"
FRONT_MATTER = {"title page", "half-title page", "copyright page", "imprint", "cover",
                "table of contents", "Project Gutenberg licence"}

# TOC labels that name boilerplate when the book has no epub:type to say so.
SKIPPED_LABELS = {
    "cover": "cover", "title page": "title page", "titlepage": "title page",
    "copyright": "copyright page", "copyright page": "copyright page",
    "uncopyright": "copyright page", "imprint": "imprint", "colophon": "colophon",
    "contents": "table of contents", "table of contents": "table of contents",
    "table": "table of contents", "table des matières": "table of contents",
    "table générale": "table of contents", "sommaire": "table of contents",
    "índice": "table of contents", "indice": "table of contents", "sommario": "table of contents",
    "sumário": "table of contents", "目次": "table of contents", "目录": "table of contents",
    "विषय-सूची": "table of contents", "अनुक्रमणिका": "table of contents",
}
_GUTENBERG_START = re.compile(r"\*{3}\s*START OF (THE|THIS) PROJECT GUTENBERG|\*END\*THE SMALL PRINT",
                              re.IGNORECASE)
_GUTENBERG_END = re.compile(r"\*{3}\s*END OF (THE|THIS) PROJECT GUTENBERG|End of (the )?Project Gutenberg'?s? ",
                            re.IGNORECASE)
_COPYRIGHT = re.compile(r"©|\bcopyright\b|all rights reserved|tous droits réservés|derechos reservados|"
                        r"diritti riservati|direitos reservados|\bISBN\b|printed in|imprimé en",
                        re.IGNORECASE)
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class TocEntry:
    path: str
    fragment: str
    title: str
    parent: int | None = None  # the linked entry above it
    label: str | None = None  # an unlinked heading above it in the nav (a <span>)


@dataclass(frozen=True)
class Chapter:
    index: int
    title: str
    paragraphs: tuple[Paragraph, ...]
    skip_reason: str | None = None

    @property
    def chars(self) -> int:
        return sum(len(p.text) for p in self.paragraphs)


@dataclass
class _Part:
    """A chapter while it is being decided."""

    title: str
    paragraphs: list[Paragraph]
    reason: str | None
    entry: int | None
    prefix: list[str] = field(default_factory=list)  # section titles it is read under

    @property
    def readable(self) -> bool:
        return self.reason is None and bool(self.paragraphs)

    @property
    def chars(self) -> int:
        return sum(len(p.text) for p in self.paragraphs if p.kind != "note")

    @property
    def heading_only(self) -> bool:
        return self.readable and all(p.heading for p in self.paragraphs) and self.chars <= HEADING_ONLY

    @property
    def prose(self) -> bool:
        return self.readable and (self.chars > 1500 or any(
            not p.heading and len(_WORD.findall(p.text)) >= 12 for p in self.paragraphs))


def build_chapters(drafts: list[Draft], toc: list[TocEntry], book_title: str, author: str,
                   options: ReadingOptions) -> tuple[Chapter, ...]:
    keep = options.keep_boilerplate
    if not keep:
        drafts = _without_gutenberg_text(drafts)
    parts = [_first_cut(draft, n, keep) for n, draft in enumerate(drafts) if draft.explicit or draft.paragraphs]
    if not keep:
        _contents_continued(parts)
        _front_matter_by_content(parts, book_title, author)
        _headings_into_next(parts)
        _labels_into_titles(parts, toc)
    parts = [piece for part in parts for piece in _split_long(part)]
    return tuple(Chapter(n, _title(part), tuple(part.paragraphs), part.reason)
                 for n, part in enumerate(parts, start=1))


def _title(part: _Part) -> str:
    return " — ".join([*part.prefix, part.title])[:200]


# --------------------------------------------------------------------------- first cut

def _first_cut(draft: Draft, number: int, keep_boilerplate: bool) -> _Part:
    title = draft.title or next((p.text for p in draft.paragraphs if p.heading), "")
    title = title or f"Section {number + 1}"
    chars = sum(len(p.text) for p in draft.paragraphs)
    label = None if keep_boilerplate else SKIPPED_LABELS.get(title.strip(" .:").casefold())
    reason = None
    if draft.reasons and not draft.paragraphs:
        reason = draft.reasons[0]
    elif not draft.paragraphs:
        reason = "no text (images only)"
    elif label:
        reason = label
    elif not keep_boilerplate and draft.links >= 3 and draft.link_chars > 0.6 * chars:
        reason = "table of contents"
    return _Part(title, list(draft.paragraphs), reason, draft.entry)


def _without_gutenberg_text(drafts: list[Draft]) -> list[Draft]:
    """Drop what lies before ``*** START OF ...`` and after ``*** END OF ...`` (older PG files
    have no markup around their header and licence, only these lines)."""
    spots = [(d, i) for d, draft in enumerate(drafts) for i, p in enumerate(draft.paragraphs)]
    start = next((n for n, (d, i) in enumerate(spots) if _GUTENBERG_START.search(drafts[d].paragraphs[i].text)),
                 None)
    end = next((n for n, (d, i) in enumerate(spots) if _GUTENBERG_END.search(drafts[d].paragraphs[i].text)
                and (start is None or n > start)), None)
    if start is None and end is None:
        return drafts
    keep = {spots[n] for n in range(len(spots))
            if (start is None or n > start) and (end is None or n < end)}
    for d, draft in enumerate(drafts):
        before = len(draft.paragraphs)
        dropped = [p for i, p in enumerate(draft.paragraphs) if (d, i) not in keep]
        draft.paragraphs = [p for i, p in enumerate(draft.paragraphs) if (d, i) in keep]
        draft.skipped["Project Gutenberg licence"] += sum(len(p.text) for p in dropped)
        if before and not draft.paragraphs:
            draft.reasons.append("Project Gutenberg licence")
    return drafts


# --------------------------------------------------------------------------- front matter

def _front_matter_by_content(parts: list[_Part], book_title: str, author: str) -> None:
    """Title and copyright pages that carry no epub:type, told by what they say."""
    names = _significant_words(book_title) | _significant_words(author.split()[-1] if author else "")
    first_prose = next((n for n, part in enumerate(parts) if part.prose), len(parts))
    for n, part in enumerate(parts[:first_prose]):
        if n == first_prose - 1 and part.heading_only:
            break  # the heading right before the first prose is that section's title
        if part.readable and _looks_like_title_page(part, names):
            part.reason = "title page"
    edges = parts[:6] + parts[-6:]
    for part in edges:
        if part.readable and part.chars < 4000 and not _long_prose(part) \
                and _COPYRIGHT.search(" ".join(p.text for p in part.paragraphs)):
            part.reason = "copyright page"


def _contents_continued(parts: list[_Part]) -> None:
    """A list of titles right after a table of contents (a series' volumes, set as a table)
    belongs to it."""
    for before, part in zip(parts, parts[1:]):
        if before.reason == "table of contents" and part.readable and part.chars < 3000 \
                and all(p.kind in ("heading", "table") for p in part.paragraphs):
            part.reason = "table of contents"


def _significant_words(text: str) -> set[str]:
    return {w.casefold() for w in _WORD.findall(text) if len(w) > 3}


def _looks_like_title_page(part: _Part, names: set[str]) -> bool:
    short = all(len(p.text) < 120 for p in part.paragraphs) and part.chars < 800
    words = {w.casefold() for p in part.paragraphs for w in _WORD.findall(p.text)}
    return short and bool(words & names)


def _long_prose(part: _Part) -> bool:
    return any(len(_WORD.findall(p.text)) > 80 for p in part.paragraphs)


def _headings_into_next(parts: list[_Part]) -> None:
    """A section that is only a heading is read at the start of the next chapter.

    Headings before the book's first prose that end in front matter (a title
    page followed by a copyright page) were part of the title page.
    """
    pending: list[_Part] = []
    seen_prose = False
    for part in parts:
        if part.heading_only:
            pending.append(part)
        elif part.readable:
            seen_prose = True
            # all at once: put in front one by one, each moved what came before (quadratic)
            part.paragraphs[:0] = [p for heading in pending for p in heading.paragraphs]
            part.prefix[:0] = [title for heading in pending for title in (*heading.prefix, heading.title)]
            for heading in pending:
                heading.reason = MERGED
            pending = []
        elif part.reason in FRONT_MATTER and not seen_prose and pending:
            for heading in pending:
                heading.reason = "title page"
            pending = []


def _labels_into_titles(parts: list[_Part], toc: list[TocEntry]) -> None:
    """Entries under a section (an unlinked label, or a heading-only entry) carry its title,
    and the first of them is read after that title."""
    merged_titles = {p.entry: p.title for p in parts if p.reason == MERGED and p.entry is not None}
    announced: set[str] = set()
    for part in parts:
        if part.entry is None or part.entry >= len(toc) or not part.readable:
            continue
        entry = toc[part.entry]
        section = entry.label or (merged_titles.get(entry.parent) if entry.parent is not None else None)
        if not section or section in part.prefix:
            continue
        part.prefix.insert(0, section)
        if entry.label and entry.label not in announced:
            part.paragraphs.insert(0, Paragraph(entry.label, heading=True, kind="heading"))
        announced.add(section)


# --------------------------------------------------------------------------- long chapters

def _split_long(part: _Part) -> list[_Part]:
    """A very long chapter cut at its own headings (not those it opens with)."""
    if not part.readable or part.chars <= LONG_CHAPTER:
        return [part]
    opening = next((i for i, p in enumerate(part.paragraphs) if not p.heading), len(part.paragraphs))
    cuts = [i for i, p in enumerate(part.paragraphs) if p.heading and i > opening
            and not part.paragraphs[i - 1].heading]
    pieces: list[_Part] = []
    start = 0
    for cut in cuts + [len(part.paragraphs)]:
        body = part.paragraphs[start:cut]
        size = sum(len(p.text) for p in body if p.kind != "note")
        if pieces and (size < MIN_PART or _chars(pieces[-1].paragraphs) < MIN_PART):
            pieces[-1].paragraphs.extend(body)  # too short to stand alone
        elif body:
            heading = _leading_headings(body)[:80] if start else ""
            title = f"{part.title} — {heading}" if heading else part.title
            pieces.append(replace(part, title=title, paragraphs=list(body), prefix=list(part.prefix)))
        start = cut
    return pieces or [part]


def _leading_headings(paragraphs: list[Paragraph]) -> str:
    texts = []
    for paragraph in paragraphs:
        if not paragraph.heading:
            break
        texts.append(paragraph.text.rstrip("."))
    return ". ".join(texts)


def _chars(paragraphs: list[Paragraph]) -> int:
    return sum(len(p.text) for p in paragraphs if p.kind != "note")
