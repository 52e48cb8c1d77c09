"""Read an EPUB into chapters of paragraphs: what a narrator would read aloud.

Real books are messy, so this reads the ZIP and the OPF itself rather than
through ebooklib, which raises on a manifest item missing from the archive, a
missing NCX or duplicate ids, and parses XML with entity expansion on.  Every
XML file goes through ``parse_xml``, which refuses entity declarations (XXE,
"billion laughs"); every ZIP member is read with a size budget (ZIP bombs).

Chapters follow the table of contents (EPUB 3 nav, else NCX), including
entries that point at anchors inside one document.  Every TOC entry gets a
number, in reading order, whether it is read or skipped, so the numbers a user
puts in a sidecar's ``chapters`` do not move when a switch changes.
"""

from __future__ import annotations

import html.entities
import logging
import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from lxml import etree

from .errors import DrmProtected, NoText, NotABookFile, NotAnEpub, UnsafeEpub
from .files import NotARegularFile, open_regular

log = logging.getLogger(__name__)

# A real book, images included, is rarely above 100 MB uncompressed.
MAX_TOTAL_UNCOMPRESSED = 1 << 30
MAX_MEMBER_UNCOMPRESSED = 256 << 20
MAX_RATIO = 200  # deflate of text reaches ~10:1; a bomb reaches 1000:1

FONT_OBFUSCATION = {
    "http://www.idpf.org/2008/embedding",
    "http://ns.adobe.com/pdf/enc#RC",
}

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
    "seriespage": "series page",
}
# TOC labels that name boilerplate when the book has no epub:type to say so.
SKIPPED_LABELS = {
    "cover": "cover", "title page": "title page", "titlepage": "title page",
    "copyright": "copyright page", "copyright page": "copyright page",
    "uncopyright": "copyright page", "imprint": "imprint", "colophon": "colophon",
    "contents": "table of contents", "table of contents": "table of contents",
}
# Inline marks that are never spoken: page numbers, footnote reference marks.
SILENT_INLINE_TYPES = {"pagebreak", "noteref", "doc-pagebreak", "doc-noteref"}
SILENT_TAGS = {"head", "script", "style", "rt", "rp", "img", "svg", "math", "audio",
               "video", "object", "iframe", "template", "button", "input", "select"}
BLOCK_TAGS = {
    "p", "div", "section", "article", "aside", "blockquote", "li", "ul", "ol", "dl",
    "dt", "dd", "table", "tr", "td", "th", "caption", "figure", "figcaption",
    "header", "footer", "main", "nav", "pre", "hr", "br", "body", "address",
    "h1", "h2", "h3", "h4", "h5", "h6", "hgroup", "details", "summary",
}
HEADING_TAGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
XHTML_TYPES = {"application/xhtml+xml", "text/html", "application/x-dtbook+xml"}

EPUB_NS = "http://www.idpf.org/2007/ops"
_XML_ENTITIES = {"amp", "lt", "gt", "quot", "apos"}
_NAMED_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")
_SPACE = re.compile(r"[\s\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_INVISIBLE = re.compile(r"[\u00ad\u200b-\u200d\u2060\ufeff]")


@dataclass(frozen=True)
class Paragraph:
    text: str
    heading: bool = False


@dataclass(frozen=True)
class Chapter:
    index: int
    title: str
    paragraphs: tuple[Paragraph, ...]
    skip_reason: str | None = None

    @property
    def chars(self) -> int:
        return sum(len(p.text) for p in self.paragraphs)


@dataclass(frozen=True)
class Book:
    title: str
    author: str
    language: str | None
    chapters: tuple[Chapter, ...]
    cover: tuple[bytes, str] | None = None
    warnings: tuple[str, ...] = ()

    def readable(self, selection: frozenset[int] | None = None) -> list[Chapter]:
        """The chapters to be spoken: not skipped, with text, in the selection."""
        return [
            c for c in self.chapters
            if c.skip_reason is None and c.paragraphs
            and (selection is None or c.index in selection)
        ]


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
        except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as error:
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


# --------------------------------------------------------------------------- XML

def parse_xml(data: bytes, name: str) -> etree._Element:
    """Parse XML safely: no entity declarations, no DTD or network access.

    HTML named entities (``&nbsp;``), which XHTML 1.1 books use without their
    DTD, are turned into character references first.
    """
    text = _decode(data)
    if "<!ENTITY" in text:
        raise UnsafeEpub(
            f"refused: {name!r} declares XML entities, which books do not need and "
            "attacks use (entity expansion or reading files off the server)"
        )
    text = _XML_DECL.sub("", text, count=1)
    text = _NAMED_ENTITY.sub(_entity_to_reference, text)
    raw = text.encode("utf-8")
    for recover in (False, True):
        parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
            recover=recover, encoding="utf-8", remove_comments=True, remove_pis=True,
        )
        try:
            root = etree.fromstring(raw, parser)
        except etree.XMLSyntaxError:
            continue
        if root is not None:
            return root
    raise NotAnEpub(f"{name!r} is not readable XML")


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data[:4] in (b"<\x00?\x00", b"\x00<\x00?"):
        return data.decode("utf-16-le" if data[0] == 0x3C else "utf-16-be", errors="replace")
    declared = re.match(rb"\s*<\?xml[^>]*encoding=[\"']([A-Za-z0-9._-]+)", data)
    encoding = declared.group(1).decode("ascii") if declared else "utf-8"
    try:
        return data.decode(encoding, errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


def _entity_to_reference(match: re.Match[str]) -> str:
    name = match.group(1)
    if name in _XML_ENTITIES:
        return match.group(0)
    codepoint = html.entities.name2codepoint.get(name)
    return f"&#{codepoint};" if codepoint else " "


def _local(tag: object) -> str:
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].lower()


def _types(element: etree._Element) -> set[str]:
    """epub:type and role tokens, without vocabulary prefixes."""
    value = " ".join(
        v for k, v in element.attrib.items()
        if _local(k) in ("type", "role") and ("epub" in k or k == "role" or k.endswith("}type"))
    )
    return {token.rsplit(":", 1)[-1].lower() for token in value.split()}


def _clean(text: str) -> str:
    return _SPACE.sub(" ", _INVISIBLE.sub("", text)).strip()


# --------------------------------------------------------------------------- OPF

@dataclass
class _Package:
    opf_path: str
    title: str = ""
    author: str = ""
    language: str | None = None
    manifest: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # id -> href, type, props
    spine: list[str] = field(default_factory=list)  # hrefs of the documents, in order
    auxiliary: set[str] = field(default_factory=set)  # linear="no": read only if the TOC says so
    toc_href: str | None = None
    nav_href: str | None = None
    cover_href: str | None = None
    guide: dict[str, str] = field(default_factory=dict)  # href -> type


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
            if _local(element.tag) == "rootfile" and element.get("full-path"):
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
        tag = _local(element.tag)
        if tag == "title" and not package.title:
            package.title = _clean("".join(element.itertext()))
        elif tag == "creator":
            role = next((v for k, v in element.attrib.items() if _local(k) == "role"), "")
            creators.append((role, _clean("".join(element.itertext()))))
        elif tag == "language" and package.language is None:
            package.language = _clean("".join(element.itertext())) or None
        elif tag == "meta" and element.get("name") == "cover":
            cover_id = element.get("content")
    package.author = next((n for r, n in creators if r in ("aut", "")), creators[0][1] if creators else "")

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
        package.manifest[item_id] = (path, item.get("media-type", ""), item.get("properties", ""))
        props = item.get("properties", "").split()
        if "nav" in props:
            package.nav_href = path
        if "cover-image" in props:
            package.cover_href = path
    if package.cover_href is None and cover_id in package.manifest:
        package.cover_href = package.manifest[cover_id][0]

    spine = next(root.iter("{*}spine"), None)
    if spine is not None:
        toc_id = spine.get("toc")
        if toc_id in package.manifest:
            package.toc_href = package.manifest[toc_id][0]
        for ref in spine.iter("{*}itemref"):
            entry = package.manifest.get(ref.get("idref", ""))
            if entry is None:
                warnings.append(f"the spine names {ref.get('idref')!r}, which the manifest lacks")
                continue
            if entry[1] not in XHTML_TYPES or entry[0] in package.spine:
                continue
            package.spine.append(entry[0])
            if ref.get("linear", "yes") == "no":
                package.auxiliary.add(entry[0])
    if package.toc_href is None:
        package.toc_href = next(
            (p for p, t, _ in package.manifest.values() if t == "application/x-dtbncx+xml"), None
        )
    for ref in root.iter("{*}reference"):
        if ref.get("href") and ref.get("type"):
            path, _ = _resolve(opf_path, ref.get("href", ""))
            package.guide.setdefault(path, ref.get("type", "").lower())
    return package


# --------------------------------------------------------------------------- TOC

@dataclass(frozen=True)
class _TocEntry:
    path: str
    fragment: str
    title: str


def _read_nav(archive: _Archive, package: _Package, warnings: list[str]) -> list[_TocEntry]:
    if not package.nav_href:
        return []
    data = archive.read(package.nav_href)
    if data is None:
        warnings.append(f"the navigation document {package.nav_href} is missing from the archive")
        return []
    root = parse_xml(data, package.nav_href)
    entries: list[_TocEntry] = []
    for nav in root.iter("{*}nav"):
        types = _types(nav)
        if "landmarks" in types:
            for link in nav.iter("{*}a"):
                kinds = _types(link) & set(SKIPPED_TYPES)
                if kinds and link.get("href"):
                    path, fragment = _resolve(package.nav_href, link.get("href", ""))
                    if not fragment:
                        package.guide.setdefault(path, sorted(kinds)[0])
        elif "toc" in types and not entries:
            for link in nav.iter("{*}a"):
                if link.get("href"):
                    path, fragment = _resolve(package.nav_href, link.get("href", ""))
                    entries.append(_TocEntry(path, fragment, _clean("".join(link.itertext()))))
    return entries


def _read_ncx(archive: _Archive, package: _Package, warnings: list[str]) -> list[_TocEntry]:
    if not package.toc_href:
        return []
    data = archive.read(package.toc_href)
    if data is None:
        warnings.append(f"the OPF names {package.toc_href} as its table of contents, "
                        "but the archive lacks it")
        return []
    root = parse_xml(data, package.toc_href)
    entries = []
    for point in root.iter("{*}navPoint"):
        content = next(point.iterchildren("{*}content"), None)
        label = next(point.iterchildren("{*}navLabel"), None)
        if content is None or not content.get("src"):
            continue
        path, fragment = _resolve(package.toc_href, content.get("src", ""))
        title = _clean("".join(label.itertext())) if label is not None else ""
        entries.append(_TocEntry(path, fragment, title))
    return entries


# --------------------------------------------------------------------------- body text

@dataclass
class _Draft:
    title: str
    paragraphs: list[Paragraph] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    link_chars: int = 0
    links: int = 0
    explicit: bool = True  # from a TOC entry (its title is the TOC label)


class _Walker:
    """Walks spine documents in order, cutting chapters at TOC targets."""

    def __init__(self, cuts: dict[tuple[str, str], str], keep_boilerplate: bool) -> None:
        self.cuts = cuts
        self.keep = keep_boilerplate
        self.drafts: list[_Draft] = []
        self.buffer: list[str] = []
        self.buffer_links = 0
        self.in_heading = 0
        self.hit: set[tuple[str, str]] = set()
        self.path = ""

    @property
    def current(self) -> _Draft:
        if not self.drafts:
            self.drafts.append(_Draft(title="", explicit=False))
        return self.drafts[-1]

    def document(self, path: str, root: etree._Element, doc_type: str | None) -> None:
        body = next(root.iter("{*}body"), None)
        if body is None:
            body = root
        self.path = path
        if (path, "") in self.cuts:
            self._cut((path, ""))
        elif not self.drafts:
            self.drafts.append(_Draft(title="", explicit=False))
        if doc_type and not self.keep:
            self.current.reasons.append(doc_type)
            self._scan_cuts_only(body)
            return
        self._walk(body)
        self._flush()

    def _cut(self, key: tuple[str, str]) -> None:
        self.hit.add(key)
        self._flush()
        title = self.cuts[key]
        self.drafts.append(_Draft(title=title))

    def _scan_cuts_only(self, element: etree._Element) -> None:
        """Inside skipped matter, still start chapters the TOC points at."""
        reason = self.current.reasons[-1]
        for child in element.iterdescendants():
            key = (self.path, child.get("id") or "")
            if child.get("id") and key in self.cuts:
                self._cut(key)
                self.current.reasons.append(reason)

    def _walk(self, element: etree._Element) -> None:
        tag = _local(element.tag)
        element_id = element.get("id") or (element.get("name") if tag == "a" else None)
        if element_id and (self.path, element_id) in self.cuts:
            self._cut((self.path, element_id))
        if tag in SILENT_TAGS or not tag:
            return
        types = _types(element)
        if types & SILENT_INLINE_TYPES:
            return
        skip = self._skip_reason(element, types, tag)
        if skip:
            self._flush()
            self.current.reasons.append(skip)
            self._scan_cuts_only(element)
            return
        block = tag in BLOCK_TAGS
        heading = tag in HEADING_TAGS
        link = tag == "a" and element.get("href") is not None
        if block:
            self._flush()
        if heading:
            self.in_heading += 1
        if element.text:
            self._add(element.text, link)
        for child in element:
            self._walk(child)
            if child.tail:
                self._add(child.tail, link)
        if heading:
            self.in_heading -= 1
        if block:
            self._flush(heading=heading)

    def _skip_reason(self, element: etree._Element, types: set[str], tag: str) -> str | None:
        if self.keep:
            return None
        for token in types:
            if token in SKIPPED_TYPES:
                return SKIPPED_TYPES[token]
        classes = (element.get("class") or "").split()
        if "pg-boilerplate" in classes or element.get("id") in ("pg-header", "pg-footer"):
            return "Project Gutenberg licence"
        if tag == "nav":
            return "table of contents"
        return None

    def _add(self, text: str, link: bool) -> None:
        self.buffer.append(text)
        if link:
            self.buffer_links += len(text.strip())

    def _flush(self, heading: bool = False) -> None:
        if not self.buffer:
            return
        text = _clean("".join(self.buffer))
        if text:
            draft = self.current
            draft.paragraphs.append(Paragraph(text, heading=heading or self.in_heading > 0))
            draft.link_chars += self.buffer_links
            draft.links += 1 if self.buffer_links else 0
        self.buffer.clear()
        self.buffer_links = 0


def _finish(drafts: list[_Draft], keep_boilerplate: bool) -> tuple[Chapter, ...]:
    chapters = []
    for draft in drafts:
        if not draft.explicit and not draft.paragraphs:
            continue  # nothing before the first TOC entry
        title = draft.title or next((p.text for p in draft.paragraphs if p.heading), "")
        title = title or f"Section {len(chapters) + 1}"
        chars = sum(len(p.text) for p in draft.paragraphs)
        reason = None
        label = None if keep_boilerplate else SKIPPED_LABELS.get(title.strip(" .:").casefold())
        if draft.reasons and not draft.paragraphs:
            reason = draft.reasons[0]
        elif not draft.paragraphs:
            reason = "no text (images only)"
        elif label:
            reason = label
        elif not keep_boilerplate and draft.links >= 3 and draft.link_chars > 0.6 * chars:
            reason = "table of contents"
        chapters.append(Chapter(len(chapters) + 1, title[:200], tuple(draft.paragraphs), reason))
    return tuple(chapters)


# --------------------------------------------------------------------------- entry point

def read_book(path: Path, keep_boilerplate: bool = False) -> Book:
    """Read ``path`` into a Book, or raise an InboxError saying why it cannot be read."""
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

    in_spine = set(spine)
    cuts: dict[tuple[str, str], str] = {}
    for entry in toc:
        if entry.path in in_spine and (entry.path, entry.fragment) not in cuts:
            cuts[(entry.path, entry.fragment)] = entry.title or "Untitled"
    if not cuts:
        if toc:
            warnings.append("the table of contents points at nothing in the spine; "
                            "chapters follow the documents instead")
        cuts = {(p, ""): "" for p in spine}

    walker = _Walker(cuts, keep_boilerplate)
    for doc in spine:
        try:
            root = parse_xml(archive.read(doc) or b"", doc)
        except NotAnEpub as error:
            warnings.append(f"{doc}: {error}; skipped")
            continue
        walker.document(doc, root, _doc_type(root, package.guide.get(doc)))
    _cut_missing_anchors(walker, cuts)
    chapters = _finish(walker.drafts, keep_boilerplate)

    for warning in warnings:
        log.warning("%s: %s", path.name, warning)
    book = Book(
        title=package.title or path.stem,
        author=package.author,
        language=package.language,
        chapters=chapters,
        cover=_cover(archive, package),
        warnings=tuple(warnings),
    )
    if not book.readable():
        raise NoText("the book has no text to read: every section is empty or "
                     "images only (is it a scanned or picture book?)")
    return book


def _doc_type(root: etree._Element, guide_type: str | None) -> str | None:
    """The boilerplate kind of a whole document, from its body or the guide."""
    body = next(root.iter("{*}body"), None)
    if body is not None:
        for token in _types(body):
            if token in SKIPPED_TYPES:
                return SKIPPED_TYPES[token]
    return SKIPPED_TYPES.get(guide_type or "")


def _cut_missing_anchors(walker: _Walker, cuts: dict[tuple[str, str], str]) -> None:
    """TOC entries whose anchor was never found are reported, not silently lost."""
    for (path, fragment), title in cuts.items():
        if (path, fragment) not in walker.hit:
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
    for href, media_type, _ in package.manifest.values():
        if "cover" in href.lower() and media_type in ("image/jpeg", "image/png"):
            candidates.append(href)
    for href in candidates:
        media_type = next((t for p, t, _ in package.manifest.values() if p == href), "")
        if media_type not in ("image/jpeg", "image/png"):
            continue
        data = archive.read(href)
        if data:
            return data, media_type
    return None

