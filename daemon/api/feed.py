"""The outbox as a podcast: ``GET /feed.xml`` and the chapters and covers its items point at.

RSS 2.0 with the iTunes and Podcasting 2.0 tags podcast apps read: one item per finished
book (newest first; a book split into chapter files one item per file), its enclosure the download URL with the file's length and type,
``podcast:chapters`` a JSON chapters file (Podcasting 2.0, version 1.2.0) built from the
status file's chapter times, and the cover the audio file itself carries (ID3 APIC in an
MP3, ``covr`` in an M4B), taken out of it once into a file of its own (covers.CoverFiles).

The list of books comes from the API's job index (the daemon's journal); what only the
file knows (its size, whether it has a cover) is read once per book and kept, so a feed
request opens no file for a book it has seen before.
"""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path, PurePosixPath
from typing import Any, Iterable
from urllib.parse import quote

from daemon.audio.covers import CoverFiles
from daemon.audio.formats import mime_type
from daemon.console import clock
from daemon.files import inside
from daemon.status import audio_files

ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST = "https://podcastindex.org/namespace/1.0"
ATOM = "http://www.w3.org/2005/Atom"
FEED_ITEMS = 300  # the newest books; a podcast app has no use for ten thousand items at once
CHAPTERS_TYPE = "application/json+chapters"

for prefix, uri in (("itunes", ITUNES), ("podcast", PODCAST), ("atom", ATOM)):
    ET.register_namespace(prefix, uri)


@dataclass(frozen=True)
class FileFacts:
    """What the feed needs from a finished book's audio file itself."""

    size: int
    has_cover: bool


class FileFactsCache:
    """Sizes and cover of each book's audio, read once: a finished file does not change
    (a book converted again is another job, with its own id)."""

    def __init__(self, outbox: Path, covers: CoverFiles) -> None:
        self.outbox = outbox
        self.covers = covers
        self._facts: dict[str, list[FileFacts]] = {}
        self._lock = threading.Lock()

    def get(self, job_id: str, files: list[str]) -> list[FileFacts] | None:
        """The facts of each of a finished book's files, in order; None while one is missing."""
        with self._lock:
            if job_id in self._facts:
                return self._facts[job_id]
        facts = self._read(job_id, files)
        with self._lock:
            if facts is not None:  # a file not there yet (or gone) is looked for again next time
                self._facts[job_id] = facts
        return facts

    def _read(self, job_id: str, files: list[str]) -> list[FileFacts] | None:
        try:
            paths = [inside(self.outbox, name) for name in files]
            sizes = [path.stat().st_size for path in paths]
        except (OSError, ValueError):
            return None
        has_cover = bool(paths) and self.covers.get(job_id, paths[0]) is not None
        return [FileFacts(size, has_cover) for size in sizes]


def chapters_json(record: dict[str, Any]) -> dict[str, Any]:
    """Podcasting 2.0 JSON chapters from the status file's chapter list."""
    chapters = [{"startTime": round(float(c.get("start_seconds") or 0.0), 3), "title": str(c.get("title") or "")}
                for c in record.get("chapters") or [] if c.get("start_seconds") is not None]
    return {"version": "1.2.0", "title": record.get("title") or "", "author": record.get("author") or "",
            "chapters": chapters}


@dataclass(frozen=True)
class FeedLinks:
    """Absolute URLs of the API, with the access token when one is configured."""

    base: str  # scheme://host[:port][/prefix], no trailing slash
    token: str | None

    def url(self, path: str) -> str:
        joiner = "&" if "?" in path else "?"
        query = f"{joiner}access_token={quote(self.token, safe='')}" if self.token else ""
        return f"{self.base}{path}{query}"


def _rfc2822(stamp: str | None) -> str | None:
    if not stamp:
        return None
    try:
        return format_datetime(datetime.fromisoformat(stamp.replace("Z", "+00:00")))
    except ValueError:
        return None


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    node = ET.SubElement(parent, tag, attributes)
    if text is not None:
        node.text = text
    return node


def build_feed(books: Iterable[tuple[dict[str, Any], list[FileFacts]]], links: FeedLinks) -> bytes:
    """The RSS document for finished books (summary, facts of each of its files), in the
    order given."""
    rss = ET.Element("rss", {"version": "2.0"})
    channel = _sub(rss, "channel")
    _sub(channel, "title", "Kokoro Inbox")
    _sub(channel, "link", links.base + "/")
    description = "Audiobooks read by Kokoro-82M, newest first."
    _sub(channel, "description", description)
    _sub(channel, f"{{{ITUNES}}}summary", description)
    _sub(channel, "language", "en")
    _sub(channel, f"{{{ITUNES}}}author", "Kokoro Inbox")
    _sub(channel, f"{{{ITUNES}}}explicit", "false")
    _sub(channel, f"{{{ITUNES}}}type", "episodic")
    arts = ET.SubElement(channel, f"{{{ITUNES}}}category", {"text": "Arts"})
    ET.SubElement(arts, f"{{{ITUNES}}}category", {"text": "Books"})
    _sub(channel, f"{{{ATOM}}}link", None, href=links.url("/feed.xml"), rel="self", type="application/rss+xml")
    books = list(books)
    covered = next((s for s, f in books if f[0].has_cover), None)
    if covered is not None:  # the newest cover stands for the whole shelf
        image = _sub(channel, "image")
        _sub(image, "url", links.url(f"/cover/{covered['job_id']}"))
        _sub(image, "title", "Kokoro Inbox")
        _sub(image, "link", links.base + "/")
        _sub(channel, f"{{{ITUNES}}}image", None, href=links.url(f"/cover/{covered['job_id']}"))
    for summary, facts in books:
        files = audio_files(summary)
        if len(files) > 1:
            # A book split into chapter files is a run of episodes, one per file, so that a
            # podcast app plays the whole book and not only its first chapter.
            for number in range(len(files), 0, -1):  # newest first: the last chapter on top
                _item(channel, summary, facts[number - 1], links, part=(number, files[number - 1]))
        else:
            _item(channel, summary, facts[0], links)
    return ET.tostring(rss, encoding="utf-8", xml_declaration=True)


def _item(channel: ET.Element, summary: dict[str, Any], facts: FileFacts, links: FeedLinks,
          part: tuple[int, str] | None = None) -> None:
    """One episode: the whole book, or ``part`` (its number and file) of a split one."""
    job_id = summary["job_id"]
    book_title = summary.get("title") or summary.get("source") or job_id
    title = f"{book_title} — {PurePosixPath(part[1]).stem}" if part else book_title
    author = summary.get("author") or ""
    seconds = float(summary.get("audio_seconds") or 0)
    voice = (summary.get("settings") or {}).get("voice", "")
    item = _sub(channel, "item")
    _sub(item, "title", title)
    _sub(item, f"{{{ITUNES}}}title", title)
    if author:
        _sub(item, f"{{{ITUNES}}}author", author)
    about = f"{book_title}{' by ' + author if author else ''}, read by Kokoro ({voice or 'default voice'})."
    _sub(item, "description", about)
    _sub(item, f"{{{ITUNES}}}summary", about)
    _sub(item, "guid", f"{job_id}/{part[0]}" if part else job_id, isPermaLink="false")
    published = _rfc2822(summary.get("finished_at") or summary.get("created_at"))
    if published:
        _sub(item, "pubDate", published)
    download = f"/download/{job_id}?part={part[0]}" if part else f"/download/{job_id}"
    _sub(item, "enclosure", None, url=links.url(download), length=str(facts.size),
         type=mime_type(part[1] if part else summary["output_file"]))
    _sub(item, f"{{{ITUNES}}}episodeType", "full")
    if part:
        _sub(item, f"{{{ITUNES}}}episode", str(part[0]))  # a chapter file's length is its own
    else:
        _sub(item, f"{{{ITUNES}}}duration", clock(seconds))
        _sub(item, f"{{{PODCAST}}}chapters", None, url=links.url(f"/chapters/{job_id}"), type=CHAPTERS_TYPE)
    if facts.has_cover:
        _sub(item, f"{{{ITUNES}}}image", None, href=links.url(f"/cover/{job_id}"))
