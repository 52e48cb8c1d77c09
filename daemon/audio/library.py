"""Where a finished audiobook goes: the flat outbox, or an Audiobookshelf library.

``output.layout: flat`` writes ``outbox/<stem>.mp3`` beside the status file, as
always.  ``audiobookshelf`` makes the outbox a library folder that Audiobookshelf's
scanner reads without help::

    outbox/<Author>/<Series>/Vol <n> - <Title>/<Title>.mp3   (a book in a series)
    outbox/<Author>/<Title>/<Title>.mp3                       (any other book)
    outbox/<Title>/<Title>.mp3                                (a book without an author)

each with ``cover.jpg`` (or ``cover.png``: the EPUB's own image, never re-encoded)
and ``metadata.opf`` (the book's Dublin Core, calibre's series meta, the voice as
narrator).  Names are cleaned the way Audiobookshelf cleans them
(server/utils/fileUtils.js ``sanitizeFilename``: files.sanitize_filename), and shaped
so that its folder parser (server/utils/scandir.js) reads back the same title.

The book is built in a hidden folder at the outbox root (Audiobookshelf skips
every path with a part that starts with '.') and renamed into place in one step,
so a scan never sees half a book.  A folder that exists is never written into:
the book gets 'Title (2)'.

The seam with the converter: ``place`` says which folder and file stem the audio
goes to (a ``Placement``: daemon/audio/placement.py names the files in it, one or one per
chapter, in the book's format); ``publish`` then finishes the folder and returns where
the audio ended up.
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape, quoteattr

from daemon.book.metadata import AUTHOR_JOINER
from daemon.errors import OutputError
from daemon.files import (
    atomic_write_bytes,
    fit_name,
    free_name,
    sanitize_filename,
    sync_folder,
    why_unwritable,
)

from .placement import Placement
from .tags import narrator

if TYPE_CHECKING:
    from daemon.converter import ConversionResult, PreparedBook

log = logging.getLogger(__name__)

FLAT = "flat"
AUDIOBOOKSHELF = "audiobookshelf"
OPF_NAME = "metadata.opf"
COVER_NAMES = {b"\xff\xd8\xff": "cover.jpg", b"\x89PNG\r\n\x1a\n": "cover.png"}  # by the image's first bytes
# Everything a library book's folder holds beside the audio: ours, and the metadata.json
# Audiobookshelf may write there.  A folder left with only these is the book's no more.
LIBRARY_FILES = (OPF_NAME, "metadata.json", *COVER_NAMES.values())
UNTITLED = "Untitled"
MAX_TAKEN = 1000  # 'Title (2)' ... a library with more copies of one book has a problem

_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


# --------------------------------------------------------------------------- names

def title_folder_name(title: str, series_index: str | None = None) -> str:
    """The book folder's name: 'Title', or 'Vol 2 - Title' inside a series folder.

    The scanner reads a trailing ' {…}' as the narrator, so braces become parentheses;
    a series position goes in front the way its folder parser reads it back.
    """
    clean = sanitize_filename(title.replace("{", "(").replace("}", ")")) or UNTITLED
    if series_index and re.fullmatch(r"\d{1,3}(\.\d{1,2})?", series_index):
        return sanitize_filename(f"Vol {series_index} - {clean}")
    return clean


def library_folders(title: str, authors: tuple[str, ...], series: str | None,
                    series_index: str | None) -> tuple[str, ...]:
    """The folder names under the library root: (author, [series,] title).

    Without an author the book folder sits at the root: a lone 'Series/Title' would be
    read as author 'Series'.  Several authors are joined with ' & ', which the scanner
    splits back into names.
    """
    author = sanitize_filename(AUTHOR_JOINER.join(a for a in authors if a.strip()))
    if not author:
        return (title_folder_name(title),)
    series_name = sanitize_filename(series or "")
    if series_name:
        return (author, series_name, title_folder_name(title, series_index))
    return (author, title_folder_name(title))


def book_authors(prepared: "PreparedBook") -> tuple[str, ...]:
    """The authors as the listener asked (a sidecar's author:) or as the book says (the
    same catalogue data the tags and the status record name it by)."""
    if prepared.settings.author:
        return (prepared.settings.author,)
    return prepared.book.metadata.authors


# --------------------------------------------------------------------------- placing

def place(outbox: Path, stem: str, prepared: "PreparedBook", job_id: str) -> Placement:
    """Where this job writes its audio.  ``stem`` is the status file's stem, relative to
    the outbox ('sub/Book'); ``job_id`` names the staging folder, so a resumed job finds
    what it had written."""
    if prepared.settings.layout != AUDIOBOOKSHELF:
        relative = Path(stem)
        return Placement(outbox.joinpath(*relative.parent.parts), relative.name, outbox)
    meta = prepared.book.metadata
    target = library_folders(prepared.title, book_authors(prepared), meta.series, meta.series_index)
    tag = f".partial-{job_id[:8]}"
    staging = outbox / ("." + fit_name(target[-1], tag, reserve=1))
    return Placement(staging, sanitize_filename(prepared.title) or UNTITLED, outbox, target, own_folder=True)


def publish(placement: Placement, prepared: "PreparedBook", result: "ConversionResult") -> "ConversionResult":
    """Finish a converted book: cover and metadata.opf beside the audio, the folder renamed
    into place.  Returns the result with its files where they are now."""
    if not placement.staged:
        return result
    final = _publish_folder(placement, prepared)
    return dataclasses.replace(result, output=placement.moved(result.output, final),
                               outputs=tuple(placement.moved(path, final) for path in result.outputs))


def _publish_folder(placement: Placement, prepared: "PreparedBook") -> Path:
    try:
        write_cover(placement.folder, prepared.book.cover)
        atomic_write_bytes(placement.folder / OPF_NAME, opf_document(prepared))
        parent = placement.outbox.joinpath(*placement.target[:-1])
        parent.mkdir(parents=True, exist_ok=True)
        final = rename_free(placement.folder, parent, placement.target[-1])
    except OSError as error:
        raise OutputError(f"cannot put the audiobook into the library: "
                          f"{why_unwritable(placement.outbox, error)}") from None
    return final


def discard(placement: Placement) -> None:
    """A failed or cancelled job's staging folder goes: it is hidden, named by the job,
    and holds only what this job wrote."""
    if placement.staged:
        shutil.rmtree(placement.folder, ignore_errors=True)


def discard_leftovers(outbox: Path, job_id: str) -> None:
    """Any staging folder of this job, from before a restart: for a job that ends without
    running again (cancelled while queued, its source gone when the daemon came back)."""
    for folder in outbox.glob(f".*.partial-{job_id[:8]}"):
        if folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder, ignore_errors=True)


def rename_free(folder: Path, parent: Path, name: str) -> Path:
    """Rename ``folder`` to ``parent/name``, else 'name (2)', 'name (3)' …: the first one
    free (files.free_name).  The rename is the claim: a folder that appeared since the
    check (rename refuses a non-empty one) just moves us on to the next number."""

    def taken(candidate: Path) -> bool:
        if os.path.lexists(candidate):
            return True
        try:
            os.rename(folder, candidate)
        except OSError as error:
            if error.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR):
                return True
            raise
        return False

    final = free_name(parent / name, taken, suffix="", attempts=MAX_TAKEN)
    sync_folder(parent)
    return final


# --------------------------------------------------------------------------- cover and OPF

def cover_name(data: bytes) -> str | None:
    """cover.jpg or cover.png by what the bytes are (a manifest's media type can be wrong);
    Audiobookshelf takes either, so the image is kept as the publisher made it."""
    return next((name for magic, name in COVER_NAMES.items() if data.startswith(magic)), None)


def write_cover(folder: Path, cover: tuple[bytes, str] | None) -> Path | None:
    if cover is None:
        return None
    name = cover_name(cover[0])
    if name is None:
        log.info("%s: the cover is neither JPEG nor PNG; the library will show the one in the audio tags",
                 folder.name)
        return None
    atomic_write_bytes(folder / name, cover[0])
    return folder / name


def opf_document(prepared: "PreparedBook") -> bytes:
    """metadata.opf: an OPF 2.0 package of the book's Dublin Core, as calibre writes it.

    Audiobookshelf's parser (server/utils/parsers/parseOpfMetadata.js) reads roles from
    the literal ``opf:role`` attribute, ISBNs from ``opf:scheme="ISBN"``, and the series
    index only from the meta right after ``calibre:series``: so exactly this shape.
    """
    book, meta = prepared.book, prepared.book.metadata
    lines = [f"<dc:title>{_xml_text(prepared.title)}</dc:title>"]
    if meta.subtitle and not prepared.settings.title:
        lines.append(f"<dc:subtitle>{_xml_text(meta.subtitle)}</dc:subtitle>")  # Audiobookshelf reads it
    lines += [f'<dc:creator opf:role="aut">{_xml_text(name)}</dc:creator>' for name in book_authors(prepared)]
    # the same narrator as the audio's tags
    lines.append(f'<dc:creator opf:role="nrt">{_xml_text(narrator(prepared.settings.voice))}</dc:creator>')
    language = book.language or prepared.settings.lang
    if language:
        lines.append(f"<dc:language>{_xml_text(language)}</dc:language>")
    if meta.description:
        lines.append(f"<dc:description>{_xml_text(meta.description)}</dc:description>")
    lines += [f"<dc:subject>{_xml_text(subject)}</dc:subject>" for subject in meta.subjects]
    if meta.publisher:
        lines.append(f"<dc:publisher>{_xml_text(meta.publisher)}</dc:publisher>")
    if meta.date:
        lines.append(f"<dc:date>{_xml_text(meta.date)}</dc:date>")
    lines += _identifiers(prepared)
    if meta.series:
        lines.append(f"<meta name=\"calibre:series\" content={_attr(meta.series)}/>")
        if meta.series_index:
            lines.append(f"<meta name=\"calibre:series_index\" content={_attr(meta.series_index)}/>")
    body = "\n    ".join(lines)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<package xmlns="http://www.idpf.org/2007/opf" version="2.0" unique-identifier="book-id">\n'
        '  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:opf="http://www.idpf.org/2007/opf">\n'
        f"    {body}\n"
        "  </metadata>\n"
        "</package>\n"
    ).encode("utf-8")


def _identifiers(prepared: "PreparedBook") -> list[str]:
    """The book's identifiers, the ISBN with the scheme a library matches on; the first
    is the package's own id (the source file's digest when the book names none)."""
    meta = prepared.book.metadata
    found: list[tuple[str, str]] = []
    if meta.isbn:
        found.append(("ISBN", meta.isbn))
    for scheme, value in meta.identifiers:
        if not (meta.isbn and meta.isbn in re.sub(r"[^0-9X]", "", value.upper())):  # once is enough
            found.append((scheme.upper(), value))
    if not found:
        found.append(("SHA256", f"urn:sha256:{prepared.source_sha256}"))
    lines = []
    for number, (scheme, value) in enumerate(found):
        book_id = ' id="book-id"' if number == 0 else ""
        scheme_attr = f" opf:scheme={_attr(scheme)}" if scheme else ""
        lines.append(f"<dc:identifier{book_id}{scheme_attr}>{_xml_text(value)}</dc:identifier>")
    return lines


def _xml_text(value: str) -> str:
    """Text as XML character data: escaped, and without the characters XML 1.0 forbids."""
    return escape(_XML_ILLEGAL.sub("", value))


def _attr(value: str) -> str:
    return quoteattr(_XML_ILLEGAL.sub("", value))

