"""What an EPUB's package says about reading it: the OPF's manifest, spine and guide,
and the table of contents (EPUB 3 nav, else NCX), including entries that point at
anchors inside one document.

The book's catalogue data (title, authors, language, series, ...) is read from the
same OPF by ``metadata.read_metadata``, once, and kept on the package.  Nesting in a
nav or an NCX is read with a stack, never recursion (markup.MAX_DEPTH bounds it).
"""

from __future__ import annotations

import logging
import posixpath
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from lxml import etree

from daemon.errors import NotAnEpub

from .archive import EpubArchive
from .chapters import TocEntry
from .markup import clean, local, parse_xml, types_of
from .metadata import Metadata, read_metadata
from .text import SKIPPED_TYPES

log = logging.getLogger(__name__)

XHTML_TYPES = {"application/xhtml+xml", "text/html", "application/x-dtbook+xml"}


class ManifestItem(NamedTuple):
    path: str  # inside the archive
    media_type: str
    properties: str


@dataclass
class Package:
    """The OPF as the reader needs it: the catalogue data, and where the text is."""

    opf_path: str
    metadata: Metadata = Metadata()  # title, authors, language, series, ...
    manifest: dict[str, ManifestItem] = field(default_factory=dict)  # by id
    spine: list[str] = field(default_factory=list)  # hrefs of the documents, in order
    auxiliary: set[str] = field(default_factory=set)  # linear="no": read only if the TOC says so
    toc_href: str | None = None
    nav_href: str | None = None
    cover_href: str | None = None
    guide: dict[str, str] = field(default_factory=dict)  # href -> type


def resolve(base_file: str, href: str) -> tuple[str, str]:
    """(path inside the archive, fragment) of an href relative to base_file."""
    parts = urlsplit(href.strip())
    path = unquote(parts.path)
    if not path:
        return base_file, unquote(parts.fragment)
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(base_file), path))
    return joined.lstrip("./") if joined.startswith("./") else joined, unquote(parts.fragment)


def _find_opf(archive: EpubArchive) -> str:
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


def read_package(archive: EpubArchive, warnings: list[str]) -> Package:
    opf_path = _find_opf(archive)
    root = parse_xml(archive.read(opf_path) or b"", opf_path)
    # an OPF without a <metadata> element still names its title and author somewhere
    metadata = next(root.iter("{*}metadata"), root)
    package = Package(opf_path=opf_path, metadata=read_metadata(metadata))
    _read_manifest(root, package, warnings)
    _read_spine(root, package, warnings)
    for ref in root.iter("{*}reference"):
        if ref.get("href") and ref.get("type"):
            path, _ = resolve(opf_path, ref.get("href", ""))
            package.guide.setdefault(path, ref.get("type", "").lower())
    return package


def _read_manifest(root: etree._Element, package: Package, warnings: list[str]) -> None:
    """The manifest's items by id, and which of them is the nav and the cover image."""
    seen_ids: set[str] = set()
    for item in root.iter("{*}item"):
        item_id, href = item.get("id", ""), item.get("href")
        if not href:
            continue
        if item_id in seen_ids:
            warnings.append(f"the manifest uses id {item_id!r} twice; the first one counts")
            continue
        seen_ids.add(item_id)
        path, _ = resolve(package.opf_path, href)
        package.manifest[item_id] = ManifestItem(path, item.get("media-type", ""), item.get("properties", ""))
        props = item.get("properties", "").split()
        if "nav" in props:
            package.nav_href = path
        if "cover-image" in props:
            package.cover_href = path
    # EPUB 2 names its cover in <meta name="cover" content="item id">
    # (the last one, should there be several)
    covers = [m.get("content") for m in root.iter("{*}meta") if m.get("name") == "cover"]
    cover_id = covers[-1] if covers else None
    if package.cover_href is None and cover_id in package.manifest:
        package.cover_href = package.manifest[cover_id].path


def _read_spine(root: etree._Element, package: Package, warnings: list[str]) -> None:
    """The documents in reading order, and the NCX the spine names (else any in the manifest)."""
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


# --------------------------------------------------------------------------- TOC

def read_nav(archive: EpubArchive, package: Package, warnings: list[str]) -> list[TocEntry]:
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


def _read_landmarks(nav: etree._Element, package: Package) -> None:
    for link in nav.iter("{*}a"):
        kinds = types_of(link) & set(SKIPPED_TYPES)
        if kinds and link.get("href"):
            path, fragment = resolve(package.nav_href or "", link.get("href", ""))
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
            path, fragment = resolve(nav_href, link.get("href", ""))
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


def read_ncx(archive: EpubArchive, package: Package, warnings: list[str]) -> list[TocEntry]:
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
            path, fragment = resolve(toc_href, content.get("src", ""))
            title = clean("".join(label.itertext())) if label is not None else ""
            entries.append(TocEntry(path, fragment, title, parent, None))
            number = len(entries) - 1
        levels.append((point.iterchildren("{*}navPoint"), number))
    return entries
