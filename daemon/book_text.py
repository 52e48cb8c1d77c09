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
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from typing import Callable

from lxml import etree

from .markup import clean, local, types_of

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
SILENT_TAGS = {"head", "script", "style", "rt", "rp", "img", "math", "audio", "video", "object",
               "iframe", "template", "button", "input", "select", "textarea"}
BLOCK_TAGS = {
    "p", "div", "section", "article", "aside", "blockquote", "li", "ul", "ol", "dl",
    "dt", "dd", "caption", "figure", "figcaption", "header", "footer", "main", "nav",
    "hr", "br", "body", "address", "h1", "h2", "h3", "h4", "h5", "h6", "hgroup",
    "details", "summary", "tr", "td", "th",
}
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


@dataclass(frozen=True)
class ReadingOptions:
    keep_boilerplate: bool = False
    notes: str = "inline"  # inline | end_of_chapter | skip
    tables: str = "rows"  # rows | skip
    lang: str | None = None  # the language asked for; else the book's own (for the few words added)


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


# --------------------------------------------------------------------------- notes

NOTE_TYPES = {"footnote", "endnote", "rearnote", "note", "doc-footnote", "doc-endnote"}
NOTEREF_TYPES = {"noteref", "doc-noteref"}
_NOTEREF_CLASS = re.compile(r"(?i)(^|\s)(fnanchor|footnote-?ref\w*|noteref|fn-?ref|footnote-?link|endnote-?ref)(\s|$)")
_NOTE_CLASS = re.compile(r"(?i)(^|\s)(foot-?notes?|end-?notes?|rear-?notes?|fn)(\s|$)")
_NOTE_ID = re.compile(r"(?i)^(foot-?note|fn|note|end-?note|rear-?note)s?[-_:.]?[a-z]*\d")
_BACK_ARROWS = {"↩", "↩︎", "↑", "⤴", "^"}  # printed links back to where a note is cited
_MARK = re.compile(r"^\W{0,2}(\d{1,4}|[ivxlc]{1,6}|[a-z]|[*†‡§¶]{1,3})\W{0,2}$", re.IGNORECASE)
_LEADING_LABEL = re.compile(r"^\s*(\[\w{1,6}\]|\(\w{1,6}\)|(line\s+)?\d{1,4}[.)]?|[*†‡§¶]+)(\s+|$)",
                            re.IGNORECASE)


class NoteIndex:
    """Which links are note references, what each note says, and which elements are notes.

    Built before the walk, over every document of the book, since a note often
    lives in another document than the sentence that cites it.
    """

    def __init__(self, documents: dict[str, etree._Element], resolve: Callable[[str, str], tuple[str, str]]) -> None:
        self.texts: dict[etree._Element, str] = {}  # note reference link -> the note's text
        self.bodies: set[etree._Element] = set()  # note elements, never read where they stand
        ids = {(path, el.get("id")): el for path, root in documents.items()
               for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
        in_note = _NoteAncestry()
        bodies: dict[etree._Element, etree._Element] = {}  # target -> the note holding it
        references: list[tuple[etree._Element, etree._Element]] = []  # (link, note body)
        for path, root in documents.items():
            for link in root.iter("{*}a"):
                href = link.get("href")
                if not href or "#" not in href:
                    continue
                target = ids.get(resolve(path, href))
                if target is None or not _is_reference(link, target, in_note):
                    continue
                if target not in bodies:
                    bodies[target] = _note_body(target)
                references.append((link, bodies[target]))
                self.bodies.add(bodies[target])
        # Each note is taken apart once, however often it is cited, and a note inside a note
        # (known only once every body is) once more at most: deep or often, linear time.
        read: dict[etree._Element, str] = {}
        inner: dict[etree._Element, str] = {}
        for link, body in references:
            if body not in read:
                read[body] = _note_text(body, self.bodies, inner)
            self.texts[link] = read[body]


def _is_reference(link: etree._Element, target: etree._Element, in_note: "_NoteAncestry") -> bool:
    if types_of(link) & NOTEREF_TYPES or _NOTEREF_CLASS.search(link.get("class") or ""):
        return True
    return bool(_MARK.match(_short_text(link))) and in_note(target)


# A mark, a label or a back-link arrow is a few characters: reading more of a link than this
# (the links of a chain nested a thousand deep each hold all the text below them) is wasted.
_SHORT = 200


def _short_text(element: etree._Element) -> str:
    """The element's text, cleaned, if it is short; else only a start that is no mark."""
    read, size = [], 0
    for chunk in element.itertext():
        read.append(chunk[:_SHORT + 1])
        size += len(read[-1])
        if size > _SHORT:
            return "-" * (_SHORT + 1)  # matches no mark, label or arrow
    return clean("".join(read))


def _is_note(element: etree._Element) -> bool:
    return bool(types_of(element) & NOTE_TYPES or _NOTE_CLASS.search(element.get("class") or "")
                or local(element.tag) == "aside")


class _NoteAncestry:
    """Whether an element is a note or inside one, each element looked at once: asking
    every target of a chain nested a thousand deep about all its ancestors was quadratic."""

    def __init__(self) -> None:
        self.known: dict[etree._Element, bool] = {}

    def __call__(self, element: etree._Element) -> bool:
        if _NOTE_ID.match(element.get("id") or "") or _NOTE_ID.match(element.get("name") or ""):
            return True
        chain = []  # from the element up to the first ancestor already known
        node: etree._Element | None = element
        while node is not None and node not in self.known:
            chain.append(node)
            node = node.getparent()
        inside = self.known.get(node, False) if node is not None else False
        for node in reversed(chain):
            inside = inside or _is_note(node)
            self.known[node] = inside
        return inside


def _note_body(target: etree._Element) -> etree._Element:
    """The element holding the whole note: a note container, else the nearest block."""
    for element in (target, *target.iterancestors()):
        if _is_note(element) or local(element.tag) == "li":
            return element
        if local(element.tag) == "body":
            break
    for element in (target, *target.iterancestors()):
        if local(element.tag) in BLOCK_TAGS and local(element.tag) not in ("br", "hr"):
            return element
    return target


def _note_text(body: etree._Element, bodies: set[etree._Element], inner: dict[etree._Element, str]) -> str:
    """The note's words, without its printed label: a link back to the text ('[1]', 'Line 20.')
    or, when there is none, a leading '1.' or '[1]'."""
    parts: list[str] = []
    said = False  # whether parts hold more than spaces (kept, not recomputed: that was quadratic)
    label_removed = False
    # what is left to read, last first: elements, and the texts after them (tails, a block's end);
    # a stack, not recursion: a note may nest its markup up to markup.MAX_DEPTH levels
    todo: list[etree._Element | str | tuple[etree._Element, int]] = [body]
    while todo:
        element = todo.pop()
        if isinstance(element, str):
            parts.append(element)
            said = said or not element.isspace()
            continue
        if isinstance(element, tuple):  # a note inside this one, read: the next note holding it reuses it
            held, start = element
            inner[held] = "".join(parts[start:])
            continue
        if said and element in inner:  # once something is said, what a note adds no longer
            parts.append(inner[element])  # depends on what came before it
            continue
        if said and element in bodies:
            todo.append((element, len(parts)))
        tag = local(element.tag)
        if tag in SILENT_TAGS:
            continue
        if tag == "a" and _is_backlink(element):
            label_removed = label_removed or not said
            continue  # a link back to the text ('↩' at the end of a Standard Ebooks note) is not read
        if tag == "a" and not label_removed and not said and _is_label(element):
            label_removed = True  # the link back to the text, printed as the note's number
        elif element.text:
            parts.append(element.text)
            said = said or not element.text.isspace()
        if tag in BLOCK_TAGS:
            todo.append(" ")
        if not (tag == "a" and label_removed and not said):
            for child in reversed(element):
                if child.tail:
                    todo.append(child.tail)
                todo.append(child)
    text = clean("".join(parts))
    return text if label_removed else _LEADING_LABEL.sub("", text, count=1).strip()


def _is_backlink(link: etree._Element) -> bool:
    return "backlink" in types_of(link) or _short_text(link) in _BACK_ARROWS


def _is_label(link: etree._Element) -> bool:
    text = _short_text(link)
    return bool(text) and (bool(_MARK.match(text)) or bool(_LEADING_LABEL.fullmatch(text))
                           or "backlink" in types_of(link))


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
        rows = _table_rows(table)
        if not rows:
            return
        if _layout_table(rows):  # a table holding page layout: read it as the blocks it holds
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
            self._paragraph(_spoken_row(row.cells, header), kind="table")

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


# --------------------------------------------------------------------------- tables

@dataclass(frozen=True)
class _Row:
    cells: tuple[str, ...]
    header: bool


def _table_rows(table: etree._Element) -> list[_Row]:
    """The table's own rows, in order; a table inside it has its own.  One walk that does
    not enter nested tables: looking up from every row of every nested table took time
    growing with the square of their nesting."""
    rows = []
    todo = [(child, False) for child in reversed(table)]  # (element, inside a <thead>), last first
    while todo:
        element, in_head = todo.pop()
        name = local(element.tag)
        if name == "table":
            continue
        in_head = in_head or name == "thead"
        if isinstance(element.tag, str) and element.tag.rsplit("}", 1)[-1] == "tr":
            cells = [c for c in element if local(c.tag) in ("td", "th")]
            texts = tuple(clean("".join(c.itertext())) for c in cells)
            if any(texts):
                rows.append(_Row(texts, in_head or all(local(c.tag) == "th" for c in cells)))
        todo.extend((child, in_head) for child in reversed(element))
    return rows


def _layout_table(rows: list[_Row]) -> bool:
    """A table holding page layout (long prose in its cells), not data."""
    return any(len(cell) > 150 for row in rows for cell in row.cells)


def _spoken_row(cells: tuple[str, ...], header: tuple[str, ...] | None) -> str:
    """One row as a sentence: 'Year 1881: Chests 134,064, Tons 9,000.'"""
    filled = [(i, c) for i, c in enumerate(cells) if c]
    if header is None:
        return ", ".join(c for _, c in filled) + "."
    def named(i: int, cell: str) -> str:
        name = header[i] if i < len(header) else ""
        return f"{name} {cell}".strip()
    first, rest = filled[0], filled[1:]
    spoken = named(*first)
    if rest:
        spoken += ": " + ", ".join(named(i, c) for i, c in rest)
    return spoken + "."
