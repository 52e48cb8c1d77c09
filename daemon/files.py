"""Small file helpers shared by the model fetcher, the converter and the job store."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Readers see the old file or the new one, never a mix: temp file in the same
    folder, fsync, ``os.replace``, then fsync the folder so the rename survives a crash."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    try:
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError:
        pass  # some network filesystems cannot fsync a directory; the rename still happened


def free_name(path: Path, taken: Callable[[Path], bool] = Path.exists) -> Path:
    """``path``, or 'name (2).ext', 'name (3).ext', ...: the first one not ``taken``.

    Everything that names a file for a user (outputs, moved sources, uploads)
    goes through here, so nothing is ever overwritten and names look alike.
    """
    candidate, number = path, 2
    while taken(candidate):
        candidate = path.with_name(f"{path.stem} ({number}){path.suffix}")
        number += 1
    return candidate
