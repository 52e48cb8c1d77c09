"""The podcast feed: parsed as a podcast app would (feedparser), its enclosures, chapters and
covers fetched through the URLs it names, with the token they carry."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import feedparser
import pytest
import requests

from daemon.api.feed import FeedLinks, FileFacts, build_feed, chapters_json
from daemon.config import feed_token

from .daemon_helpers import free_port
from .epubs import simple_book, tiny_png

TEXT = ["The fog lifted at last over the river.", "Then the lamps went out one by one."]
TOKEN = "s3cret/+token"
FEED_TOKEN = feed_token(TOKEN, None)  # what the feed's links carry: read-only, derived from TOKEN


@pytest.mark.processes
def test_the_feed_lists_finished_books_and_everything_it_names_can_be_fetched(tmp_path, daemon):
    running = daemon(api__enabled=True, api__port=free_port(), api__token=TOKEN).start()
    simple_book(running.inbox / "first.epub", [("Fog", TEXT), ("Lamps", TEXT[::-1])], title="First Light",
                author="Ann Author", cover_png=tiny_png())
    running.wait_finished(1)
    time.sleep(1.1)  # finished_at has whole seconds: the second book is the newer one
    simple_book(running.inbox / "second.epub", [("Only", TEXT)], title="Second Sight", author="Bo Writer")
    (running.inbox / "broken.epub").write_bytes(b"not a book")
    jobs = {s["source"]: s for s in running.wait_finished(3)}
    url = running.url

    assert requests.get(f"{url}/feed.xml").status_code == 401
    response = requests.get(f"{url}/feed.xml", params={"access_token": TOKEN})
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/rss+xml")
    assert requests.get(f"{url}/feed.xml", headers={"Authorization": f"Bearer {TOKEN}",
                                                    "If-None-Match": response.headers["ETag"]}).status_code == 304
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.bozo_exception
    assert parsed.version == "rss20" and parsed.feed.title == "Kokoro Inbox"
    assert [e.title for e in parsed.entries] == ["Second Sight", "First Light"]  # newest first; no failed job
    first = parsed.entries[1]
    assert first.id == jobs["first.epub"]["job_id"] and first.author == "Ann Author"
    assert first.itunes_duration.count(":") == 2 and first.published_parsed is not None

    for entry in parsed.entries:
        [enclosure] = entry.enclosures
        assert enclosure.type == "audio/mpeg" and enclosure.href.startswith(url + "/download/")
        assert parse_qs(urlsplit(enclosure.href).query)["access_token"] == [FEED_TOKEN]
        audio = requests.get(enclosure.href)  # the app's request: the token in the URL, no header
        assert audio.status_code == 200 and len(audio.content) == int(enclosure.length) > 1000

    root = parsed.feed  # channel image: the newest book with a cover
    assert root.image.href.startswith(f"{url}/cover/{jobs['first.epub']['job_id']}?access_token=")
    assert requests.get(first.image.href).content == tiny_png()
    assert "image" not in parsed.entries[0]  # no cover in that EPUB, so none is promised

    chapters_url = first.podcast_chapters["url"]
    assert first.podcast_chapters["type"] == "application/json+chapters"
    chapters = requests.get(chapters_url)
    assert chapters.headers["Content-Type"].startswith("application/json+chapters")
    body = chapters.json()
    assert body["version"] == "1.2.0" and [c["title"] for c in body["chapters"]] == ["Fog", "Lamps"]
    assert body["chapters"][0]["startTime"] == 0 and body["chapters"][1]["startTime"] > 0
    assert requests.get(chapters_url.partition("?")[0]).status_code == 401
    assert running.stop() == 0


def test_links_use_the_public_url_and_m4b_is_audio_mp4():
    summary = {"job_id": "6f1c2a1e-0000-4000-8000-000000000000", "title": "A & B <c>", "author": "Ann",
               "output_file": "Ann/A & B/A & B.m4b", "audio_seconds": 3723.4, "finished_at": "2026-11-28T11:00:00Z",
               "settings": {"voice": "bf_emma"}}
    body = build_feed([(summary, [FileFacts(1234, False)])], FeedLinks("https://books.example.org/kokoro", None))
    parsed = feedparser.parse(body)
    assert not parsed.bozo
    [entry] = parsed.entries
    assert entry.title == "A & B <c>" and entry.itunes_duration == "1:02:03"
    assert entry.enclosures[0].type == "audio/mp4" and entry.enclosures[0].length == "1234"
    assert entry.enclosures[0].href == f"https://books.example.org/kokoro/download/{summary['job_id']}"
    assert chapters_json({"chapters": [{"title": "One", "start_seconds": 0.0}]})["chapters"] == \
        [{"startTime": 0.0, "title": "One"}]
    split = {**summary, "settings": {"split": "chapter"}, "output_file": "Ann/A & B/01 - One.mp3",
             "output_files": ["Ann/A & B/01 - One.mp3", "Ann/A & B/02 - Two.m4b"]}
    facts = [FileFacts(99, False), FileFacts(98, False)]
    two, one = feedparser.parse(build_feed([(split, facts)], FeedLinks("http://h", "t"))).entries
    assert (one.title, one.itunes_episode, one.enclosures[0].length) == ("A & B <c> — 01 - One", "1", "99")
    assert two.enclosures[0].href == f"http://h/download/{summary['job_id']}?part=2&access_token=t"
    assert two.enclosures[0].type == "audio/mp4"
    assert "podcast_chapters" not in one and "itunes_duration" not in one  # the book's times fit no one file


@pytest.mark.processes
def test_a_book_split_into_chapter_files_is_one_episode_per_file(tmp_path, daemon):
    running = daemon(api__enabled=True, api__port=free_port(), api__token=TOKEN, output__split="chapter").start()
    simple_book(running.inbox / "split.epub", [("Fog", TEXT), ("Lamps", TEXT[::-1]), ("Dawn", TEXT)],
                title="Split Book", author="Ann Author")
    [job] = running.wait_finished(1)
    assert job["status"] == "completed" and len(job["output_files"]) == 3
    parsed = feedparser.parse(requests.get(f"{running.url}/feed.xml", params={"access_token": TOKEN}).content)
    assert not parsed.bozo, parsed.bozo_exception
    assert [e.title for e in parsed.entries] == ["Split Book — 03 - Dawn", "Split Book — 02 - Lamps",
                                                 "Split Book — 01 - Fog"]
    assert [e.id for e in parsed.entries] == [f"{job['job_id']}/{n}" for n in (3, 2, 1)]
    for entry, name in zip(parsed.entries, reversed(job["output_files"])):
        [enclosure] = entry.enclosures
        query = parse_qs(urlsplit(enclosure.href).query)
        assert query["access_token"] == [FEED_TOKEN] and query["part"] == [entry.id.rsplit("/", 1)[1]]
        audio = requests.get(enclosure.href)
        assert audio.status_code == 200 and audio.content == (running.outbox / name).read_bytes()
        assert len(audio.content) == int(enclosure.length)
    download = f"{running.url}/download/{job['job_id']}"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert requests.get(download, headers=headers).content == (running.outbox / job["output_file"]).read_bytes()
    missing = requests.get(download, params={"part": 4}, headers=headers)
    assert missing.status_code == 404 and "has 3 files, not a part 4" in missing.json()["detail"]["msg"]
    assert requests.get(download, params={"part": "x"}, headers=headers).status_code == 400
    assert running.stop() == 0
