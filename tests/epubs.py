"""Build small EPUB files for tests, including the broken and hostile ones real users send."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence
from urllib.parse import quote

CONTAINER = """<?xml version="1.0" encoding="UTF-8"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles><rootfile full-path="{opf}" media-type="application/oebps-package+xml"/></rootfiles>
</container>"""


@dataclass
class Chapter:
    title: str
    paragraphs: Sequence[str]
    body_type: str = "bodymatter"


@dataclass
class EpubSpec:
    title: str = "A Test Book"
    author: str = "Ann Author"
    language: str | None = "en"
    chapters: Sequence[Chapter] = field(default_factory=list)
    opf_dir: str = "OEBPS"  # "" puts the OPF at the archive root
    file_names: Sequence[str] | None = None  # hrefs of the chapter files
    mimetype_first: bool = True
    opf_encoding: str = "utf-8"  # "utf-16" for a UTF-16 package document
    nav: bool = True
    ncx_in_opf_but_missing: bool = False
    missing_manifest_item: bool = False
    duplicate_ids: bool = False
    extra_files: dict[str, bytes] = field(default_factory=dict)
    cover_png: bytes | None = None
    extra_documents: Sequence[tuple[str, str]] = ()  # (file name, raw XHTML) added to the spine
    nav_list: str | None = None  # the nav's <ol> content, instead of one entry per chapter
    extra_metadata: str = ""  # raw elements added to the OPF's <metadata> (series, ISBN, ...)


def xhtml(title: str, paragraphs: Sequence[str], body_type: str = "bodymatter") -> str:
    body = "\n".join(p if p.lstrip().startswith("<") else f"<p>{p}</p>" for p in paragraphs)
    return f"""<?xml version="1.0" encoding="utf-8"?>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">
<head><title>{title}</title></head>
<body epub:type="{body_type}"><section epub:type="chapter"><h2>{title}</h2>
{body}
</section></body></html>"""


def build_epub(path: Path, spec: EpubSpec) -> Path:
    names = list(spec.file_names or [f"chapter-{n}.xhtml" for n in range(1, len(spec.chapters) + 1)])
    prefix = f"{spec.opf_dir}/" if spec.opf_dir else ""
    manifest, spine, nav_items = [], [], []
    for number, (name, chapter) in enumerate(zip(names, spec.chapters), start=1):
        item_id = "c1" if spec.duplicate_ids and number == 2 else f"c{number}"
        href = quote(name)
        manifest.append(f'<item id="{item_id}" href="{href}" media-type="application/xhtml+xml"/>')
        spine.append(f'<itemref idref="{item_id}"/>')
        nav_items.append(f'<li><a href="{href}">{chapter.title}</a></li>')
    for number, (name, _) in enumerate(spec.extra_documents):
        manifest.append(f'<item id="x{number}" href="{quote(name)}" media-type="application/xhtml+xml"/>')
        spine.append(f'<itemref idref="x{number}"/>')
    if spec.missing_manifest_item:
        manifest.append('<item id="ghost" href="ghost.xhtml" media-type="application/xhtml+xml"/>')
        spine.append('<itemref idref="ghost"/>')
    if spec.nav:
        manifest.append('<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>')
    toc_attr = ""
    if spec.ncx_in_opf_but_missing:
        manifest.append('<item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>')
        toc_attr = ' toc="ncx"'
    if spec.cover_png:
        manifest.append('<item id="cover" href="cover.png" media-type="image/png" properties="cover-image"/>')
    language = f"<dc:language>{spec.language}</dc:language>" if spec.language else ""
    opf = f"""<?xml version="1.0" encoding="{spec.opf_encoding}"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="uid">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:opf="http://www.idpf.org/2007/opf">
    <dc:identifier id="uid">urn:test:{spec.title}</dc:identifier>
    <dc:title>{spec.title}</dc:title><dc:creator>{spec.author}</dc:creator>{language}
    {spec.extra_metadata}
  </metadata>
  <manifest>{''.join(manifest)}</manifest>
  <spine{toc_attr}>{''.join(spine)}</spine>
</package>"""
    nav = f"""<?xml version="1.0" encoding="utf-8"?>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">
<head><title>Contents</title></head><body>
<nav epub:type="toc"><ol>{spec.nav_list if spec.nav_list is not None else ''.join(nav_items)}</ol></nav>
</body></html>"""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        if spec.mimetype_first:
            archive.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        archive.writestr("META-INF/container.xml", CONTAINER.format(opf=f"{prefix}content.opf"))
        archive.writestr(f"{prefix}content.opf", opf.encode(spec.opf_encoding))
        if spec.nav:
            archive.writestr(f"{prefix}nav.xhtml", nav)
        for name, chapter in zip(names, spec.chapters):
            archive.writestr(f"{prefix}{name}", xhtml(chapter.title, chapter.paragraphs, chapter.body_type))
        if spec.cover_png:
            archive.writestr(f"{prefix}cover.png", spec.cover_png)
        for name, document in spec.extra_documents:
            archive.writestr(f"{prefix}{name}", document)
        for name, data in spec.extra_files.items():
            archive.writestr(name, data)
        if not spec.mimetype_first:
            archive.writestr("mimetype", "application/epub+zip")
    return path


def simple_book(path: Path, chapters: Sequence[tuple[str, Sequence[str]]], **options) -> Path:
    return build_epub(path, EpubSpec(chapters=[Chapter(t, p) for t, p in chapters], **options))


def tiny_png() -> bytes:
    """A valid 1x1 PNG, for the cover tag."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = zlib.compress(b"\x00\xff\x00\x00")
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))
