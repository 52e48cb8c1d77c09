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
import hashlib
import os
import secrets
import shutil
import stat
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

NAME_MAX = 255  # bytes in one file name, on every filesystem a NAS offers


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


# --------------------------------------------------------------------------- names

def fit_name(stem: str, suffix: str, reserve: int = 0) -> str:
    """``stem + suffix`` cut (at a character boundary) to fit NAME_MAX bytes, leaving
    ``reserve`` bytes for a ' (2)' that free_name may add."""
    budget = NAME_MAX - reserve - len(suffix.encode("utf-8"))
    encoded = stem.encode("utf-8")
    if len(encoded) > budget:
        stem = encoded[:budget].decode("utf-8", errors="ignore").rstrip()
    return stem + suffix


def free_name(path: Path, taken: Callable[[Path], bool] = os.path.lexists) -> Path:
    """``path``, or 'name (2).ext', 'name (3).ext', ...: the first one not ``taken``.

    Everything that names a file for a user (outputs, moved sources, uploads)
    goes through here, so nothing is ever overwritten, names look alike, and
    every name fits the filesystem.  Callers that race with other writers still
    claim the name they get atomically (O_EXCL or a link).
    """
    suffix = path.suffix
    stem = path.name[: len(path.name) - len(suffix)] if suffix else path.name
    first = path.with_name(fit_name(stem, suffix))
    candidate, number = first, 2
    while taken(candidate):
        marker = f" ({number})"
        candidate = path.with_name(fit_name(stem, marker + suffix))
        number += 1
    return candidate


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
