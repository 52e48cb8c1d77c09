"""The audiobook's tags: ID3v2.4 with ``CHAP``/``CTOC`` frames for MP3, iTunes atoms with
the cover for M4B, both written by mutagen."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mutagen.id3 import APIC, CHAP, CTOC, ID3, TALB, TCOM, TCON, TIT2, TLAN, TPE1, TRCK, CTOCFlags


def narrator(voice: str | None) -> str:
    """The narrator the tags name: the Kokoro voice (or blend) that read the book."""
    return f"Kokoro ({voice})" if voice else "Kokoro"


@dataclass(frozen=True)
class ChapterMark:
    title: str
    start_seconds: float
    end_seconds: float


@dataclass(frozen=True)
class BookTags:
    title: str
    author: str
    language: str
    chapters: tuple[ChapterMark, ...]
    cover: tuple[bytes, str] | None = None
    album: str = ""  # the book's title, when this file is one of its chapters
    narrator: str = ""
    track: tuple[int, int] | None = None  # (number, total) of a chapter file


def write_tags(path: Path, tags: BookTags) -> None:
    """An MP3's tags: ID3v2.4, the chapters as CHAP frames under one ordered CTOC."""
    id3 = ID3()
    id3.add(TIT2(encoding=3, text=tags.title))
    id3.add(TALB(encoding=3, text=tags.album or tags.title))
    if tags.author:
        id3.add(TPE1(encoding=3, text=tags.author))
    if tags.narrator:
        id3.add(TCOM(encoding=3, text=tags.narrator))  # where audiobook players look for the narrator
    if tags.track:
        id3.add(TRCK(encoding=3, text=f"{tags.track[0]}/{tags.track[1]}"))
    id3.add(TCON(encoding=3, text="Audiobook"))
    if tags.language:
        id3.add(TLAN(encoding=3, text=tags.language))
    if tags.cover:
        data, mime = tags.cover
        id3.add(APIC(encoding=3, mime=mime, type=3, desc="Cover", data=data))
    ids = [f"chp{n}" for n in range(1, len(tags.chapters) + 1)]
    if ids:
        id3.add(CTOC(element_id="toc", flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED,
                     child_element_ids=ids, sub_frames=[TIT2(encoding=3, text=tags.title)]))
    for element_id, mark in zip(ids, tags.chapters):
        id3.add(CHAP(element_id=element_id,
                     start_time=int(round(mark.start_seconds * 1000)),
                     end_time=int(round(mark.end_seconds * 1000)),
                     sub_frames=[TIT2(encoding=3, text=mark.title)]))
    id3.save(path, v2_version=4)


def write_mp4_tags(path: Path, tags: BookTags) -> None:
    """iTunes atoms; the narrator as composer (©wrt, what Audiobookshelf and most players
    read) and as Apple's own narrator atom (©nrt)."""
    from mutagen.mp4 import MP4, MP4Cover

    mp4 = MP4(path)
    if mp4.tags is None:
        mp4.add_tags()
    values: dict[str, list] = {"\xa9nam": [tags.title], "\xa9alb": [tags.album or tags.title],
                               "\xa9gen": ["Audiobook"], "stik": [2]}  # 2: audiobook
    if tags.author:
        values["\xa9ART"] = values["aART"] = [tags.author]
    if tags.narrator:
        values["\xa9wrt"] = values["\xa9nrt"] = [tags.narrator]
    if tags.track:
        values["trkn"] = [tags.track]
    if tags.cover:
        data, mime = tags.cover
        kind = MP4Cover.FORMAT_PNG if mime == "image/png" else MP4Cover.FORMAT_JPEG
        values["covr"] = [MP4Cover(data, imageformat=kind)]
    mp4.tags.update(values)
    mp4.save()
