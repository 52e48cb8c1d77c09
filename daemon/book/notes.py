"""Notes in a book: which links cite a note, what each note says, and which elements are
notes, so the walk (text.py) reads a note after the paragraph that cites it, never
where it stands.

Footnotes, endnotes and Project Gutenberg's ``fnanchor`` notes are recognised by their
``epub:type``, their classes and ids, or a short mark ('1', '*', 'iv') linking into a
note.  A note's printed label and its link back to the text are not read.  Every walk
here uses a stack or a memo, never recursion or a search up from every element: a
hostile book nests its markup up to markup.MAX_DEPTH levels.
"""

from __future__ import annotations

import re
from typing import Callable

from lxml import etree

from .markup import BLOCK_TAGS, SILENT_TAGS, clean, local, types_of

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
