"""The EPUB's ZIP archive, opened and read safely: a regular file only, every member
within a size budget (ZIP bombs), names found however the archive spelled them, and
DRM told apart from font obfuscation.

Real books are messy, so this reads the ZIP itself rather than through ebooklib,
which raises on a manifest item missing from the archive; a damaged or encrypted
member is an ``InboxError`` that says so.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from urllib.parse import unquote

from daemon.errors import DrmProtected, NotABookFile, NotAnEpub, TryLater, UnsafeEpub
from daemon.files import NotARegularFile, open_regular, transient

from .markup import parse_xml

# A real book, images included, is rarely above 100 MB uncompressed.
MAX_TOTAL_UNCOMPRESSED = 1 << 30
MAX_MEMBER_UNCOMPRESSED = 256 << 20
MAX_RATIO = 200  # deflate of text reaches ~10:1; a bomb reaches 1000:1

FONT_OBFUSCATION = {
    "http://www.idpf.org/2008/embedding",
    "http://ns.adobe.com/pdf/enc#RC",
}


class EpubArchive:
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


def check_drm(archive: EpubArchive, warnings: list[str]) -> None:
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
