"""A book's cover where the daemon copies it: into the audio's tags, and into the one file
``GET /cover/{id}`` serves.

An EPUB's cover is whatever its maker put there: a 60 MB scan, or an image that claims
100,000 x 100,000 pixels.  Copied as it is, it multiplied: a book split into 300 chapter
files carried it 300 times (1.1 MB of EPUB became 326 MB), and every ``GET /cover`` read
the whole tag block again (eight at once for a 60 MB cover: 1.5 GB).  So:

- ``fitted`` is the one place an image is decoded, checked and scaled: a cover larger than
  a ``Cap`` is decoded by Pillow (its size read from the header first, and refused above
  ``MAX_PIXELS`` before a pixel is decoded) and re-encoded as a JPEG within the cap; one
  already within it is kept byte for byte (a PNG of line art would lose by becoming a
  JPEG).  Other formats (GIF, WebP, SVG) belong here too.
- ``CoverFiles`` keeps the cover of each finished book as a file of its own, extracted
  once from its first audio file's tags, so the API streams a small file per request.
"""

from __future__ import annotations

import io
import logging
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

from daemon.files import atomic_write_bytes

from .formats import MP3, format_of

log = logging.getLogger(__name__)

Cover = tuple[bytes, str]  # the image's bytes and its MIME type


@dataclass(frozen=True)
class Cap:
    side: int  # pixels on the longest side
    size: int  # bytes


# The largest artwork players show (Apple asks podcasts for 1400 px at least), and a size
# that keeps a file's tags small next to its audio.  A split book's first file carries the
# cover at BOOK (players that show one cover per folder take the first file's); the other
# chapter files a THUMBNAIL, for players that show each track's own artwork.
BOOK = Cap(1400, 300_000)
THUMBNAIL = Cap(500, 60_000)
MAX_PIXELS = 40_000_000  # a 5,000 x 8,000 scan; decoded as RGBA that is 160 MB already
QUALITIES = (88, 80, 70, 60, 50)  # JPEG qualities tried in turn until the image fits
KEPT_AS_IS = {"JPEG": "image/jpeg", "PNG": "image/png"}  # what ID3 and MP4 players all show


class CoverRefused(ValueError):
    """An image that cannot or must not be decoded."""


def fitted(cover: Cover | None, cap: Cap, label: str = "the book") -> Cover | None:
    """``cover`` within ``cap``: as it is when it fits, else scaled down and re-encoded as a
    JPEG; None (with one log line naming ``label``) when it cannot be decoded."""
    if cover is None:
        return None
    try:
        return _fit(cover[0], cap)
    except CoverRefused as refused:
        log.info("%s: the cover is left out: %s", label, refused)
        return None


def _fit(data: bytes, cap: Cap) -> Cover:
    from PIL import Image, ImageOps

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise CoverRefused(f"it claims {width} x {height} pixels, more than {MAX_PIXELS:,}")
            if image.format in KEPT_AS_IS and max(width, height) <= cap.side and len(data) <= cap.size:
                return data, KEPT_AS_IS[image.format]
            image.draft("RGB", (cap.side, cap.side))  # a JPEG is decoded at 1/2 .. 1/8 scale when that fits
            image = ImageOps.exif_transpose(image)
            image.thumbnail((cap.side, cap.side), Image.Resampling.LANCZOS)
            return _jpeg(_opaque(image), cap), "image/jpeg"
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as error:
        if isinstance(error, CoverRefused):
            raise
        raise CoverRefused(f"it is not an image Pillow can read ({error})") from None


def _opaque(image):  # noqa: ANN001, ANN202 - PIL images, imported lazily
    """RGB; a transparent background becomes white, as a page would show it."""
    from PIL import Image

    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGB", image.size, "white")
        background.paste(image, mask=image.getchannel("A"))
        return background
    return image.convert("RGB")


def _jpeg(image, cap: Cap) -> bytes:  # noqa: ANN001 - a PIL image
    """The image as a JPEG of at most ``cap.size`` bytes: lower qualities first, then smaller."""
    while True:
        for quality in QUALITIES:
            out = io.BytesIO()
            image.save(out, "JPEG", quality=quality, optimize=True)
            if out.tell() <= cap.size:
                return out.getvalue()
        if max(image.size) < 64:
            raise CoverRefused(f"it does not fit in {cap.size:,} bytes even at {image.size[0]} pixels")
        image = image.resize((max(1, image.width * 3 // 4), max(1, image.height * 3 // 4)))


def cover_of(path: Path) -> Cover | None:
    """The cover an MP3 (APIC) or M4B (covr) carries, with its MIME type.  This reads the
    whole tag block: ``CoverFiles`` does it once per book.  A damaged file has no cover;
    running out of memory is not 'no cover', so it is not caught here."""
    import mutagen
    from mutagen.id3 import ID3
    from mutagen.mp4 import MP4, MP4Cover

    try:
        if format_of(path) is MP3:
            pictures = ID3(path).getall("APIC")
            return (pictures[0].data, pictures[0].mime or "image/jpeg") if pictures else None
        found = (MP4(path).tags or {}).get("covr")
    except (mutagen.MutagenError, OSError):
        return None
    if not found:
        return None
    return bytes(found[0]), "image/png" if found[0].imageformat == MP4Cover.FORMAT_PNG else "image/jpeg"


class CoverFiles:
    """Each finished book's cover as a file: ``<folder>/<job id>.jpg`` (or ``.png``), taken
    once from its first audio file's tags and fitted to ``BOOK`` (a file made before covers
    were capped may carry any size).  A finished audio file never changes, so neither does
    its cover file; a book without a cover is remembered as such."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()  # one extraction at a time: memory holds one tag block
        self._without: set[str] = set()

    def get(self, job_id: str, audio: Path) -> Path | None:
        """The cover file of job ``job_id`` (an id checked by the caller), whose first audio
        file is ``audio``; None when the book has no cover."""
        found = self._existing(job_id)
        if found is not None or job_id in self._without:
            return found
        with self._lock:
            found = self._existing(job_id)  # made while this request waited
            if found is not None or job_id in self._without:
                return found
            cover = fitted(cover_of(audio), BOOK, f"job {job_id}")
            if cover is None:
                self._without.add(job_id)
                return None
            target = self.folder / f"{job_id}{'.png' if cover[1] == 'image/png' else '.jpg'}"
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(target, cover[0])
            return target

    def _existing(self, job_id: str) -> Path | None:
        for suffix in (".jpg", ".png"):
            path = self.folder / f"{job_id}{suffix}"
            if path.is_file():
                return path
        return None
