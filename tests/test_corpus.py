"""Every real book in the shared corpus reads sensibly.

The table of contents is parsed here independently (ElementTree, no shared
code) so chapter counts and titles are checked against the book itself.
"""

from __future__ import annotations

import posixpath
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from urllib.parse import unquote

import pytest

from daemon.book.epub import read_book
from daemon.errors import NotAnEpub
from daemon.speech.spoken import plan_segments

from .corpus import CORPUS, corpus_books

BOOKS = corpus_books()  # a missing corpus fails here, where an empty list would skip every book


def toc_titles(path: Path) -> list[str]:
    """Labels of TOC entries that point somewhere, deduplicated by target, in order."""
    with zipfile.ZipFile(path) as archive:
        container = ET.fromstring(archive.read("META-INF/container.xml"))
        opf_path = next(e.get("full-path") for e in container.iter() if e.tag.endswith("rootfile"))
        opf = ET.fromstring(archive.read(opf_path))
        items = [e for e in opf.iter() if e.tag.endswith("}item")]
        nav = next((i for i in items if "nav" in (i.get("properties") or "").split()), None)
        ncx = next((i for i in items if i.get("media-type") == "application/x-dtbncx+xml"), None)
        base = posixpath.dirname(opf_path)
        entries: list[tuple[str, str]] = []
        if nav is not None:
            root = ET.fromstring(archive.read(posixpath.join(base, unquote(nav.get("href")))))
            for element in root.iter():
                if element.tag.endswith("}nav") and "toc" in (element.get("{http://www.idpf.org/2007/ops}type") or ""):
                    for link in element.iter():
                        if link.tag.endswith("}a") and link.get("href"):
                            entries.append((link.get("href"), " ".join("".join(link.itertext()).split())))
                    break
        else:
            root = ET.fromstring(archive.read(posixpath.join(base, unquote(ncx.get("href")))))
            for point in root.iter():
                if point.tag.endswith("navPoint"):
                    label = next(e for e in point if e.tag.endswith("navLabel"))
                    content = next(e for e in point if e.tag.endswith("content"))
                    entries.append((content.get("src"), " ".join("".join(label.itertext()).split())))
    seen, titles = set(), []
    for href, title in entries:
        if href not in seen:
            seen.add(href)
            titles.append(title)
    return titles


@pytest.fixture(scope="module")
def books():
    return {path.name: read_book(path) for path in BOOKS}


def test_the_corpus_is_there():
    assert len(BOOKS) >= 11, f"expected the shared corpus at {CORPUS}"


@pytest.mark.parametrize("path", BOOKS, ids=lambda p: p.stem)
def test_chapters_follow_the_table_of_contents(path: Path, books):
    book = books[path.name]
    expected = toc_titles(path)
    titles = [c.title for c in book.chapters]
    # Every TOC entry, in order, ends a chapter's title: a section it sits under may come first
    # ("Part One — Chapter 1"), and a very long chapter may be followed by its own parts.
    remaining = iter(titles)
    for wanted in expected:
        assert any(title == wanted or title.endswith(f" — {wanted}") for title in remaining), wanted
    assert len(titles) >= len(expected)
    assert [c.index for c in book.chapters] == list(range(1, len(titles) + 1))
    assert book.readable(), "every corpus book has something to read"


@pytest.mark.parametrize("path", BOOKS, ids=lambda p: p.stem)
def test_no_navigation_or_boilerplate_is_read(path: Path, books):
    text = "\n".join(p.text for c in books[path.name].readable() for p in c.paragraphs)
    for phrase in ("Table of Contents", "Project Gutenberg", "Standard Ebooks", "PressBooks",
                   "public domain"):
        assert phrase not in text, f"{phrase!r} is read aloud"


def test_children_literature_has_one_chapter_per_anchor(books):
    book = books["idpf_childrens-literature_one-file-deep-toc.epub"]
    # 22 linked TOC entries (the other li elements are author labels without links)
    assert len(book.chapters) == 22
    chapter = next(c for c in book.chapters if c.title == "I. The Rabbi and the Diadem")
    assert chapter.paragraphs[-1].text.endswith("proof; for had he not done right for right's sake?")
    # The next TOC anchor starts the next chapter, not this one.
    assert "Friendship" not in " ".join(p.text for p in chapter.paragraphs)


def test_wasteland_is_cut_at_its_six_anchors_and_keeps_font_obfuscation_out(books):
    book = books["idpf_wasteland_obfuscated-fonts.epub"]
    assert [c.title for c in book.chapters][:5] == [
        "I. THE BURIAL OF THE DEAD", "II. A GAME OF CHESS", "III. THE FIRE SERMON",
        "IV. DEATH BY WATER", "V. WHAT THE THUNDER SAID"]
    assert len(book.chapters) == 6
    assert book.chapters[5].skip_reason == "notes"


@pytest.mark.parametrize("name, title, first, last", [
    ("se_wells_the-time-machine.epub", "I",
     "The Time Traveller (for so it will be convenient to speak of him) was expounding",
     "Filby’s eye over the shoulder of the Medical Man, and he winked at me solemnly."),
    ("se_austen_pride-and-prejudice.epub", "LXI",
     "Happy for all her maternal feelings was the day on which",
     "by bringing her into Derbyshire, had been the means of uniting them."),
    ("pressbooks_kafka_metamorphosis_epub2.epub", "CHAPTER III",
     "No one dared to remove the apple lodged in Gregor’s flesh",
     "Grete was the first to get up and stretch out her young body."),
])
def test_first_and_last_sentences_of_a_chapter(books, name, title, first, last):
    chapter = next(c for c in books[name].chapters if c.title == title)
    body = [p.text for p in chapter.paragraphs if not p.heading]
    assert body[0].startswith(first)
    assert body[-1].endswith(last)


def test_footnote_marks_are_not_read(books):
    chapter = next(c for c in books["se_wells_the-time-machine.epub"].chapters if c.title == "VIII")
    text = " ".join(p.text for p in chapter.paragraphs)
    assert "sloped at all. The end I had come" in text


def test_boilerplate_is_skipped_with_a_reason(books):
    pride = books["se_austen_pride-and-prejudice.epub"]
    reasons = {c.title: c.skip_reason for c in pride.chapters if c.skip_reason}
    assert reasons == {"Titlepage": "title page", "Imprint": "imprint",
                       "Colophon": "colophon", "Uncopyright": "copyright page"}
    frankenstein = books["pg_shelley_frankenstein_epub3+ncx.epub"]
    skipped = {c.title: c.skip_reason for c in frankenstein.chapters if c.skip_reason}
    assert skipped["CONTENTS"] == "table of contents"
    assert skipped["THE FULL PROJECT GUTENBERG LICENSE"] == "Project Gutenberg licence"


def test_the_switch_keeps_boilerplate():
    book = read_book(CORPUS / "se_austen_pride-and-prejudice.epub", keep_boilerplate=True)
    colophon = next(c for c in book.chapters if c.title == "Colophon")
    assert colophon.skip_reason is None and colophon.chars > 100


def test_metadata_and_languages(books):
    assert books["se_wells_the-time-machine.epub"].language == "en-GB"
    japanese = books["idpf_ja_kusamakura_vertical_PATCHED-no-audio.epub"]
    assert japanese.language.lower().startswith("ja") and japanese.title == "草枕"
    assert books["pg_shelley_frankenstein_epub3+ncx.epub"].cover[1] == "image/jpeg"
    # two authors are named in the tags as in the library folder; roles refined the EPUB 3 way
    assert books["idpf_childrens-literature_one-file-deep-toc.epub"].author == \
        "Charles Madison Curry & Erle Elsworth Clippinger"
    assert books["se_poe_short-fiction.epub"].author == "Edgar Allan Poe"


def test_moby_dick_reads_without_its_missing_ncx(books):
    book = books["idpf_moby-dick_nav-only.epub"]
    assert book.chapters[4].title == "Chapter 1. Loomings."
    assert book.chapters[4].paragraphs[1].text.startswith("Call me Ishmael.")


def test_a_very_long_book_plans_quickly_and_completely(books):
    book = books["se_poe_short-fiction.epub"]
    chapters = book.readable()
    segments = plan_segments(chapters, workers=2)
    planned = sum(s.chars for s in segments)
    assert planned > 1_500_000
    assert {s.chapter for s in segments} == {c.index for c in chapters}


@pytest.mark.parametrize("name, message", [
    ("plain-zip_no-mimetype-no-container.epub", "no META-INF/container.xml"),
    ("text-file-renamed.epub", "not a ZIP archive"),
    ("truncated_60pct_time-machine.epub", "incomplete or damaged"),
])
def test_bad_files_give_their_reason(name, message):
    with pytest.raises(NotAnEpub) as caught:
        read_book(CORPUS / "bad" / name)
    assert message in caught.value.message
