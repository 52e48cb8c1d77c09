"""The book's author is read once, by one rule, and every place that names it agrees.

EPUB 3 gives a creator's role in ``<meta refines="#id" property="role">``, EPUB 2 in an
``opf:role`` attribute; a creator with no role at all is the author, one with another role
(an illustrator, an editor) is not, and an empty ``<dc:creator/>`` is no one.  The tags,
the status record, the feed and the library folder once chose by two rules, so a book
like the one below was tagged by '' but filed under "Real Author".
"""

from __future__ import annotations

import time

import feedparser
import pytest
import requests
from mutagen.id3 import ID3

from daemon.book.epub import read_book

from .daemon_helpers import free_port
from .epubs import simple_book

TEXT = ["The fog lifted at last over the river.", "Then the lamps went out one by one."]
TOKEN = "author-token"

# An empty creator first (as simple_book writes it for author=""), then an illustrator and
# the author, each with its role refined the EPUB 3 way.
REFINED_ROLES = """
    <dc:creator id="ill">Ivy Illustrator</dc:creator>
    <meta refines="#ill" property="role" scheme="marc:relators">ill</meta>
    <dc:creator id="aut">Real Author</dc:creator>
    <meta refines="#aut" property="role" scheme="marc:relators">aut</meta>
"""


def _refined_book(path):
    return simple_book(path, [("Fog", TEXT)], title="Fog", author="", extra_metadata=REFINED_ROLES)


def test_a_role_from_meta_refines_names_the_author_and_an_empty_creator_never_does(tmp_path):
    book = read_book(_refined_book(tmp_path / "fog.epub"))
    assert book.author == "Real Author"
    assert book.metadata.authors == ("Real Author",)


def test_an_empty_creator_is_skipped_and_an_empty_role_is_no_role(tmp_path):
    creators = ('<dc:creator opf:role="">Ann Author</dc:creator>'
                '<dc:creator opf:role="edt">Ed Editor</dc:creator>')
    book = read_book(simple_book(tmp_path / "b.epub", [("One", TEXT)], author="", extra_metadata=creators))
    assert book.author == "Ann Author"
    only_empty = read_book(simple_book(tmp_path / "e.epub", [("One", TEXT)], author=""))
    assert only_empty.author == "" and only_empty.metadata.authors == ()


def test_several_authors_are_named_alike_in_the_tags_and_the_folder(tmp_path):
    creators = '<dc:creator opf:role="aut">Bo Writer</dc:creator>'
    book = read_book(simple_book(tmp_path / "b.epub", [("One", TEXT)], extra_metadata=creators))
    assert book.metadata.authors == ("Ann Author", "Bo Writer")
    assert book.author == "Ann Author & Bo Writer"  # what library_folders names the folder


@pytest.mark.processes
def test_tags_status_feed_and_library_folder_name_the_same_author(daemon):
    running = daemon(output__layout="audiobookshelf", api__enabled=True, api__port=free_port(),
                     api__token=TOKEN).start()
    _refined_book(running.inbox / "fog.epub")
    [status] = running.wait_finished(1)
    assert status["status"] == "completed", status["error"]

    assert status["author"] == "Real Author"
    assert status["output_file"].split("/")[0] == "Real Author"
    assert ID3(running.outbox / status["output_file"])["TPE1"].text == ["Real Author"]
    feed = feedparser.parse(_feed(running.url))
    assert [entry.author for entry in feed.entries] == ["Real Author"]
    assert running.stop() == 0


def _feed(url: str) -> bytes:
    """The feed once it lists the finished book (the API reads the outbox as it changes)."""
    deadline = time.monotonic() + 10
    while True:
        body = requests.get(f"{url}/feed.xml", params={"access_token": TOKEN}, timeout=10).content
        if b"<item>" in body or time.monotonic() > deadline:
            return body
        time.sleep(0.2)
