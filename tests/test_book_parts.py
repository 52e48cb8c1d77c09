"""The parts of a book a narrator treats differently: boilerplate, notes, tables, code, verse,
title pages, sections. Real corpus books first, small made-up ones for what the corpus lacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.book.epub import ReadingOptions, read_book
from daemon.errors import NoText

from .epubs import Chapter, EpubSpec, build_epub, simple_book

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
ROLLAND = CORPUS / "pg_fr_rolland_jean-christophe-4_old-pg-markup_epub2.epub"
WASTELAND = CORPUS / "idpf_wasteland_obfuscated-fonts.epub"


def _text(book) -> str:
    return "\n".join(p.text for c in book.readable() for p in c.paragraphs)


@pytest.fixture(scope="module")
def rolland():
    return read_book(ROLLAND)


# --------------------------------------------------------------------------- Project Gutenberg

def test_old_gutenberg_header_and_licence_are_not_read(rolland):
    text = _text(rolland)
    assert "Project Gutenberg" not in text and "START OF THIS" not in text and "gutenberg.org" not in text
    assert not any(c.title.startswith("Section ") for c in rolland.chapters), "no chapter made of the header"
    assert rolland.readable()[0].paragraphs[2].text.startswith("Calme du cœur. Les vents suspendus.")


def test_old_gutenberg_title_page_and_contents_are_skipped_and_part_titles_kept(rolland):
    reasons = {c.title: c.skip_reason for c in reversed(rolland.chapters)}  # the first of a title wins
    assert reasons["ROMAIN ROLLAND"] == reasons["JEAN-CHRISTOPHE"] == "title page"
    assert reasons["TABLE"] == reasons["TABLE GÉNÉRALE"] == "table of contents"
    first = rolland.readable()[0]
    assert first.title == "LE BUISSON ARDENT — PREMIÈRE PARTIE"
    assert [p.text for p in first.paragraphs[:2]] == ["LE BUISSON ARDENT", "PREMIÈRE PARTIE"]
    assert "LA NOUVELLE JOURNÉE — PRÉFACE AU DERNIER VOLUME" in [c.title for c in rolland.readable()]


def test_gutenberg_footnotes_are_read_after_the_paragraph_that_cites_them(rolland):
    paragraphs = [p for c in rolland.readable() for p in c.paragraphs]
    at = next(i for i, p in enumerate(paragraphs) if "éteignent les lumières du ciel" in p.text)
    assert "[1]" not in paragraphs[at].text and "ciel. Et M. Pataud" in paragraphs[at].text
    assert paragraphs[at + 1].kind == "note"
    assert paragraphs[at + 1].text == "Note: Allusion à un discours ridicule d'un rhéteur de la Chambre."
    assert sum("Allusion à un discours ridicule" in p.text for p in paragraphs) == 1, "never read twice"


def test_new_gutenberg_title_page_is_recognised_by_what_it_says():
    book = read_book(CORPUS / "pg_shelley_frankenstein_epub3+ncx.epub")
    reasons = {c.title: c.skip_reason for c in book.chapters[:3]}
    assert reasons == {"Frankenstein;": "title page", "or, the Modern Prometheus": "title page",
                       "CONTENTS": "table of contents"}
    assert book.readable()[0].title == "Letter 1"


# --------------------------------------------------------------------------- notes and verse

@pytest.mark.parametrize("notes", ["inline", "end_of_chapter", "skip"])
def test_notes_inline_at_the_end_of_the_chapter_or_not_at_all(notes):
    book = read_book(WASTELAND, ReadingOptions(notes=notes))
    burial = book.readable()[0]
    texts = [p.text for p in burial.paragraphs]
    note = "Note: Cf. Ezekiel 2:1."
    line = texts.index("Out of this stony rubbish? Son of man,")
    if notes == "inline":
        assert texts[line + 1] == note
    elif notes == "end_of_chapter":
        assert texts[line + 1] == "You cannot say, or guess, for you know only"
        assert texts.index("Notes.") < texts.index(note) and burial.paragraphs[-1].kind == "note"
    else:
        assert not any(t.startswith("Note") for t in texts)
    assert not any(t.startswith("Line 20") for t in texts), "the note's back-link is not read"


def test_a_link_back_at_the_end_of_a_note_is_not_read():
    # Standard Ebooks ends every endnote with <a epub:type="backlink">↩</a>
    book = read_book(CORPUS / "se_poe_short-fiction.epub")
    notes = [p.text for c in book.readable() for p in c.paragraphs if p.kind == "note"]
    assert len(notes) > 80
    assert "Note: These remarks were published by Mr. Willis in the Home Journal, on the Saturday " \
        "following Mr. Poe’s death." in notes
    assert not [n for n in notes if "↩" in n]


def test_poem_line_numbers_are_not_read_and_lines_are_lines():
    burial = read_book(WASTELAND).readable()[0]
    line = next(p for p in burial.paragraphs if p.text.startswith("And went on in sunlight"))
    assert line.text == "And went on in sunlight, into the Hofgarten," and line.kind == "verse"


# --------------------------------------------------------------------------- made-up books

def _book(tmp_path: Path, paragraphs: list[str], **spec) -> Path:
    return simple_book(tmp_path / "b.epub", [("One", paragraphs)], **spec)


TABLE = ("<table><thead><tr><th>Year</th><th>Chests</th></tr></thead>"
         "<tbody><tr><td>1881</td><td>134,064</td></tr><tr><td>1882</td><td>125,000</td></tr></tbody></table>")


def test_tables_are_read_row_by_row_with_their_header(tmp_path):
    book = read_book(_book(tmp_path, ["The trade grew.", TABLE, "It fell later."]))
    texts = [p.text for p in book.chapters[0].paragraphs]
    assert texts[2:4] == ["Year 1881: Chests 134,064.", "Year 1882: Chests 125,000."]
    skipped = read_book(_book(tmp_path, ["The trade grew.", TABLE]), ReadingOptions(tables="skip"))
    assert [p.text for p in skipped.chapters[0].paragraphs][-1] == "A table is left out here."


def test_code_is_announced_and_verse_in_pre_is_read(tmp_path):
    code = "<pre><code>def main():\n    return {'a': 1}\n</code></pre>"
    verse = "<pre>Tyger Tyger, burning bright,\nIn the forests of the night;</pre>"
    book = read_book(_book(tmp_path, ["Before.", code, verse]))
    texts = [p.text for p in book.chapters[0].paragraphs]
    assert texts[2:] == ["A code listing is left out here.", "Tyger Tyger, burning bright,",
                         "In the forests of the night;"]


def test_text_drawn_in_svg_is_read(tmp_path):
    page = ('<div><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100"><title>frame</title>'
            '<text x="1" y="10">Once upon a time</text><text x="1" y="20">there was a fox.</text></svg></div>')
    book = read_book(_book(tmp_path, [page]))
    assert [p.text for p in book.chapters[0].paragraphs][1:] == ["Once upon a time", "there was a fox."]


def test_a_book_of_headings_only_fails_with_a_sentence(tmp_path):
    path = build_epub(tmp_path / "h.epub", EpubSpec(chapters=[Chapter("Part One", []), Chapter("Part Two", [])]))
    with pytest.raises(NoText) as caught:
        read_book(path)
    assert "only headings" in caught.value.message


def test_an_unlinked_label_in_the_toc_titles_the_chapters_under_it(tmp_path):
    nav = ('<li><span>Part One</span><ol><li><a href="chapter-1.xhtml">Chapter 1</a></li>'
           '<li><a href="chapter-2.xhtml">Chapter 2</a></li></ol></li>'
           '<li><a href="chapter-3.xhtml">Chapter 3</a></li>')
    spec = EpubSpec(chapters=[Chapter(f"Chapter {n}", [f"Text of chapter {n} is here."]) for n in (1, 2, 3)],
                    nav_list=nav)
    book = read_book(build_epub(tmp_path / "n.epub", spec))
    assert [c.title for c in book.chapters] == ["Part One — Chapter 1", "Part One — Chapter 2", "Chapter 3"]
    assert [p.text for p in book.chapters[0].paragraphs][:2] == ["Part One", "Chapter 1"]
    assert book.chapters[1].paragraphs[0].text == "Chapter 2", "the section is announced once"


def test_a_part_that_is_only_a_heading_is_read_with_its_first_chapter(tmp_path):
    nav = ('<li><a href="chapter-1.xhtml">Part One</a><ol><li><a href="chapter-2.xhtml">Chapter 1</a></li>'
           '<li><a href="chapter-3.xhtml">Chapter 2</a></li></ol></li>')
    spec = EpubSpec(chapters=[Chapter("Part One", []), Chapter("Chapter 1", ["It began."]),
                              Chapter("Chapter 2", ["It went on."])], nav_list=nav)
    book = read_book(build_epub(tmp_path / "p.epub", spec))
    assert [(c.title, c.skip_reason) for c in book.chapters] == [
        ("Part One", "a heading, read at the start of the next chapter"),
        ("Part One — Chapter 1", None), ("Part One — Chapter 2", None)]
    assert [p.text for p in book.chapters[1].paragraphs] == ["Part One", "Chapter 1", "It began."]


def test_a_very_long_chapter_is_split_at_its_own_headings(tmp_path):
    sentence = "The river ran on past the mill and the town, and nobody stopped it. " * 12
    sections = []
    for n in range(1, 6):
        sections += [f"<h3>Section {n}</h3>"] + [sentence] * 20
    book = read_book(_book(tmp_path, sections))
    titles = [c.title for c in book.chapters]
    assert titles == ["One"] + [f"One — Section {n}" for n in range(2, 6)]
    assert all(c.chars < 60_000 for c in book.chapters)
    spoken = " ".join(p.text for c in book.chapters for p in c.paragraphs).split()
    assert spoken == ["One"] + " ".join(s.replace("<h3>", "").replace("</h3>", "") for s in sections).split()


def test_a_copyright_page_is_recognised_by_what_it_says(tmp_path):
    spec = EpubSpec(chapters=[Chapter("Rights", ["Copyright © 2011 The Publisher. All rights reserved.",
                                                 "ISBN 978-0-00-000000-0"]),
                              Chapter("One", ["It was a long story, and it began on a cold morning in March."])])
    book = read_book(build_epub(tmp_path / "c.epub", spec))
    assert book.chapters[0].skip_reason == "copyright page" and book.chapters[1].skip_reason is None
