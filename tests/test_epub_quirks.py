"""Books in the wild: broken structure is tolerated, hostile files are refused."""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

import pytest

from daemon.book.epub import read_book
from daemon.converter import prepare
from daemon.errors import DrmProtected, NotAnEpub, NoText, UnsafeEpub, UnsupportedLanguage
from daemon.settings import BookSettings

from .epubs import Chapter, EpubSpec, build_epub, simple_book, tiny_png

TWO_CHAPTERS = [("The Door", ["It was a dark door.", "Nobody opened it."]),
                ("The Key", ["The key was small.", "It fitted nothing."])]


def _titles(path: Path) -> list[str]:
    return [c.title for c in read_book(path).chapters]


@pytest.mark.parametrize("options", [
    {"mimetype_first": False},
    {"opf_encoding": "utf-16"},
    {"opf_dir": ""},
    {"file_names": ["Kapitel ü 1.xhtml", "chapter two&more.xhtml"]},
])
def test_structural_quirks_still_read(tmp_path, options):
    path = simple_book(tmp_path / "book.epub", TWO_CHAPTERS, **options)
    book = read_book(path)
    assert [c.title for c in book.chapters] == ["The Door", "The Key"]
    assert book.chapters[1].paragraphs[-1].text == "It fitted nothing."


def test_missing_manifest_item_and_duplicate_ids_are_warnings(tmp_path, caplog):
    path = simple_book(tmp_path / "book.epub", TWO_CHAPTERS + [("Third", ["Three."])],
                       missing_manifest_item=True, duplicate_ids=True)
    with caplog.at_level(logging.WARNING):
        book = read_book(path)
    assert any("ghost.xhtml" in w for w in book.warnings)
    assert any("twice" in w for w in book.warnings)
    assert book.readable()


def test_missing_ncx_falls_back_to_documents_and_headings(tmp_path):
    path = simple_book(tmp_path / "book.epub", TWO_CHAPTERS, nav=False, ncx_in_opf_but_missing=True)
    book = read_book(path)
    assert [c.title for c in book.chapters] == ["The Door", "The Key"]
    assert any("toc.ncx" in w for w in book.warnings)


def test_page_numbers_footnote_marks_and_nav_are_not_read(tmp_path):
    paragraph = ('He opened<span epub:type="pagebreak" id="p7" title="7">7</span> the door'
                 '<a epub:type="noteref" href="#n1">1</a> slowly.')
    nav_page = '<nav epub:type="toc"><ol><li><a href="#x">Somewhere</a></li></ol></nav>'
    path = simple_book(tmp_path / "book.epub", [("One", [f"<p>{paragraph}</p>", nav_page])])
    texts = [p.text for p in read_book(path).chapters[0].paragraphs]
    assert texts == ["One", "He opened the door slowly."]


def test_entities_and_cover(tmp_path):
    path = simple_book(tmp_path / "book.epub", [("One", ["Caf&eacute; &mdash; &ldquo;yes&rdquo;&nbsp;now."])],
                       cover_png=tiny_png())
    book = read_book(path)
    assert book.chapters[0].paragraphs[1].text == "Café — “yes” now."
    assert book.cover == (tiny_png(), "image/png")


def test_images_only_book_has_no_text(tmp_path):
    path = simple_book(tmp_path / "book.epub", [("", ['<img src="a.png" alt="a picture"/>'])])
    with pytest.raises(NoText) as caught:
        read_book(path)
    assert "no text" in caught.value.message


def test_zip_bomb_is_refused(tmp_path):
    path = simple_book(tmp_path / "bomb.epub", TWO_CHAPTERS)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("OEBPS/filler.xhtml", b"\0" * (64 << 20))  # 64 MiB -> ~64 KiB
    assert path.stat().st_size < 1 << 20
    with pytest.raises(UnsafeEpub) as caught:
        read_book(path)
    assert "ZIP bomb" in caught.value.message


XXE = """<?xml version="1.0"?>
<!DOCTYPE html [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<html xmlns="http://www.w3.org/1999/xhtml"><body><p>&secret;</p></body></html>"""
LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">]>
<html xmlns="http://www.w3.org/1999/xhtml"><body><p>&lol2;</p></body></html>"""


@pytest.mark.parametrize("document", [XXE, LAUGHS], ids=["external-entity", "billion-laughs"])
def test_entity_tricks_are_refused(tmp_path, document):
    path = simple_book(tmp_path / "evil.epub", TWO_CHAPTERS,
                       extra_documents=[("chapter-3.xhtml", document)])
    with pytest.raises(UnsafeEpub) as caught:
        read_book(path)
    assert "entities" in caught.value.message


ENCRYPTION = """<?xml version="1.0"?>
<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container"
  xmlns:enc="http://www.w3.org/2001/04/xmlenc#">
 <enc:EncryptedData><enc:EncryptionMethod Algorithm="{algorithm}"/>
  <enc:CipherData><enc:CipherReference URI="{uri}"/></enc:CipherData></enc:EncryptedData>
</encryption>"""


def test_drm_encrypted_text_is_refused(tmp_path):
    xml = ENCRYPTION.format(algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc",
                            uri="OEBPS/chapter-1.xhtml")
    path = simple_book(tmp_path / "drm.epub", TWO_CHAPTERS,
                       extra_files={"META-INF/encryption.xml": xml.encode()})
    with pytest.raises(DrmProtected) as caught:
        read_book(path)
    assert "DRM" in caught.value.message


def test_font_obfuscation_is_not_drm(tmp_path):
    xml = ENCRYPTION.format(algorithm="http://www.idpf.org/2008/embedding", uri="OEBPS/font.otf")
    path = simple_book(tmp_path / "fonts.epub", TWO_CHAPTERS,
                       extra_files={"META-INF/encryption.xml": xml.encode()})
    assert _titles(path) == ["The Door", "The Key"]


def test_language_picks_the_voice(tmp_path):
    spanish = simple_book(tmp_path / "es.epub", [("Uno", ["Hola a todos."])], language="es-ES")
    prepared = prepare(spanish, BookSettings())
    assert (prepared.settings.lang, prepared.settings.voice) == ("es", "ef_dora")
    for tag in ("en-GB", "en-AU", "en-IE"):  # British-read dialects get a British voice
        british = simple_book(tmp_path / f"{tag}.epub", [("One", ["Hello."])], language=tag)
        settings = prepare(british, BookSettings(), english_voice="af_heart").settings
        assert (settings.lang, settings.voice) == ("en-gb", "bf_emma"), tag
    assert prepare(british, BookSettings(), english_voice="bm_george").settings.voice == "bm_george"
    american = simple_book(tmp_path / "us.epub", [("One", ["Hello."])], language="en-US")
    assert prepare(american, BookSettings(), english_voice="bm_george").settings.voice == "af_heart"
    untagged = simple_book(tmp_path / "none.epub", [("One", ["Hello."])], language=None)
    assert prepare(untagged, BookSettings(), default_lang="en-us").settings.voice == "af_heart"


def test_unsupported_language_says_what_to_do(tmp_path):
    german = simple_book(tmp_path / "de.epub", [("Eins", ["Guten Tag."])], language="de")
    with pytest.raises(UnsupportedLanguage) as caught:
        prepare(german, BookSettings())
    message = caught.value.message
    assert "'de'" in message and "en-us" in message and "cmn" in message and "lang" in message
    forced = prepare(german, BookSettings(lang="en-us"))
    assert forced.settings.voice == "af_heart"


def test_not_a_zip_with_epub_name(tmp_path):
    path = tmp_path / "notes.epub"
    path.write_text("just some notes")
    with pytest.raises(NotAnEpub):
        read_book(path)


def test_build_epub_spec_defaults_make_a_valid_book(tmp_path):
    path = build_epub(tmp_path / "x.epub", EpubSpec(chapters=[Chapter("A", ["Text."])]))
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist()[0] == "mimetype"


# --------------------------------------------------------------------------- deep markup

def _nested(depth: int, words: str = "the words inside") -> str:
    return f"<p>Before them. {'<span>' * depth}{words}{'</span>' * depth} After the spans.</p>"


def _said(path: Path) -> str:
    return " ".join(p.text for c in read_book(path).readable() for p in c.paragraphs)


def test_text_after_300_nested_spans_is_read(tmp_path):
    """libxml2 stopped at 256 levels, and the rest of the chapter was lost without a word."""
    book = simple_book(tmp_path / "spans.epub", [("One", [_nested(300), "The next paragraph."])])
    assert "Before them. the words inside After the spans. The next paragraph." in _said(book)


@pytest.mark.parametrize("depth, levels", [(1_200, "1,204"), (10_000, "more than 2,048")])
def test_markup_nested_beyond_the_budget_is_refused_with_the_cause(tmp_path, depth, levels):
    """Never the misleading 'only headings' (10,000 spans), never a chapter cut short."""
    book = simple_book(tmp_path / "deep.epub", [("One", ["Intro.", _nested(depth)])])
    with pytest.raises(UnsafeEpub) as caught:
        read_book(book)
    assert caught.value.message.startswith(
        f"refused: 'OEBPS/chapter-1.xhtml' nests its markup {levels} levels deep")


def test_markup_nested_to_the_budget_is_read_by_every_reader(tmp_path):
    """Text, a note, the nav and the NCX nested close to markup.MAX_DEPTH (1,000) are read
    whole, by readers that do not recurse (Python's recursion limit is 1,000 calls)."""
    levels = 960
    note = ('<aside epub:type="footnote" id="n1">' + "<div>" * levels + "The deep note."
            + "</div>" * levels + "</aside>")
    nav = ('<li><a href="chapter-1.xhtml">One</a>' + '<ol><li><a href="chapter-1.xhtml#d">Deep</a>' * (levels // 2)
           + "</li></ol>" * (levels // 2) + "</li>")
    chapter = Chapter("One", [_nested(levels), '<p id="d">Cited<a epub:type="noteref" href="#n1">1</a>.</p>', note])
    book = build_epub(tmp_path / "nav.epub", EpubSpec(chapters=[chapter], nav_list=nav))
    said = _said(book)
    assert "the words inside After the spans." in said and "Note: The deep note." in said
    assert read_book(book).chapters[-1].title == "Deep"

    ncx = ('<?xml version="1.0"?><ncx xmlns="http://www.daisy.org/z3986/2005/ncx/"><navMap>'
           + "".join(f'<navPoint id="p{n}"><navLabel><text>Level {n}</text></navLabel>'
                     f'<content src="chapter-1.xhtml#a{n}"/>' for n in range(levels))
           + "</navPoint>" * levels + "</navMap></ncx>")
    anchored = Chapter("One", [f'<p id="a{n}">Paragraph {n} has words.</p>' for n in range(levels)])
    book = build_epub(tmp_path / "ncx.epub", EpubSpec(chapters=[anchored], nav=False, ncx_in_opf_but_missing=True,
                                                      extra_files={"OEBPS/toc.ncx": ncx.encode()}))
    last = read_book(book).chapters[-1]
    assert (last.title, last.paragraphs[-1].text) == ("Level 959", "Paragraph 959 has words.")


def test_a_10_mb_paragraph_is_read_whole(tmp_path):
    """libxml2's limit on one text node (10,000,000 characters) cut it short in silence."""
    import base64
    import os
    words = base64.b64encode(os.urandom(7_600_000)).decode()  # does not compress like a bomb
    book = simple_book(tmp_path / "long.epub", [("One", [f"<p>{words} THE-END</p>"])])
    longest = max((p.text for c in read_book(book).chapters for p in c.paragraphs), key=len)
    assert longest.endswith(" THE-END") and len(longest) > 10_000_000
