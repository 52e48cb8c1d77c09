"""Disk space: what a book will need, and whether the disks have it.

A conversion writes two things that grow with the book: its checkpoints in
``processing/`` (FLAC, kept until the audiobook is finished) and the audiobook
in the outbox (written under a temporary name; a second loudness pass writes it
once more before the first copy goes).  A book that runs out of space half-way
has cost hours for nothing, so a book starts only when both fit, with a margin;
otherwise it waits, its status says why, and it starts when space is freed.

The figures are measured on Kokoro's speech: 16 characters a second at speed
1.0, and 28 kB of FLAC a second of 24 kHz speech (3.2 MB for 115 s).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

CHARS_PER_SECOND = 16.0  # of speech at speed 1.0
FLAC_BYTES_PER_SECOND = 28_000
MARGIN = 1.25  # estimates are estimates
RESERVE = 256 << 20  # bytes left free for everything else on the disk


@dataclass(frozen=True)
class Need:
    checkpoints: int  # bytes in processing/
    audiobook: int  # bytes in the outbox


def estimate(chars: int, speed: float, bitrate_kbps: int) -> Need:
    """What ``chars`` characters of a book will take on disk at ``speed`` and ``bitrate``."""
    seconds = chars / (CHARS_PER_SECOND * max(speed, 0.1))
    audiobook = seconds * bitrate_kbps * 1000 / 8 * 2  # the temporary copy and the final one
    return Need(int(seconds * FLAC_BYTES_PER_SECOND * MARGIN), int(audiobook * MARGIN))


def free_bytes(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def free_space(outbox: Path, processing: Path) -> dict[str, int | None]:
    """Free bytes where audiobooks and checkpoints are written, for /health, /metrics and the page."""
    return {"outbox": free_bytes(outbox), "processing": free_bytes(processing)}


def shortfall(needs: list[Need], processing: Path, outbox: Path) -> str | None:
    """None when the disks hold every need in ``needs`` (the book about to start and what the
    running ones still need), else a sentence saying how much is missing where."""
    wanted = [(processing, sum(n.checkpoints for n in needs)), (outbox, sum(n.audiobook for n in needs))]
    by_disk: dict[int, list[tuple[Path, int]]] = {}
    for folder, count in wanted:
        try:
            by_disk.setdefault(os.stat(folder).st_dev, []).append((folder, count))
        except OSError:
            return None  # a folder that is not there is for the conversion itself to report
    for entries in by_disk.values():
        folders = list(dict.fromkeys(folder for folder, _ in entries))
        need = sum(count for _, count in entries) + RESERVE
        free = free_bytes(folders[0])
        if free is not None and free < need:
            where = " and ".join(str(f) for f in folders)
            return (f"waiting for disk space: the book needs about {_size(need)} free on the disk "
                    f"holding {where}, which has {_size(free)} free")
    return None


def _size(count: int) -> str:
    if count >= 1 << 30:
        return f"{count / (1 << 30):.1f} GB"
    return f"{count / (1 << 20):.0f} MB"
