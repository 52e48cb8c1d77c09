"""A book's catalogue entry from its OPF <metadata>: title, authors, language, subtitle,
description, subjects, publisher, date, identifiers and ISBN, series and position.

This is the one place the book's own data is read: ``epub.read_book`` keeps the
result on the ``Book``, and the tags, the status record, the feed and the library
(its folders and ``metadata.opf``) all read it from there, so a book cannot get
one author in its tags and another as its folder.  Values are plain text:
descriptions often carry HTML, which is taken apart here.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree
from lxml import html as lxml_html

from .markup import clean, local

# The elements read by their local name in any namespace: a book whose OPF forgets the
# Dublin Core namespace still has a title, an author and a language.
_CORE = ("title", "creator", "language")
# Several authors are written 'A & B', the way Audiobookshelf's scanner reads a folder name.
AUTHOR_JOINER = " & "


@dataclass(frozen=True)
class Metadata:
    """The book's own Dublin Core, for its tags and a library's catalogue
    (daemon/audio/library.py writes it out as metadata.opf).  Text is plain."""

    title: str = ""  # the first title with text; '' when the book has none
    authors: tuple[str, ...] = ()  # every creator in the author role, in the book's order
    language: str | None = None  # as the book writes it: 'en-GB', 'ja-jp'
    subtitle: str | None = None
    description: str | None = None
    subjects: tuple[str, ...] = ()
    publisher: str | None = None
    date: str | None = None  # as the book writes it: '1818', '2014-05-25T00:00:00Z'
    identifiers: tuple[tuple[str, str], ...] = ()  # (scheme, value); scheme '' when not given
    isbn: str | None = None  # digits (and a final X) only
    series: str | None = None
    series_index: str | None = None  # '2', '1.5'

    @property
    def author(self) -> str:
        """The authors as one line, for tags and the status record: the same rule that
        names the library folder (library.library_folders)."""
        return AUTHOR_JOINER.join(self.authors)


def read_metadata(metadata: etree._Element) -> Metadata:
    """The catalogue fields of an OPF's <metadata>, EPUB 2 and 3 alike.

    EPUB 3 states roles, title types and series positions in <meta refines="#id">
    elements; EPUB 2 (and calibre) in opf: attributes and <meta name=... content=...>.
    A creator without a name is no one, and an empty role is no role.
    """
    refines: dict[str, dict[str, list[str]]] = {}  # element id -> property -> values
    named: dict[str, str] = {}  # <meta name="calibre:series" content="...">
    for meta in metadata.iter("{*}meta"):
        if meta.get("refines", "").startswith("#") and meta.get("property"):
            facts = refines.setdefault(meta.get("refines", "")[1:], {})
            facts.setdefault(meta.get("property", ""), []).append(clean("".join(meta.itertext())))
        elif meta.get("name") and meta.get("content"):
            named.setdefault(meta.get("name", ""), clean(meta.get("content", "")))
    dc: dict[str, list[etree._Element]] = {}
    for element in metadata.iter():  # also inside an OEB 1 <dc-metadata>
        if isinstance(element.tag, str) and ("purl.org/dc/elements" in element.tag
                                             or local(element.tag) in _CORE):
            dc.setdefault(local(element.tag).lower(), []).append(element)  # OEB 1: dc:Title

    def text(element: etree._Element) -> str:
        return clean("".join(element.itertext()))

    def facts(element: etree._Element, name: str) -> list[str]:
        own = [v.strip().lower() for k, v in element.attrib.items() if local(k) == name]
        refined = [v.lower() for v in refines.get(element.get("id", ""), {}).get(name, [])]
        return [value for value in own + refined if value]

    creators = [(facts(c, "role"), text(c)) for c in dc.get("creator", []) if text(c)]
    # No role at all is how most books name their author; an illustrator or editor says so
    authors = [name for roles, name in creators if "aut" in roles or not roles] or \
              [name for _, name in creators[:1]]
    titles = dc.get("title", [])
    subtitle = next((text(t) for t in titles if "subtitle" in facts(t, "title-type") and text(t)), None)
    identifiers = tuple((next(iter(facts(i, "scheme")), ""), text(i)) for i in dc.get("identifier", [])
                        if text(i))
    series, index = _series(named, metadata, refines)
    return Metadata(
        title=next((text(t) for t in titles if text(t)), ""),
        authors=tuple(dict.fromkeys(authors)),
        language=next((text(language) for language in dc.get("language", []) if text(language)), None),
        subtitle=subtitle,
        description=_plain(next((text(d) for d in dc.get("description", []) if text(d)), "")) or None,
        subjects=tuple(dict.fromkeys(text(s) for s in dc.get("subject", []) if text(s))),
        publisher=next((text(p) for p in dc.get("publisher", []) if text(p)), None),
        date=next((text(d) for d in dc.get("date", [])
                   if text(d) and not {"modification", "conversion"} & set(facts(d, "event"))), None),
        identifiers=identifiers,
        isbn=next(filter(None, (_isbn(scheme, value) for scheme, value in identifiers)), None),
        series=series,
        series_index=index,
    )


def _series(named: dict[str, str], metadata: etree._Element,
            refines: dict[str, dict[str, list[str]]]) -> tuple[str | None, str | None]:
    """(series, position): calibre's meta first, else an EPUB 3 collection of type 'series'.

    A collection of type 'set' is a curated list ("The Guardian's 100 Best Novels"),
    not a series: Standard Ebooks marks dozens of those, and none is a folder to file
    the book under.  A collection with no type at all is taken as a series.
    """
    if named.get("calibre:series"):
        return named["calibre:series"], _position(named.get("calibre:series_index", ""))
    for meta in metadata.iter("{*}meta"):
        if meta.get("property") != "belongs-to-collection":
            continue
        facts = refines.get(meta.get("id", ""), {})
        kind = (facts.get("collection-type") or ["series"])[0].lower()
        name = clean("".join(meta.itertext()))
        if kind == "series" and name:
            return name, _position((facts.get("group-position") or [""])[0])
    return None, None


def _position(value: str) -> str | None:
    """'2.0' -> '2', '1.50' -> '1.5'; None for what is not a number (calibre writes floats)."""
    try:
        number = float(value.strip())
    except ValueError:
        return None
    if not 0 <= number < 1e6:
        return None
    return f"{number:.2f}".rstrip("0").rstrip(".")


def _isbn(scheme: str, value: str) -> str | None:
    """An identifier as an ISBN's digits, if it is one: labelled so (opf:scheme, urn:isbn:),
    or a bare 10 or 13 digits whose check digit is right."""
    labelled = scheme.lower() == "isbn" or value.lower().startswith(("urn:isbn:", "isbn:", "isbn "))
    digits = "".join(ch for ch in value.rpartition(":")[2].upper() if ch.isdigit() or ch == "X")
    if len(digits) not in (10, 13) or "X" in digits[:-1]:
        return None
    return digits if labelled or _isbn_checks(digits) else None


def _isbn_checks(digits: str) -> bool:
    if len(digits) == 13:
        return digits[:3] in ("978", "979") and \
            sum(int(d) * (3 if n % 2 else 1) for n, d in enumerate(digits)) % 10 == 0
    return sum((10 - n) * (10 if d == "X" else int(d)) for n, d in enumerate(digits)) % 11 == 0


def _plain(description: str) -> str:
    """A description as plain text: books often carry HTML here (escaped, so it arrives as text)."""
    if "<" not in description:
        return description
    try:
        fragment = lxml_html.fragment_fromstring(description, create_parent="div")
    except (etree.ParserError, ValueError):
        return description
    for block in fragment.iter("p", "div", "br", "li"):
        block.tail = " " + (block.tail or "")
    return clean(fragment.text_content())
