"""File helpers every part of the service shares: whole-or-nothing writes, safe opening,
names that fit, digests.

Everything that must appear whole (status files, checkpoints, the audiobook, model
files, upload tickets) is written under a short hidden temporary name in its own
folder, synced, and renamed into place by ``commit``.  Everything read from the
inbox is opened through ``open_regular``, which refuses pipes, sockets, devices and
folders without blocking on them.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import logging
import os
import re
import secrets
import shutil
import signal
import stat
import unicodedata
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

log = logging.getLogger(__name__)

NAME_MAX = 255  # bytes in one file name, on every filesystem a NAS offers
# Errors a network share gives for a while and then stops giving (a stalled server, a
# reconnecting client, a stale handle): "try again later", never "this book is bad".
TRANSIENT_ERRNOS = frozenset(getattr(errno, name) for name in (
    "EIO", "EAGAIN", "EINTR", "EBUSY", "ETIMEDOUT", "ESTALE", "ENOTCONN", "ECONNRESET",
    "ECONNABORTED", "ECONNREFUSED", "EHOSTDOWN", "EHOSTUNREACH", "ENETDOWN", "ENETUNREACH",
    "ENETRESET", "ENOLCK", "EREMOTEIO", "ENOMEDIUM") if hasattr(errno, name))


class NotARegularFile(OSError):
    """An inbox entry that is not a plain file (FIFO, socket, device, folder)."""

    def __init__(self, path: Path, kind: str) -> None:
        super().__init__(errno.EINVAL, f"{path.name} is {kind}, not a book file")
        self.kind = kind


def file_kind(mode: int) -> str:
    """What a stat mode is, in words a person knows."""
    if stat.S_ISREG(mode):
        return "a file"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "a special file"


def transient(error: BaseException) -> bool:
    """An I/O error that a network share gives for a while (EIO, ETIMEDOUT, ESTALE, ...)."""
    return isinstance(error, OSError) and error.errno in TRANSIENT_ERRNOS


@dataclass(frozen=True)
class FileIdentity:
    """Which file a name held at one moment.  The same name may later hold another file (a
    new version copied over the old one, in place or by a rename), and only the file that
    was converted may ever be archived or deleted."""

    device: int
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def from_stat(cls, info: os.stat_result) -> "FileIdentity":
        return cls(info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)

    @classmethod
    def of(cls, path: Path) -> "FileIdentity | None":
        """The identity of what ``path`` names now (links followed); None when nothing is there."""
        try:
            return cls.from_stat(os.stat(path))
        except (FileNotFoundError, NotADirectoryError):
            return None

    def record(self) -> list[int]:
        return [self.device, self.inode, self.size, self.mtime_ns]

    @classmethod
    def from_record(cls, value: Any) -> "FileIdentity | None":
        """From a status file (data, not trusted): None unless four whole numbers."""
        if isinstance(value, list) and len(value) == 4 and \
                all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return cls(*value)
        return None


def present(path: Path) -> bool:
    """Whether something is at ``path`` (a link counts).  A share's I/O error is raised, not
    taken for "nothing there" as ``os.path.lexists`` takes it."""
    try:
        os.lstat(path)
        return True
    except (FileNotFoundError, NotADirectoryError):
        return False


def open_for_writing(path: Path) -> bool | None:
    """Whether some process has ``path`` open for writing (a copy still in progress), where
    the system can tell: True, False, or None when it cannot.

    Linux grants a read lease only while nobody has the file open for writing; Samba's
    smbd holds a file open for as long as the client writing it does, so on the machine
    that serves the share this sees a paused copy.  The lease is dropped at once.  It
    needs the file's owner (Samba's ``force user``) or CAP_LEASE, and a local filesystem;
    elsewhere (NFS, a FUSE or cifs mount) the answer is None and time decides alone.
    A writer opening the file in the instant the lease is held makes Linux send SIGIO,
    whose default action ends the process; so no lease is taken (None) unless this
    process ignores SIGIO (``ignore_lease_breaks``, as the daemon does at start-up).
    """
    if not hasattr(fcntl, "F_SETLEASE") or signal.getsignal(signal.SIGIO) is not signal.SIG_IGN:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK)
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
        return False
    except OSError as error:
        return True if error.errno in (errno.EAGAIN, errno.EBUSY) else None
    finally:
        os.close(fd)


def ignore_lease_breaks() -> None:
    """Call from the main thread before ``open_for_writing`` is used (see there)."""
    signal.signal(signal.SIGIO, signal.SIG_IGN)


def open_regular(path: Path) -> BinaryIO:
    """Open ``path`` for reading only if it is a regular file (links are followed).

    O_NONBLOCK keeps the open itself from waiting on a FIFO's writer; the fstat
    that follows looks at what was really opened, so a file swapped for a pipe
    between a check and the open is still refused.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotARegularFile(path, file_kind(mode))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: Path, limit: int) -> bytes:
    """The whole of a small regular file, refused when it is larger than ``limit`` bytes."""
    with open_regular(path) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"larger than {limit} bytes")
    return data


def sha256_of(path: Path) -> str:
    """SHA-256 of a regular file, reading no more than the size it had when opened."""
    digest = hashlib.sha256()
    with open_regular(path) as handle:
        remaining = os.fstat(handle.fileno()).st_size
        while remaining > 0:
            block = handle.read(min(1 << 20, remaining))
            if not block:
                break
            digest.update(block)
            remaining -= len(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------- whole or nothing

def temp_path(path: Path) -> Path:
    """A hidden temporary name beside ``path``: short whatever the final name's length,
    and random, so two writers never share one."""
    return path.with_name(f".tmp-{secrets.token_hex(6)}{path.suffix[:16]}")


def commit(tmp: Path, path: Path) -> None:
    """Sync ``tmp``, rename it over ``path``, then sync the folder so the rename survives a crash."""
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """Make a rename into ``folder`` survive a crash (where the filesystem can)."""
    try:
        directory = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError:
        pass  # some network filesystems cannot fsync a folder; the rename still happened


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """Write the yielded temporary path; on success it becomes ``path``, on error it goes."""
    tmp = temp_path(path)
    try:
        yield tmp
        commit(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Readers see the old file or the new one, never a mix."""
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)


def atomic_copy(source: Path, path: Path) -> None:
    with atomic_output(path) as tmp:
        shutil.copyfile(source, tmp)


class SourceLeft(OSError):
    """A move across filesystems copied the file into place but could not remove the source."""


def move_file(source: Path, target: Path) -> None:
    """Move a regular file (or a link) to ``target``, which must not exist.

    A rename where it can be one.  Across filesystems (a share mounted beside local
    folders), the bytes are copied under a temporary name, synced and renamed into
    place, then the source is removed: a copy is never half there.  Metadata (times,
    permissions, extended attributes) is copied where the target allows; SMB and FUSE
    mounts often refuse extended attributes, which is no reason to leave the book
    behind.  Raises ``SourceLeft`` when the copy is in place but the source could not be
    removed (the caller removes it later), OSError when nothing was moved.
    """
    try:
        os.rename(source, target)
        return
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
    if os.path.islink(source):
        os.symlink(os.readlink(source), target)
    else:
        with atomic_output(target) as tmp:
            shutil.copyfile(source, tmp)
            try:
                shutil.copystat(source, tmp)
            except OSError as error:
                log.debug("%s: metadata not copied (%s)", target, error.strerror or error)
    try:
        os.unlink(source)
    except FileNotFoundError:
        pass
    except OSError as error:
        raise SourceLeft(error.errno, f"copied to {target}, but the source stays: "
                                      f"{error.strerror or error}", str(source)) from None


# --------------------------------------------------------------------------- names

def fit_name(stem: str, suffix: str, reserve: int = 0) -> str:
    """``stem + suffix`` cut (at a character boundary) to fit NAME_MAX bytes, leaving
    ``reserve`` bytes for a ' (2)' that free_name may add.  Names are measured as the
    bytes they are on disk, so a name that is not UTF-8 (read from the inbox) fits too."""
    budget = NAME_MAX - reserve - len(os.fsencode(suffix))
    if len(os.fsencode(stem)) > budget:
        kept, used = [], 0
        for char in stem:
            used += len(os.fsencode(char))
            if used > budget:
                break
            kept.append(char)
        stem = "".join(kept).rstrip()
    return stem + suffix


def free_name(path: Path, taken: Callable[[Path], bool] = os.path.lexists,
              suffix: str | None = None, attempts: int | None = None) -> Path:
    """``path``, or 'name (2).ext', 'name (3).ext', ...: the first one not ``taken``.

    Everything that names a file or folder for a user (outputs, moved sources, uploads,
    library folders) goes through here, so nothing is ever overwritten, names look
    alike, and every name fits the filesystem.  Callers that race with other writers
    claim the name inside ``taken`` (O_EXCL, a link, a rename) and answer False once
    they have it.  ``suffix``: what stays after the number (a folder's is '', where
    'Dr. Jekyll' would else read as having one); ``attempts``: how many numbers to try
    before giving up with EEXIST.
    """
    if suffix is None:
        suffix = path.suffix
    stem = path.name[: len(path.name) - len(suffix)] if suffix else path.name
    candidate, number = path.with_name(fit_name(stem, suffix)), 2
    while taken(candidate):
        if attempts is not None and number > attempts:
            raise OSError(errno.EEXIST, f"{attempts} names like {path.name!r} are taken")
        candidate = path.with_name(fit_name(stem, f" ({number}){suffix}"))
        number += 1
    return candidate


_SURROGATES = re.compile("[\ud800-\udfff]")


def shown_name(name: str) -> str:
    """A name as people (and JSON) can read it: bytes that are not UTF-8 (a file named on an
    old SMB client, NFS or rsync: 'Caf\\xe9.epub') become U+FFFD, as file managers show them."""
    return _SURROGATES.sub("\ufffd", name)


def name_bytes(name: str) -> str | None:
    """A name that is not UTF-8, as ASCII that gives its bytes back (``name_from_bytes``):
    status files keep it, so the daemon addresses the very file; None for a UTF-8 name."""
    if not _SURROGATES.search(name):
        return None
    return urllib.parse.quote(os.fsencode(name), safe="/ !$&'()*+,;=:@-._~")


def name_from_bytes(escaped: str) -> str:
    return os.fsdecode(urllib.parse.unquote_to_bytes(escaped))


# Characters that change how a name reads without being seen: C0 and C1 controls (a
# terminal obeys ESC sequences; a newline fakes a log line), the line and paragraph
# separators, and the bidirectional marks, embeddings, overrides and isolates (U+202E
# shows "photo\u202egpj.exe" as "photoexe.jpg").
_HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def without_hidden(name: str) -> str:
    """A name the daemon writes, with the characters that hide what it says taken out."""
    return _HIDDEN.sub("", name)


# Audiobookshelf's sanitizeFilename (server/utils/fileUtils.js), rule for rule: characters
# Windows and SMB refuse are removed, the first colon becomes ' - ' ("Dune: Messiah" ->
# "Dune - Messiah"), names that are only dots, Windows device names, trailing dots and
# spaces go.  Ours on top: no hidden characters (without_hidden), no leading dot.
_ILLEGAL = re.compile(r'[/?<>\\:*|"]')
_DEVICE = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)
_TRAILING = re.compile(r"[. ]+$")


def sanitize_filename(name: str) -> str:
    """A file or folder name the daemon makes from a book's words (library folders, chapter
    files), as Audiobookshelf writes it: safe on any filesystem a NAS shares, never hidden
    (the scanner skips a name that starts with '.'), at most NAME_MAX bytes; '' when
    nothing is left."""
    name = " ".join(unicodedata.normalize("NFC", name).split())  # tabs and line breaks are spaces here
    name = without_hidden(_ILLEGAL.sub("", name.replace(":", " - ", 1)))
    name = " ".join(name.split())
    if _DEVICE.match(name):
        name = ""
    name = _TRAILING.sub("", name.lstrip(". "))
    return _TRAILING.sub("", fit_name(name, ""))


def visible(text: str, keep: str = "") -> str:
    """``text`` for a terminal or a log line: each hidden character but those in ``keep``
    written out as ``\\uXXXX`` (also a valid JSON escape of the same character)."""
    return _HIDDEN.sub(lambda found: found[0] if found[0] in keep else f"\\u{ord(found[0]):04x}", text)


def inside(root: Path, relative: str) -> Path:
    """``root / relative`` for a relative path read from a file, refused when it is
    absolute, climbs out with '..', or is empty: names read back are data, not orders."""
    parts = Path(relative).parts if relative else ()
    if not parts or Path(relative).is_absolute() or any(p in ("..", ".", "") for p in parts) \
            or "\x00" in relative:
        raise ValueError(f"{relative!r} is not a plain relative name")
    return root.joinpath(*parts)


def why_unwritable(folder: Path, error: BaseException) -> str:
    """Why writing into ``folder`` failed, as a person can act on it.

    libsndfile reports every failure as "System error.", so look at the folder
    itself: gone, read-only, or full; else say what the error said.
    """
    if not folder.is_dir():
        return f"the folder {folder} is missing"
    if not os.access(folder, os.W_OK):
        return f"the folder {folder} is not writable (read-only or no permission)"
    try:
        if shutil.disk_usage(folder).free < (4 << 20):
            return f"the disk holding {folder} is full"
    except OSError:
        pass
    reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return f"writing into {folder} failed: {reason}"
