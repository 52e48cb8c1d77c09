"""What a narrator reads from a book's documents: paragraphs, cut into chapters at the TOC.

``TextWalker`` walks the spine documents in reading order and turns their
markup into paragraphs (``Paragraph``), cutting a new chapter wherever a table
of contents entry points.  On the way it decides how each part of a page is
read:

- notes (footnotes, endnotes, Project Gutenberg's ``fnanchor`` notes): the
  reference mark is silent, and the note is read after the paragraph that cites
  it, introduced as a note (``notes: inline``), gathered at the end of the
  chapter (``end_of_chapter``), or left out (``skip``); the note's own text is
  never read where it stands;
- tables: row by row with their header ("Year 1881: Chests 134,064"), or
  announced and skipped (``tables: skip``);
- code listings: announced and skipped;
- verse: each line a line, with a line's pause, not a paragraph's; printed line
  numbers are left out;
- text drawn in inline SVG is read;
- boilerplate marked up as such (``epub:type``, Project Gutenberg's classes) is
  skipped with a reason.

Which links cite notes and what the notes say is found beforehand by
``notes.NoteIndex``; ``tables`` turns a table's rows into sentences.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from typing import Callable

from lxml import etree

from .markup import BLOCK_TAGS, SILENT_TAGS, clean, local, types_of
from .notes import NoteIndex
from .options import ReadingOptions
from .tables import is_layout_table, spoken_row, table_rows

# epub:type / landmark / guide types that are not read aloud, with the reason shown.
SKIPPED_TYPES = {
    "cover": "cover",
    "titlepage": "title page",
    "title-page": "title page",
    "halftitlepage": "half-title page",
    "copyright-page": "copyright page",
    "copyright": "copyright page",
    "imprint": "imprint",
    "colophon": "colophon",
    "toc": "table of contents",
    "landmarks": "table of contents",
    "page-list": "table of contents",
    "loi": "list of illustrations",
    "lot": "list of tables",
    "index": "index",
    "endnotes": "notes",
    "footnotes": "notes",
    "rearnotes": "notes",
    "footnote": "notes",
    "endnote": "notes",
    "rearnote": "notes",
    "seriespage": "series page",
}
READ_WHERE_CITED = "notes (read where they are cited)"
GUTENBERG_CLASSES = {"pgheader", "pgfooter", "pg-boilerplate"}
GUTENBERG_IDS = {"pg-header", "pg-footer", "pg-machine-header"}
SILENT_INLINE_TYPES = {"pagebreak", "noteref", "doc-pagebreak", "doc-noteref", "line-number"}
LINE_NUMBER_CLASSES = {"lnum", "linenum", "line-num", "line-number", "lineno", "linenumber", "linenr"}
VERSE_CLASSES = {"linegroup", "stanza", "poem", "verse", "lg", "poetry"}
VERSE_TYPES = {"poem", "verse", "z3998:poem", "z3998:verse"}
HEADING_TAGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
# Code is told from verse or a letter set in <pre> by its punctuation.
_CODE_MARKS = re.compile(r"[{};=<>\[\]()#$]|::|->|\bdef\b|\bfunction\b|\breturn\b")

# The few words the reader adds, in the book's language.
PHRASES = {
    "en": {"note": "Note", "notes": "Notes", "table": "A table is left out here.",
           "code": "A code listing is left out here."},
    "fr": {"note": "Note", "notes": "Notes", "table": "Un tableau est omis ici.",
           "code": "Un extrait de code est omis ici."},
    "es": {"note": "Nota", "notes": "Notas", "table": "Aquí se omite una tabla.",
           "code": "Aquí se omite un fragmento de código."},
    "it": {"note": "Nota", "notes": "Note", "table": "Qui è omessa una tabella.",
           "code": "Qui è omesso un listato di codice."},
    "pt": {"note": "Nota", "notes": "Notas", "table": "Uma tabela é omitida aqui.",
           "code": "Um trecho de código é omitido aqui."},
    "hi": {"note": "टिप्पणी", "notes": "टिप्पणियाँ", "table": "यहाँ एक तालिका छोड़ी गई है।",
           "code": "यहाँ एक कोड अंश छोड़ा गया है।"},
    "ja": {"note": "注", "notes": "注", "table": "ここで表を省略します。", "code": "ここでコードを省略します。"},
    "cmn": {"note": "注", "notes": "注释", "table": "此处略去一个表格。", "code": "此处略去一段代码。"},
}


def phrases(lang: str) -> dict[str, str]:
    """The added words for a language code such as 'en-gb' or 'pt-br'."""
    return PHRASES.get(lang, PHRASES.get(lang.split("-")[0], PHRASES["en"]))


@dataclass(frozen=True)
class Paragraph:
    text: str
    heading: bool = False
    kind: str = "text"  # text | heading | note | verse | table | announcement


@dataclass
class Draft:
    """A chapter being collected: what one TOC entry (or spine document) holds."""

    title: str
    entry: int | None = None  # the TOC entry that starts it
    paragraphs: list[Paragraph] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # for notes: end_of_chapter
    reasons: list[str] = field(default_factory=list)  # why parts of it were skipped
    skipped: Counter = field(default_factory=Counter)  # characters not read, by reason
    link_chars: int = 0
    links: int = 0
    explicit: bool = True  # from a TOC entry (its title is the TOC label)


# --------------------------------------------------------------------------- the walk

class TextWalker:
    """Walks spine documents in order, cutting chapters at TOC targets."""

    def __init__(self, cuts: dict[tuple[str, str], tuple[int, str]], options: ReadingOptions,
                 notes: NoteIndex) -> None:
        self.cuts = cuts  # (path, fragment) -> (TOC entry index, title)
        self.options = options
        self.keep = options.keep_boilerplate
        self.notes = notes
        self.words = phrases(options.lang or "en")
        self.drafts: list[Draft] = []
        self.buffer: list[str] = []
        self.buffer_links = 0
        self.pending_notes: list[str] = []
        self.in_heading = 0
        self.in_verse = 0
        self.hit: set[tuple[str, str]] = set()
        self.anchors: dict[str, set[str]] = {}  # document -> the ids chapters start at
        for document, fragment in cuts:
            if fragment:
                self.anchors.setdefault(document, set()).add(fragment)
        self.waiting: set[str] = set()  # those of the current document not reached yet
        self.path = ""

    @property
    def current(self) -> Draft:
        if not self.drafts:
            self.drafts.append(Draft(title="", explicit=False))
        return self.drafts[-1]

    def document(self, path: str, root: etree._Element, doc_type: str | None) -> None:
        body = next(root.iter("{*}body"), None)
        if body is None:
            body = root
        self.path = path
        self.waiting = set(self.anchors.get(path, ()))  # (each document is walked once)
        if (path, "") in self.cuts:
            self._cut((path, ""))
        elif not self.drafts:
            self.drafts.append(Draft(title="", explicit=False))
        if doc_type and not self.keep:
            self.current.reasons.append(doc_type)
            self._count_skipped(body, doc_type)
            self._scan_cuts_only(body)
            return
        self._walk(body)
        self._flush()

    def finish(self) -> list[Draft]:
        self._flush()
        for draft in self.drafts:
            if draft.notes:
                draft.paragraphs.append(Paragraph(f"{self.words['notes']}.", heading=True, kind="heading"))
                draft.paragraphs.extend(self._note_paragraph(note) for note in draft.notes)
        return self.drafts

    def _cut(self, key: tuple[str, str]) -> None:
        self.hit.add(key)
        self.waiting.discard(key[1])
        self._flush()
        entry, title = self.cuts[key]
        self.drafts.append(Draft(title=title, entry=entry))

    def _scan_cuts_only(self, element: etree._Element) -> None:
        """Inside skipped matter, still start chapters the TOC points at."""
        reason = self.current.reasons[-1]
        for child in element.iterdescendants():
            key = (self.path, child.get("id") or "")
            if child.get("id") and key in self.cuts:
                self._cut(key)
                self.current.reasons.append(reason)

    # ------------------------------------------------------------------ elements

    def _walk(self, element: etree._Element) -> None:
        """Read ``element`` and all it holds, in document order.  Work waits on a stack
        rather than in recursive calls: a document may nest its markup up to
        markup.MAX_DEPTH levels, deeper than Python's recursion limit allows."""
        todo: list[Callable[[], None]] = []
        todo.append(partial(self._visit, element, todo))
        while todo:
            todo.pop()()

    def _visit(self, element: etree._Element, todo: list[Callable[[], None]]) -> None:
        tag = local(element.tag)
        element_id = element.get("id") or (element.get("name") if tag == "a" else None)
        if element_id and (self.path, element_id) in self.cuts:
            self._cut((self.path, element_id))
        if not tag or tag in SILENT_TAGS:
            return
        if element in self.notes.texts:  # a note reference: its mark is silent, the note comes later
            self.pending_notes.append(self.notes.texts[element])
            return
        types = types_of(element)
        if types & SILENT_INLINE_TYPES or _classes(element) & LINE_NUMBER_CLASSES:
            self._count_skipped(element, "page, line and note numbers")
            return
        skip = self._skip_reason(element, types, tag)
        if skip:
            self._flush()
            self.current.reasons.append(skip)
            self._count_skipped(element, skip)
            self._scan_cuts_only(element)
            return
        if tag in ("table", "pre", "svg"):
            self._flush()
            todo.append(partial(self._scan_cuts_only_quietly, element))  # after what the table holds
            if tag == "table":
                self._table(element, todo)
            else:
                (self._pre if tag == "pre" else self._svg)(element)
            return
        self._open_block(element, tag, types, todo)

    def _open_block(self, element: etree._Element, tag: str, types: set[str],
                    todo: list[Callable[[], None]]) -> None:
        """Start reading a block or inline element; its children, each followed by its tail,
        and then its end are put on ``todo``, last first."""
        block = tag in BLOCK_TAGS
        heading = tag in HEADING_TAGS
        verse = bool(_classes(element) & VERSE_CLASSES or types & VERSE_TYPES)
        link = tag == "a" and element.get("href") is not None
        if block:
            self._flush()
        self.in_heading += heading
        self.in_verse += verse
        if element.text:
            self._add(element.text, link)
        todo.append(partial(self._close_block, heading, verse, block))
        for child in reversed(element):
            if child.tail:
                todo.append(partial(self._add, child.tail, link))
            todo.append(partial(self._visit, child, todo))

    def _close_block(self, heading: bool, verse: bool, block: bool) -> None:
        self.in_heading -= heading
        self.in_verse -= verse
        if block:
            self._flush(heading=heading)

    def _skip_reason(self, element: etree._Element, types: set[str], tag: str) -> str | None:
        if element in self.notes.bodies:
            return "notes" if self.options.notes == "skip" else READ_WHERE_CITED
        if self.keep:
            return None
        for token in types:
            if token in SKIPPED_TYPES:
                return SKIPPED_TYPES[token]
        if _classes(element) & GUTENBERG_CLASSES or element.get("id") in GUTENBERG_IDS:
            return "Project Gutenberg licence"
        if tag == "nav":
            return "table of contents"
        return None

    def _count_skipped(self, element: etree._Element, reason: str) -> None:
        total = len(clean("".join(element.itertext())))
        if self.options.notes != "skip" and reason != READ_WHERE_CITED:  # notes are read elsewhere
            cited = sum(len(clean("".join(e.itertext()))) for e in element.iter() if e in self.notes.bodies)
            self.current.skipped[READ_WHERE_CITED] += cited
            total -= cited
        self.current.skipped[reason] += total

    def _scan_cuts_only_quietly(self, element: etree._Element) -> None:
        if not self.waiting:  # (a table in a table in ... each read its whole inside again)
            return
        for child in element.iterdescendants():
            key = (self.path, child.get("id") or "")
            if child.get("id") and key in self.cuts and key not in self.hit:
                self._cut(key)

    # ------------------------------------------------------------------ special blocks

    def _table(self, table: etree._Element, todo: list[Callable[[], None]]) -> None:
        rows = table_rows(table)
        if not rows:
            return
        if is_layout_table(rows):  # a table holding page layout: read it as the blocks it holds
            self._open_block(table, "table", set(), todo)
            return
        if self.options.tables == "skip":
            self._count_skipped(table, "tables")
            self._paragraph(self.words["table"], kind="announcement")
            return
        caption = next((clean("".join(c.itertext())) for c in table.iter("{*}caption")), "")
        if caption:
            self._paragraph(caption)
        header = rows[0].cells if rows[0].header and len(rows) > 1 else None
        for row in rows[1:] if header else rows:
            self._paragraph(spoken_row(row.cells, header), kind="table")

    def _pre(self, element: etree._Element) -> None:
        text = "".join(element.itertext())
        lines = [clean(line) for line in text.splitlines()]
        lines = [line for line in lines if line]
        if not lines:
            return
        code = (any(local(e.tag) == "code" for e in element.iter())
                or bool(re.search(r"(?i)code|listing|program|source", element.get("class") or ""))
                or len(_CODE_MARKS.findall(text)) > max(3, len(text) // 40))
        if code:
            self._count_skipped(element, "code listings")
            self._paragraph(self.words["code"], kind="announcement")
            return
        for line in lines:  # verse or a letter set line by line
            self._paragraph(line, kind="verse")

    def _svg(self, element: etree._Element) -> None:
        """Text drawn in inline SVG (a fixed-layout page may hold all its words there)."""
        todo = list(reversed(element))  # read each outermost <text> whole, the ones in it with it
        while todo:
            text = todo.pop()
            if not (isinstance(text.tag, str) and text.tag.rsplit("}", 1)[-1] == "text"):
                todo.extend(reversed(text))
                continue
            words = clean("".join(text.itertext()))
            if words:
                self._paragraph(words)

    # ------------------------------------------------------------------ paragraphs

    def _add(self, text: str, link: bool) -> None:
        self.buffer.append(text)
        if link:
            self.buffer_links += len(text.strip())

    def _flush(self, heading: bool = False) -> None:
        if self.buffer:
            text = clean("".join(self.buffer))
            if text:
                heading = heading or self.in_heading > 0
                kind = "heading" if heading else "verse" if self.in_verse else "text"
                draft = self.current
                draft.paragraphs.append(Paragraph(text, heading=heading, kind=kind))
                draft.link_chars += self.buffer_links
                draft.links += 1 if self.buffer_links else 0
            self.buffer.clear()
            self.buffer_links = 0
        self._place_notes()

    def _paragraph(self, text: str, heading: bool = False, kind: str = "text") -> None:
        text = clean(text)
        if text:
            self.current.paragraphs.append(Paragraph(text, heading=heading, kind=kind))
        self._place_notes()

    def _place_notes(self) -> None:
        """Notes cited in the paragraph just ended go after it (or to the chapter's end)."""
        if not self.pending_notes or self.buffer:
            return
        notes, self.pending_notes = self.pending_notes, []
        if self.options.notes == "inline":
            self.current.paragraphs.extend(self._note_paragraph(note) for note in notes if note)
        elif self.options.notes == "end_of_chapter":
            self.current.notes.extend(note for note in notes if note)

    def _note_paragraph(self, note: str) -> Paragraph:
        return Paragraph(f"{self.words['note']}: {note}", kind="note")


def _classes(element: etree._Element) -> set[str]:
    return set((element.get("class") or "").lower().split())


