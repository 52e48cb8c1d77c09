"""Read an EPUB into a Book: its catalogue data, cover, and chapters of paragraphs.

Real books are messy, so this reads the ZIP and the OPF itself rather than
through ebooklib, which raises on a manifest item missing from the archive, a
missing NCX or duplicate ids, and parses XML with entity expansion on.  Every
XML file goes through ``markup.parse_xml``, which refuses entity declarations
(XXE, "billion laughs"); every ZIP member is read with a size budget (ZIP
bombs); the file itself is opened only if it is a regular file.

The parts: ``archive`` opens the ZIP safely, ``package`` reads the
OPF and the table of contents, ``metadata`` the catalogue data (once: every
user reads it from ``Book.metadata``), ``text`` turns the documents into
paragraphs, ``chapters`` decides what each chapter is called and which parts of
the book are not read.  This module puts them together.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from lxml import etree

from daemon.errors import NotAnEpub, NoText

from .archive import EpubArchive, check_drm
from .chapters import MERGED, Chapter, TocEntry, build_chapters
from .markup import parse_xml, types_of
from .metadata import Metadata
from .options import ReadingOptions
from .package import XHTML_TYPES, Package, read_nav, read_ncx, read_package, resolve
from .text import SKIPPED_TYPES, NoteIndex, Paragraph, TextWalker

log = logging.getLogger(__name__)

__all__ = ["Book", "Chapter", "Metadata", "Paragraph", "ReadingOptions", "read_book"]


@dataclass(frozen=True)
class Book:
    metadata: Metadata  # the catalogue data, read once: title, authors, language, series, ...
    chapters: tuple[Chapter, ...]
    cover: tuple[bytes, str] | None = None
    warnings: tuple[str, ...] = ()
    skipped: tuple[tuple[str, int], ...] = ()  # (why, characters) of what is not read, largest first

    @property
    def title(self) -> str:
        return self.metadata.title

    @property
    def author(self) -> str:
        """Every author, 'A & B' (Metadata.author): the tags, the status record, the feed
        and the library folder all name the book's author by this one rule."""
        return self.metadata.author

    @property
    def language(self) -> str | None:
        return self.metadata.language

    def readable(self, selection: frozenset[int] | None = None) -> list[Chapter]:
        """The chapters to be spoken: not skipped, with text, in the selection."""
        return [
            c for c in self.chapters
            if c.skip_reason is None and c.paragraphs
            and (selection is None or c.index in selection)
        ]


# --------------------------------------------------------------------------- entry point

def read_book(path: Path, options: ReadingOptions | None = None, keep_boilerplate: bool = False) -> Book:
    """Read ``path`` into a Book, or raise an InboxError saying why it cannot be read."""
    options = options or ReadingOptions(keep_boilerplate=keep_boilerplate)
    archive = EpubArchive(path)
    warnings: list[str] = []
    check_drm(archive, warnings)
    package = read_package(archive, warnings)
    toc = read_nav(archive, package, warnings) or read_ncx(archive, package, warnings)
    in_toc = {entry.path for entry in toc}
    spine = [p for p in package.spine if archive.find(p)
             and (p not in package.auxiliary or p in in_toc)]
    for missing in sorted(p for p in package.spine if not archive.find(p)):
        warnings.append(f"{missing} is in the spine but missing from the archive; skipped")
    if not spine:
        raise NoText("the book has no readable text: its spine lists no documents "
                     "that are in the archive")
    documents = _parse_documents(archive, package, spine, warnings)
    cuts = _cuts(toc, spine, warnings)
    metadata = package.metadata
    language = options.lang or (metadata.language or "en").lower()
    walker = TextWalker(cuts, replace(options, lang=language), NoteIndex(documents, resolve))
    for doc in spine:
        if doc in documents:
            walker.document(doc, documents[doc], _doc_type(documents[doc], package.guide.get(doc)))
    _report_missing_anchors(walker.hit, cuts)
    drafts = walker.finish()
    # a title page names the book and its (first) author
    chapters = build_chapters(drafts, toc, metadata.title, next(iter(metadata.authors), ""), options)
    book = Book(
        metadata=replace(metadata, title=metadata.title or path.stem),  # every book has a title
        chapters=chapters,
        cover=_cover(archive, package),
        warnings=tuple(warnings),
        skipped=_skipped(drafts, chapters),
    )
    for warning in warnings:
        log.warning("%s: %s", path.name, warning)
    _check_something_to_read(book)
    return book


def _parse_documents(archive: EpubArchive, package: Package, spine: list[str],
                     warnings: list[str]) -> dict[str, etree._Element]:
    """Every readable document, parsed once: the spine, and notes documents outside it."""
    documents = {}
    extra = [item.path for item in package.manifest.values()
             if item.media_type in XHTML_TYPES and item.path not in spine and item.path != package.nav_href]
    for doc in spine + extra:
        data = archive.read(doc)
        if data is None:
            continue
        try:
            documents[doc] = parse_xml(data, doc)
        except NotAnEpub as error:
            if doc in spine:
                warnings.append(f"{doc}: {error}; skipped")
    return documents


def _cuts(toc: list[TocEntry], spine: list[str],
          warnings: list[str]) -> dict[tuple[str, str], tuple[int | None, str]]:
    """Where chapters start: (document, anchor) -> (TOC entry, title)."""
    in_spine = set(spine)
    cuts: dict[tuple[str, str], tuple[int | None, str]] = {}
    for number, entry in enumerate(toc):
        if entry.path in in_spine and (entry.path, entry.fragment) not in cuts:
            cuts[(entry.path, entry.fragment)] = (number, entry.title or "Untitled")
    if not cuts:
        if toc:
            warnings.append("the table of contents points at nothing in the spine; "
                            "chapters follow the documents instead")
        cuts = {(p, ""): (None, "") for p in spine}
    return cuts


def _skipped(drafts: list, chapters: tuple[Chapter, ...]) -> tuple[tuple[str, int], ...]:
    """Characters not read aloud, by reason: parts skipped inside chapters, and whole chapters."""
    total: Counter[str] = Counter()
    for draft in drafts:
        total.update(draft.skipped)
    for chapter in chapters:
        if chapter.skip_reason and chapter.skip_reason != MERGED and chapter.paragraphs:
            total[chapter.skip_reason] += chapter.chars
    return tuple(item for item in total.most_common() if item[1])


def _check_something_to_read(book: Book) -> None:
    readable = book.readable()
    if not readable:
        raise NoText("the book has no text to read: every section is empty or "
                     "images only (is it a scanned or picture book?)")
    if all(p.heading for c in readable for p in c.paragraphs):
        raise NoText("the book has only headings and no text under them (is it a table of "
                     "contents, or a picture book whose text is in its images?)")


def _doc_type(root: etree._Element, guide_type: str | None) -> str | None:
    """The boilerplate kind of a whole document, from its body or the guide."""
    body = next(root.iter("{*}body"), None)
    if body is not None:
        for token in types_of(body):
            if token in SKIPPED_TYPES:
                return SKIPPED_TYPES[token]
    return SKIPPED_TYPES.get(guide_type or "")


def _report_missing_anchors(hit: set[tuple[str, str]],
                            cuts: dict[tuple[str, str], tuple[int | None, str]]) -> None:
    """TOC entries whose anchor was never found are reported, not silently lost."""
    for (path, fragment), (_, title) in cuts.items():
        if (path, fragment) not in hit:
            log.warning("table of contents entry %r points at #%s in %s, which does not exist",
                        title, fragment, path)


def _cover(archive: EpubArchive, package: Package) -> tuple[bytes, str] | None:
    """The cover as JPEG or PNG bytes (ID3 players do not show SVG)."""
    candidates = []
    if package.cover_href:
        candidates.append(package.cover_href)
    for item in package.manifest.values():
        if "cover" in item.path.lower() and item.media_type in ("image/jpeg", "image/png"):
            candidates.append(item.path)
    for href in candidates:
        media_type = next((i.media_type for i in package.manifest.values() if i.path == href), "")
        if media_type not in ("image/jpeg", "image/png"):
            continue
        data = archive.read(href)
        if data:
            return data, media_type
    return None

