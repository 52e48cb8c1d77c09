"""Read an EPUB into a Book: its metadata, cover, and chapters of paragraphs.

Real books are messy, so this reads the ZIP and the OPF itself rather than
through ebooklib, which raises on a manifest item missing from the archive, a
missing NCX or duplicate ids, and parses XML with entity expansion on.  Every
XML file goes through ``markup.parse_xml``, which refuses entity declarations
(XXE, "billion laughs"); every ZIP member is read with a size budget (ZIP
bombs); the file itself is opened only if it is a regular file.

Chapters follow the table of contents (EPUB 3 nav, else NCX), including
entries that point at anchors inside one document.  ``book_text`` turns the
documents into paragraphs, ``chapters`` decides what each chapter is called
and which parts of the book are not read.
"""

from __future__ import annotations

import logging
import posixpath
from collections import Counter
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from lxml import etree

from .book_text import SKIPPED_TYPES, NoteIndex, Paragraph, ReadingOptions, TextWalker
from .chapters import MERGED, Chapter, TocEntry, build_chapters
from .errors import DrmProtected, NoText, NotABookFile, NotAnEpub, TryLater, UnsafeEpub
from .files import NotARegularFile, open_regular, transient
from .markup import clean, local, parse_xml, types_of
from .metadata import Metadata, read_metadata

log = logging.getLogger(__name__)

__all__ = ["Book", "Chapter", "Metadata", "Paragraph", "ReadingOptions", "read_book"]

# A real book, images included, is rarely above 100 MB uncompressed.
MAX_TOTAL_UNCOMPRESSED = 1 << 30
MAX_MEMBER_UNCOMPRESSED = 256 << 20
MAX_RATIO = 200  # deflate of text reaches ~10:1; a bomb reaches 1000:1

FONT_OBFUSCATION = {
    "http://www.idpf.org/2008/embedding",
    "http://ns.adobe.com/pdf/enc#RC",
}
XHTML_TYPES = {"application/xhtml+xml", "text/html", "application/x-dtbook+xml"}


@dataclass(frozen=True)
class Book:
    title: str
    author: str
    language: str | None
    chapters: tuple[Chapter, ...]
    cover: tuple[bytes, str] | None = None
    warnings: tuple[str, ...] = ()
    skipped: tuple[tuple[str, int], ...] = ()  # (why, characters) of what is not read, largest first
    metadata: Metadata = Metadata()

    def readable(self, selection: frozenset[int] | None = None) -> list[Chapter]:
        """The chapters to be spoken: not skipped, with text, in the selection."""
        return [
            c for c in self.chapters
            if c.skip_reason is None and c.paragraphs
            and (selection is None or c.index in selection)
        ]


class ManifestItem(NamedTuple):
    path: str  # inside the archive
    media_type: str
    properties: str


# --------------------------------------------------------------------------- ZIP

class _Archive:
    """The EPUB's ZIP with safe, tolerant member lookup."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.zip = zipfile.ZipFile(open_regular(path))  # never a pipe or a device
        except NotARegularFile as error:
            raise NotABookFile(f"{error.kind}, not a book file; only EPUB files can be converted") from None
        except zipfile.BadZipFile:
            raise NotAnEpub(_why_not_zip(path)) from None
        except OSError as error:
            if transient(error):
                raise TryLater(f"cannot read the file now: {error.strerror or error}") from None
            raise NotAnEpub(f"cannot read the file: {error.strerror or error}") from None
        self._check_bomb()
        self.names: dict[str, zipfile.ZipInfo] = {}
        self.folded: dict[str, zipfile.ZipInfo] = {}
        for info in self.zip.infolist():
            name = info.filename
            if not info.flag_bits & 0x800:
                # Not flagged UTF-8: Python decoded it as cp437; most tools wrote UTF-8.
                try:
                    name = name.encode("cp437").decode("utf-8")
                except (UnicodeEncodeError, UnicodeDecodeError):
                    pass
            name = name.lstrip("/")
            self.names.setdefault(name, info)
            self.folded.setdefault(name.casefold(), info)

    def _check_bomb(self) -> None:
        total = 0
        for info in self.zip.infolist():
            total += info.file_size
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > MAX_MEMBER_UNCOMPRESSED or (
                info.file_size > (8 << 20) and ratio > MAX_RATIO
            ):
                raise UnsafeEpub(
                    f"refused: {info.filename!r} would unpack to {info.file_size >> 20} MiB "
                    f"({ratio:.0f}:1 compression); this looks like a ZIP bomb, not a book"
                )
        if total > MAX_TOTAL_UNCOMPRESSED:
            raise UnsafeEpub(
                f"refused: the archive would unpack to {total >> 20} MiB; "
                "this looks like a ZIP bomb, not a book"
            )

    def find(self, name: str) -> zipfile.ZipInfo | None:
        name = name.lstrip("/")
        return self.names.get(name) or self.folded.get(name.casefold())

    def read(self, name: str) -> bytes | None:
        info = self.find(name)
        if info is None:
            return None
        try:
            # ZipExtFile stops at the declared size, which _check_bomb bounded.
            return self.zip.read(info)
        except OSError as error:
            if transient(error):
                raise TryLater(f"cannot read {name!r} from the file now: {error.strerror or error}") from None
            raise NotAnEpub(f"{name!r} in the archive is damaged ({error})") from None
        except (zipfile.BadZipFile, EOFError, NotImplementedError) as error:
            raise NotAnEpub(f"{name!r} in the archive is damaged ({error})") from None
        except RuntimeError as error:  # encrypted ZIP entry
            raise DrmProtected(f"{name!r} is encrypted: {error}") from None


def _why_not_zip(path: Path) -> str:
    try:
        with open_regular(path) as handle:
            head = handle.read(4)
    except OSError as error:
        return f"cannot read the file: {error.strerror or error}"
    if head.startswith(b"PK"):
        return ("not an EPUB: the ZIP archive is incomplete or damaged (its directory is "
                "missing); was the copy interrupted? Copy the book again")
    return "not an EPUB: the file is not a ZIP archive (an EPUB is a ZIP of XHTML files)"


# --------------------------------------------------------------------------- OPF

@dataclass
class _Package:
    opf_path: str
    title: str = ""
    author: str = ""
    language: str | None = None
    manifest: dict[str, ManifestItem] = field(default_factory=dict)  # by id
    spine: list[str] = field(default_factory=list)  # hrefs of the documents, in order
    auxiliary: set[str] = field(default_factory=set)  # linear="no": read only if the TOC says so
    toc_href: str | None = None
    nav_href: str | None = None
    cover_href: str | None = None
    guide: dict[str, str] = field(default_factory=dict)  # href -> type
    metadata: Metadata = Metadata()


def _resolve(base_file: str, href: str) -> tuple[str, str]:
    """(path inside the archive, fragment) of an href relative to base_file."""
    parts = urlsplit(href.strip())
    path = unquote(parts.path)
    if not path:
        return base_file, unquote(parts.fragment)
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(base_file), path))
    return joined.lstrip("./") if joined.startswith("./") else joined, unquote(parts.fragment)


def _find_opf(archive: _Archive) -> str:
    container = archive.read("META-INF/container.xml")
    if container is not None:
        root = parse_xml(container, "META-INF/container.xml")
        for element in root.iter():
            if local(element.tag) == "rootfile" and element.get("full-path"):
                path = unquote(element.get("full-path", ""))
                if archive.find(path):
                    return path
                log.warning("container.xml names %s, which is not in the archive", path)
    candidates = sorted(n for n in archive.names if n.lower().endswith(".opf"))
    if candidates:
        return candidates[0]
    if container is None:
        raise NotAnEpub("not an EPUB: the ZIP has no META-INF/container.xml and no .opf package file")
    raise NotAnEpub("not an EPUB: container.xml points at no package (.opf) file in the archive")


def _read_package(archive: _Archive, warnings: list[str]) -> _Package:
    opf_path = _find_opf(archive)
    root = parse_xml(archive.read(opf_path) or b"", opf_path)
    package = _Package(opf_path=opf_path)
    creators: list[tuple[str, str]] = []
    cover_id = None
    for element in root.iter():
        tag = local(element.tag)
        if tag == "title" and not package.title:
            package.title = clean("".join(element.itertext()))
        elif tag == "creator":
            role = next((v for k, v in element.attrib.items() if local(k) == "role"), "")
            creators.append((role, clean("".join(element.itertext()))))
        elif tag == "language" and package.language is None:
            package.language = clean("".join(element.itertext())) or None
        elif tag == "meta" and element.get("name") == "cover":
            cover_id = element.get("content")
    package.author = next((n for r, n in creators if r in ("aut", "")), creators[0][1] if creators else "")
    metadata = next((m for m in root.iter("{*}metadata")), None)
    if metadata is not None:
        package.metadata = read_metadata(metadata)

    seen_ids: set[str] = set()
    for item in root.iter("{*}item"):
        item_id, href = item.get("id", ""), item.get("href")
        if not href:
            continue
        if item_id in seen_ids:
            warnings.append(f"the manifest uses id {item_id!r} twice; the first one counts")
            continue
        seen_ids.add(item_id)
        path, _ = _resolve(opf_path, href)
        package.manifest[item_id] = ManifestItem(path, item.get("media-type", ""), item.get("properties", ""))
        props = item.get("properties", "").split()
        if "nav" in props:
            package.nav_href = path
        if "cover-image" in props:
            package.cover_href = path
    if package.cover_href is None and cover_id in package.manifest:
        package.cover_href = package.manifest[cover_id].path

    spine = next(root.iter("{*}spine"), None)
    if spine is not None:
        toc_id = spine.get("toc")
        if toc_id in package.manifest:
            package.toc_href = package.manifest[toc_id].path
        for ref in spine.iter("{*}itemref"):
            entry = package.manifest.get(ref.get("idref", ""))
            if entry is None:
                warnings.append(f"the spine names {ref.get('idref')!r}, which the manifest lacks")
                continue
            if entry.media_type not in XHTML_TYPES or entry.path in package.spine:
                continue
            package.spine.append(entry.path)
            if ref.get("linear", "yes") == "no":
                package.auxiliary.add(entry.path)
    if package.toc_href is None:
        package.toc_href = next(
            (item.path for item in package.manifest.values()
             if item.media_type == "application/x-dtbncx+xml"), None
        )
    for ref in root.iter("{*}reference"):
        if ref.get("href") and ref.get("type"):
            path, _ = _resolve(opf_path, ref.get("href", ""))
            package.guide.setdefault(path, ref.get("type", "").lower())
    return package


# --------------------------------------------------------------------------- TOC

def _read_nav(archive: _Archive, package: _Package, warnings: list[str]) -> list[TocEntry]:
    if not package.nav_href:
        return []
    data = archive.read(package.nav_href)
    if data is None:
        warnings.append(f"the navigation document {package.nav_href} is missing from the archive")
        return []
    root = parse_xml(data, package.nav_href)
    entries: list[TocEntry] = []
    for nav in root.iter("{*}nav"):
        types = types_of(nav)
        if "landmarks" in types:
            _read_landmarks(nav, package)
        elif "toc" in types and not entries:
            top = next(nav.iter("{*}ol", "{*}ul"), None)
            if top is not None:
                entries = _nav_list(top, package.nav_href)
    return entries


def _read_landmarks(nav: etree._Element, package: _Package) -> None:
    for link in nav.iter("{*}a"):
        kinds = types_of(link) & set(SKIPPED_TYPES)
        if kinds and link.get("href"):
            path, fragment = _resolve(package.nav_href or "", link.get("href", ""))
            if not fragment:
                package.guide.setdefault(path, sorted(kinds)[0])


def _nav_list(top: etree._Element, nav_href: str) -> list[TocEntry]:
    """The entries of a nav's <ol>, depth first: a linked <li> is a chapter and the parent of
    its sub-list; an unlinked one (a <span>) is a label over its sub-list.  The lists still
    being read wait on a stack, not in recursive calls (nesting is bounded by
    markup.MAX_DEPTH, not by Python's recursion limit)."""
    entries: list[TocEntry] = []
    lists = [(iter(top), None, None)]  # (the items left in a list, their parent entry, label)
    while lists:
        items, parent, label = lists[-1]
        item = next(items, None)
        if item is None:
            lists.pop()
            continue
        if local(item.tag) != "li":
            continue
        sub = next((c for c in item if local(c.tag) in ("ol", "ul")), None)
        link = _own_link(item)
        if link is not None:
            path, fragment = _resolve(nav_href, link.get("href", ""))
            entries.append(TocEntry(path, fragment, clean("".join(link.itertext())), parent, label))
            if sub is not None:
                lists.append((iter(sub), len(entries) - 1, None))
        elif sub is not None:
            head = "".join("".join(c.itertext()) for c in item if local(c.tag) not in ("ol", "ul"))
            lists.append((iter(sub), parent, clean(head) or label))
    return entries


def _own_link(item: etree._Element) -> etree._Element | None:
    """The entry's own link: the first one not inside a nested list."""
    nested = set(item.iter("{*}ol", "{*}ul"))
    for link in item.iter("{*}a"):
        if link.get("href") and not any(a in nested for a in link.iterancestors()):
            return link
    return None


def _read_ncx(archive: _Archive, package: _Package, warnings: list[str]) -> list[TocEntry]:
    if not package.toc_href:
        return []
    data = archive.read(package.toc_href)
    if data is None:
        warnings.append(f"the OPF names {package.toc_href} as its table of contents, "
                        "but the archive lacks it")
        return []
    root = parse_xml(data, package.toc_href)
    nav_map = next(root.iter("{*}navMap"), root)
    return _ncx_points(nav_map, package.toc_href)


def _ncx_points(nav_map: etree._Element, toc_href: str) -> list[TocEntry]:
    """The navPoints, depth first, each under the nearest one above it that links somewhere
    (a stack of the levels being read, as in _nav_list)."""
    entries: list[TocEntry] = []
    levels = [(nav_map.iterchildren("{*}navPoint"), None)]  # (points left, their parent entry)
    while levels:
        points, parent = levels[-1]
        point = next(points, None)
        if point is None:
            levels.pop()
            continue
        content = next(point.iterchildren("{*}content"), None)
        label = next(point.iterchildren("{*}navLabel"), None)
        number = parent
        if content is not None and content.get("src"):
            path, fragment = _resolve(toc_href, content.get("src", ""))
            title = clean("".join(label.itertext())) if label is not None else ""
            entries.append(TocEntry(path, fragment, title, parent, None))
            number = len(entries) - 1
        levels.append((point.iterchildren("{*}navPoint"), number))
    return entries


# --------------------------------------------------------------------------- entry point

def read_book(path: Path, options: ReadingOptions | None = None, keep_boilerplate: bool = False) -> Book:
    """Read ``path`` into a Book, or raise an InboxError saying why it cannot be read."""
    options = options or ReadingOptions(keep_boilerplate=keep_boilerplate)
    archive = _Archive(path)
    warnings: list[str] = []
    _check_drm(archive, warnings)
    package = _read_package(archive, warnings)
    toc = _read_nav(archive, package, warnings) or _read_ncx(archive, package, warnings)
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
    language = options.lang or (package.language or "en").lower()
    walker = TextWalker(cuts, replace(options, lang=language), NoteIndex(documents, _resolve))
    for doc in spine:
        if doc in documents:
            walker.document(doc, documents[doc], _doc_type(documents[doc], package.guide.get(doc)))
    _report_missing_anchors(walker.hit, cuts)
    drafts = walker.finish()
    chapters = build_chapters(drafts, toc, package.title, package.author, options)
    book = Book(
        title=package.title or path.stem,
        author=package.author,
        language=package.language,
        chapters=chapters,
        cover=_cover(archive, package),
        warnings=tuple(warnings),
        skipped=_skipped(drafts, chapters),
        metadata=package.metadata,
    )
    for warning in warnings:
        log.warning("%s: %s", path.name, warning)
    _check_something_to_read(book)
    return book


def _parse_documents(archive: _Archive, package: _Package, spine: list[str],
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


def _check_drm(archive: _Archive, warnings: list[str]) -> None:
    data = archive.read("META-INF/encryption.xml")
    if data is None:
        return
    root = parse_xml(data, "META-INF/encryption.xml")
    for encrypted in root.iter("{*}EncryptedData"):
        method = next(encrypted.iter("{*}EncryptionMethod"), None)
        algorithm = method.get("Algorithm", "") if method is not None else ""
        reference = next(encrypted.iter("{*}CipherReference"), None)
        uri = unquote(reference.get("URI", "")) if reference is not None else ""
        if algorithm in FONT_OBFUSCATION:
            continue
        raise DrmProtected(
            f"the book is DRM-protected ({uri or 'its content'} is encrypted with {algorithm or 'an unknown method'}); "
            "only books without DRM can be converted"
        )
    if archive.find("META-INF/rights.xml"):
        warnings.append("META-INF/rights.xml present, but no text is encrypted")


def _cover(archive: _Archive, package: _Package) -> tuple[bytes, str] | None:
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

