"""The Audiobookshelf layout: names, metadata.opf read back the way Audiobookshelf reads it,
the folder built out of sight and renamed into place, and the daemon and `convert` using it.

Two small fixtures reproduce what Audiobookshelf's scanner reads (its source, server/utils):
``abs_read_opf`` follows parsers/parseOpfMetadata.js on an XML tree parsed without namespace
processing, as its xml2js does (so ``opf:role`` must be spelled so, literally), and
``abs_read_folder`` follows scandir.js ``getBookDataFromDir``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.parsers import expat

import pytest
from mutagen.id3 import ID3
from mutagen.mp3 import MP3

from daemon.audio import library
from daemon.book.epub import read_book
from daemon.converter import ConversionResult, PreparedBook, job_fingerprint, plan_fingerprint, prepare
from daemon.files import NAME_MAX, sanitize_filename
from daemon.settings import BookSettings
from daemon.status import Job, status_files

from .daemon_helpers import ROOT, free_port
from .epubs import simple_book, tiny_png

CORPUS = ROOT.parent / "shared" / "corpus"
TEXT = ["The lamps were lit along the street, and the fog came in slowly from the river."] * 4
CALIBRE_SERIES = """
    <dc:identifier opf:scheme="ISBN">978-0-14-118776-1</dc:identifier>
    <dc:description>&lt;p&gt;A &lt;i&gt;short&lt;/i&gt; test.&lt;/p&gt;</dc:description>
    <dc:subject>Fog</dc:subject><dc:subject>Lamps</dc:subject>
    <dc:publisher>Test Press</dc:publisher><dc:date>1886-01-05</dc:date>
    <meta name="calibre:series" content="London Nights"/>
    <meta name="calibre:series_index" content="2.0"/>"""


# --------------------------------------------------------------------------- Audiobookshelf's readers

def _xml2js(data: bytes) -> dict:
    """The XML as xml2js gives it to Audiobookshelf: names with their prefixes as written,
    attributes under '$', text under '_' (or the bare string when there are no attributes)."""
    parser = expat.ParserCreate()  # no namespace processing, like xml2js
    stack: list[dict] = [{"children": {}}]

    def start(name, attrs):
        stack.append({"name": name, "attrs": dict(attrs), "text": "", "children": {}})

    def end(name):
        node = stack.pop()
        value: object
        if node["children"]:
            value = dict(node["children"])
            if node["attrs"]:
                value["$"] = node["attrs"]
        elif node["attrs"]:
            value = {"$": node["attrs"], "_": node["text"].strip()} if node["text"].strip() else \
                {"$": node["attrs"]}
        else:
            value = node["text"].strip()
        stack[-1]["children"].setdefault(name, []).append(value)

    parser.StartElementHandler, parser.EndElementHandler = start, end
    parser.CharacterDataHandler = lambda text: stack[-1].__setitem__("text", stack[-1]["text"] + text)
    parser.Parse(data, True)
    return {k: v[0] for k, v in stack[0]["children"].items()}


def abs_read_opf(data: bytes) -> dict:
    """parseOpfMetadataJson: the fields Audiobookshelf takes from metadata.opf."""
    root = _xml2js(data)
    package_key = next(k for k in root if k.split(":")[-1] == "package")
    metadata = root[package_key]["metadata"][0]
    metas = metadata.get("meta", [])

    def first(tag):
        value = (metadata.get(tag) or [None])[0]
        return value.get("_") if isinstance(value, dict) else value

    creators = [{"value": c["_"], "role": c["$"].get("opf:role")}
                for c in metadata.get("dc:creator", []) if isinstance(c, dict) and c.get("_")]
    isbn = next((i.get("_") for i in metadata.get("dc:identifier", [])
                 if isinstance(i, dict) and i.get("$", {}).get("opf:scheme") == "ISBN"), None)
    series = []
    for n, meta in enumerate(metas):
        if meta.get("$", {}).get("name") == "calibre:series":
            following = metas[n + 1]["$"] if n + 1 < len(metas) else {}
            sequence = following.get("content") if following.get("name") == "calibre:series_index" else None
            series.append({"name": meta["$"]["content"], "sequence": sequence})
    date = first("dc:date") or ""
    return {
        "title": first("dc:title"), "subtitle": first("dc:subtitle"),
        "authors": [c["value"] for c in creators if c["role"] == "aut"],
        "narrators": [c["value"] for c in creators if c["role"] == "nrt"],
        "publishedYear": date.split("-")[0] if re.match(r"\d{4}", date) else None,
        "publisher": first("dc:publisher"), "isbn": isbn,
        "description": re.sub(r"<[^>]*>", "", first("dc:description") or "") or None,
        "genres": [g for g in metadata.get("dc:subject", []) if isinstance(g, str)],
        "language": first("dc:language"), "series": series,
    }


def abs_read_folder(relative: str) -> dict:
    """getBookDataFromDir: what the folder names say (subtitle parsing off, its default)."""
    parts = relative.split("/")
    folder = parts.pop()
    series = parts.pop() if len(parts) > 1 else None
    author = parts.pop() if parts else None
    narrator = re.match(r"^(?P<title>.*) \{(?P<narrators>.*)\}$", folder)
    if narrator:
        folder = narrator["title"]
    sequence = None
    if series:
        pieces = folder.split(" - ")
        pattern = r"^(?P<label>vol\.? |volume |book )?(?P<seq>\d{0,3}(?:\.\d{1,2})?)(?P<dot>\.?)(?: (?P<suffix>.*))?$"
        for n, piece in enumerate(pieces):
            match = re.match(pattern, piece, re.IGNORECASE)
            if match and not (match["suffix"] and not (match["label"] or match["dot"])):
                sequence = str(float(match["seq"])).removesuffix(".0")
                pieces[n:n + 1] = [match["suffix"]] if match["suffix"] else []
                break
        folder = " - ".join(pieces)
    year = re.match(r"^ *\(?([0-9]{4})\)? * - *(.+)", folder)
    if year:
        folder = year[2]
    names = re.split(r"\s*&\s*", author) if author else []
    return {"title": folder, "authors": names, "series": series, "sequence": sequence,
            "narrator": narrator["narrators"] if narrator else None}


# --------------------------------------------------------------------------- names

@pytest.mark.parametrize("raw, clean", [
    ("Dune: Messiah", "Dune - Messiah"),  # the first colon, as Audiobookshelf does it
    ('What? A "Tale" <of> a/b\\c|d*e', "What A Tale of abcde"),
    ("Ends with dots...", "Ends with dots"),
    (".hack Legend", "hack Legend"),  # a hidden folder would never be scanned
    ("con", ""), ("Line\nbreak\tand  spaces", "Line break and spaces"),
    ("Cafe\u0301", "Café"),  # NFC
])
def test_names_are_cleaned_as_audiobookshelf_cleans_them(raw, clean):
    assert sanitize_filename(raw) == clean


def test_long_names_fit_the_filesystem_at_a_character_boundary():
    name = sanitize_filename("Ω" * 300)
    assert len(name.encode()) <= NAME_MAX and set(name) == {"Ω"}
    folders = library.library_folders("ü" * 400, ("Ann",), "S" * 300, "3")
    assert all(len(f.encode()) <= NAME_MAX for f in folders)


@pytest.mark.parametrize("file, expected", [
    # Standard Ebooks' collections are curated sets ("The BBC's 100 Greatest..."), not series
    ("se_austen_pride-and-prejudice.epub", ("Jane Austen", "Pride and Prejudice")),
    ("se_stevenson_jekyll-and-hyde.epub",
     ("Robert Louis Stevenson", "The Strange Case of Dr. Jekyll and Mr. Hyde")),
    ("idpf_childrens-literature_one-file-deep-toc.epub",
     ("Charles Madison Curry & Erle Elsworth Clippinger", "Children's Literature")),
    ("pg_fr_rolland_jean-christophe-4_old-pg-markup_epub2.epub",
     ("Romain Rolland", "Jean-Christophe, Volume 4 (of 4) Le Buisson Ardent, La Nouvelle Journée")),
    ("idpf_ja_kusamakura_vertical_PATCHED-no-audio.epub", ("夏目 漱石", "草枕")),
])
def test_corpus_books_get_folders_that_audiobookshelf_reads_back(file, expected):
    book = read_book(CORPUS / file)
    meta = book.metadata
    folders = library.library_folders(book.title, meta.authors, meta.series, meta.series_index)
    assert folders == expected
    parsed = abs_read_folder("/".join(folders))
    assert parsed["title"] == expected[-1] and parsed["series"] is None
    assert " & ".join(parsed["authors"]) == expected[0]


def test_a_series_book_gets_a_series_folder_and_its_position():
    folders = library.library_folders("101 Dalmatians: Again", ("Dodie Smith",), "Dogs", "2")
    assert folders == ("Dodie Smith", "Dogs", "Vol 2 - 101 Dalmatians - Again")
    assert abs_read_folder("/".join(folders)) == {
        "title": "101 Dalmatians - Again", "authors": ["Dodie Smith"], "series": "Dogs",
        "sequence": "2", "narrator": None}
    # a title the folder parser would misread keeps its meaning
    assert abs_read_folder("A/" + library.title_folder_name("Songs {Live}"))["narrator"] is None
    # no author: at the root, where a 'Series/Title' pair would be read as author 'Series'
    assert library.library_folders("Anonymous Tales", (), "Dogs", "1") == ("Anonymous Tales",)


# --------------------------------------------------------------------------- metadata

def test_the_epub_metadata_is_read_from_epub2_and_epub3_forms(tmp_path):
    calibre = read_book(simple_book(tmp_path / "c.epub", [("One", TEXT)], extra_metadata=CALIBRE_SERIES))
    meta = calibre.metadata
    assert (meta.series, meta.series_index, meta.isbn) == ("London Nights", "2", "9780141187761")
    assert meta.description == "A short test." and meta.subjects == ("Fog", "Lamps")
    assert (meta.publisher, meta.date) == ("Test Press", "1886-01-05")

    epub3 = """<meta property="belongs-to-collection" id="c1">Best Novels</meta>
      <meta refines="#c1" property="collection-type">set</meta>
      <meta property="belongs-to-collection" id="c2">The Expanse</meta>
      <meta refines="#c2" property="collection-type">series</meta>
      <meta refines="#c2" property="group-position">1.5</meta>
      <dc:creator id="ill">Ivy Illustrator</dc:creator><meta refines="#ill" property="role">ill</meta>
      <dc:identifier>0-306-40615-2</dc:identifier>"""
    meta = read_book(simple_book(tmp_path / "e.epub", [("One", TEXT)], extra_metadata=epub3)).metadata
    assert (meta.series, meta.series_index) == ("The Expanse", "1.5")
    assert meta.authors == ("Ann Author",), "an illustrator is not an author"
    assert meta.isbn == "0306406152", "a bare ISBN-10 with a right check digit"

    wrong = '<dc:identifier>0-306-40615-3</dc:identifier>'
    assert read_book(simple_book(tmp_path / "w.epub", [("One", TEXT)], extra_metadata=wrong)).metadata.isbn is None


def test_corpus_metadata_real_books():
    jekyll = read_book(CORPUS / "se_stevenson_jekyll-and-hyde.epub").metadata
    assert jekyll.description.startswith("A London lawyer investigates")
    assert "Science fiction" in jekyll.subjects and jekyll.publisher == "Standard Ebooks"
    assert jekyll.series is None, "four collections, all of type 'set'"
    poe = read_book(CORPUS / "se_poe_short-fiction.epub").metadata
    assert poe.authors == ("Edgar Allan Poe",), "roles ann, aut, wfw through <meta refines>"
    assert "<" not in poe.description and poe.description.startswith("Edgar Allan Poe is one of")
    children = read_book(CORPUS / "idpf_childrens-literature_one-file-deep-toc.epub").metadata
    assert children.subtitle == "A Textbook of Sources for Teachers and Teacher-Training Classes"
    rolland = read_book(CORPUS / "pg_fr_rolland_jean-christophe-4_old-pg-markup_epub2.epub").metadata
    assert rolland.date == "2020-05-04" and rolland.identifiers == (("uri", "http://www.gutenberg.org/62021"),)


def _prepared(path: Path, **settings) -> PreparedBook:
    return prepare(path, BookSettings(voice="bf_emma", layout="audiobookshelf", **settings))


def test_metadata_opf_gives_audiobookshelf_the_book(tmp_path):
    source = simple_book(tmp_path / "b.epub", [("One", TEXT)], title="Fog: A Story", author="R. L. Stevenson",
                         extra_metadata=CALIBRE_SERIES)
    document = library.opf_document(_prepared(source))
    tree = ET.fromstring(document)  # well-formed, namespaces declared
    identifiers = [(i.get("{http://www.idpf.org/2007/opf}scheme"), i.text)
                   for i in tree.iter("{http://purl.org/dc/elements/1.1/}identifier")]
    assert identifiers == [("ISBN", "9780141187761"), (None, "urn:test:Fog: A Story")]
    assert abs_read_opf(document) == {
        "title": "Fog: A Story", "subtitle": None, "authors": ["R. L. Stevenson"],
        "narrators": ["Kokoro (bf_emma)"], "publishedYear": "1886", "publisher": "Test Press",
        "isbn": "9780141187761", "description": "A short test.", "genres": ["Fog", "Lamps"],
        "language": "en", "series": [{"name": "London Nights", "sequence": "2"}]}


@pytest.mark.parametrize("file", ["se_austen_pride-and-prejudice.epub", "pressbooks_kafka_metamorphosis_epub2.epub",
                                  "idpf_childrens-literature_one-file-deep-toc.epub"])
def test_metadata_opf_of_corpus_books(file):
    book = read_book(CORPUS / file)
    opf = abs_read_opf(library.opf_document(_prepared(CORPUS / file)))
    assert opf["title"] == book.title and opf["authors"] == list(book.metadata.authors)
    assert opf["narrators"] == ["Kokoro (bf_emma)"] and opf["series"] == []
    assert opf["genres"] == list(book.metadata.subjects)
    assert (opf["description"] or "") == (book.metadata.description or "")
    assert opf["subtitle"] == book.metadata.subtitle


def test_a_sidecar_title_and_author_win_in_the_folder_and_the_opf(tmp_path):
    source = simple_book(tmp_path / "b.epub", [("One", TEXT)], extra_metadata=CALIBRE_SERIES)
    prepared = _prepared(source, title="Other Title", author="Someone Else")
    placement = library.place(tmp_path / "out", "b", prepared, "0123456789ab")
    assert placement.target == ("Someone Else", "London Nights", "Vol 2 - Other Title")
    opf = abs_read_opf(library.opf_document(prepared))
    assert (opf["title"], opf["authors"]) == ("Other Title", ["Someone Else"])


def test_the_layout_is_no_part_of_the_audio_fingerprint_but_keys_jobs_apart(tmp_path):
    source = simple_book(tmp_path / "b.epub", [("One", TEXT)])
    flat = prepare(source, BookSettings(voice="af_heart"))
    shelf = prepare(source, BookSettings(voice="af_heart", layout="audiobookshelf"))
    assert plan_fingerprint(flat) == plan_fingerprint(shelf), "the checkpoints are shared"
    assert job_fingerprint(flat) != job_fingerprint(shelf), "but they are two jobs"
    assert shelf.settings.as_record()["layout"] == "audiobookshelf" and "layout" not in flat.settings.as_record()


# --------------------------------------------------------------------------- placing

def test_a_book_is_built_hidden_and_renamed_into_place_never_over_a_users_folder(tmp_path):
    outbox = tmp_path / "outbox"
    source = simple_book(tmp_path / "b.epub", [("One", TEXT)], title="Fog", author="Ann Author",
                         cover_png=tiny_png())
    prepared = _prepared(source)
    flat = library.place(outbox, "sub/Fog", prepare(source, BookSettings(voice="af_heart")), "0123abcd")
    result = ConversionResult(Path("x"), (), 1.0, 1, 0, 1, 1.0)
    assert flat.audio(".mp3") == outbox / "sub" / "Fog.mp3" and library.publish(flat, prepared, result) is result

    users = outbox / "Ann Author" / "Fog"
    users.mkdir(parents=True)
    (users / "notes.txt").write_text("mine")
    finals = []
    for job_id in ("aaaaaaaa-1", "bbbbbbbb-2"):
        placement = library.place(outbox, "Fog", prepared, job_id)
        assert placement.folder.parent == outbox and placement.folder.name.startswith(".")
        audio = placement.audio(".mp3")
        audio.parent.mkdir(parents=True)
        audio.write_bytes(b"audio " + job_id.encode())
        published = library.publish(placement, prepared, dataclasses.replace(result, output=audio, outputs=(audio,)))
        assert published.outputs == (published.output,)
        finals.append(published.output)
        assert not placement.folder.exists()
    assert [f.relative_to(outbox).as_posix() for f in finals] == ["Ann Author/Fog (2)/Fog.mp3",
                                                                  "Ann Author/Fog (3)/Fog.mp3"]
    assert (users / "notes.txt").read_text() == "mine" and sorted(os.listdir(users)) == ["notes.txt"]
    assert sorted(os.listdir(finals[0].parent)) == ["Fog.mp3", "cover.png", "metadata.opf"]
    assert (finals[0].parent / "cover.png").read_bytes() == tiny_png()

    doomed = library.place(outbox, "Fog", prepared, "cccccccc-3")
    doomed.audio().parent.mkdir()
    library.discard(doomed)
    assert not doomed.folder.exists()
    doomed.audio().parent.mkdir()
    library.discard_leftovers(outbox, "cccccccc-3")  # the same, knowing only the job
    assert not doomed.folder.exists() and (users / "notes.txt").exists()


def test_status_files_read_back_with_a_library_path_and_audiobookshelf_files_are_not_status_files(tmp_path):
    record = {"job_id": "6f1c2a1e-0000-4000-8000-000000000001", "status": "completed", "source": "b.epub",
              "source_sha256": "", "settings": {}, "status_file": "b.json", "job_key": "k",
              "output_file": "Ann Author/London Nights/Vol 2 - Fog/Fog.mp3"}
    assert Job.from_record(record).output_file == record["output_file"]
    for bad in ("../Fog.mp3", "/etc/passwd", "Ann Author/../../x.mp3"):
        with pytest.raises(ValueError):
            Job.from_record({**record, "output_file": bad})
    book = tmp_path / "Ann Author" / "Fog"
    book.mkdir(parents=True)
    for name in ("metadata.opf", "metadata.json"):
        (book / name).write_text("{}")
    (tmp_path / "b.json").write_text("{}")
    assert [p.name for p in status_files(tmp_path)] == ["b.json"]


# --------------------------------------------------------------------------- end to end

def _download(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read()


@pytest.mark.processes
def test_the_daemon_files_a_dropped_book_into_the_library(tmp_path, daemon):
    port = free_port()
    d = daemon(output__layout="audiobookshelf", api__enabled=True, api__port=port).start()
    source = simple_book(tmp_path / "fog.epub", [("One", TEXT[:2]), ("Two", TEXT[2:])], title="Fog: A Story",
                         author="Ann Author", cover_png=tiny_png(), extra_metadata=CALIBRE_SERIES)
    shutil.copyfile(source, d.inbox / "fog.epub")
    (d.inbox / "flat").mkdir()
    (d.inbox / "flat" / "folder.yaml").write_text("layout: flat\nvoice: am_adam\n")
    shutil.copyfile(source, d.inbox / "flat" / "fog.epub")
    statuses = {s["source"]: s for s in d.wait_finished(2)}

    shelf, flat = statuses["fog.epub"], statuses["flat/fog.epub"]
    assert shelf["status"] == flat["status"] == "completed", (shelf["error"], flat["error"])
    assert shelf["output_file"] == "Ann Author/London Nights/Vol 2 - Fog - A Story/Fog - A Story.mp3"
    assert shelf["settings"]["layout"] == "audiobookshelf" and not shelf["duplicate_of"]
    assert flat["output_file"] == "flat/fog.mp3", "a folder.yaml keeps its books flat"
    assert (d.outbox / "fog.json").exists(), "status files stay where they always were"
    folder = (d.outbox / shelf["output_file"]).parent
    assert sorted(os.listdir(folder)) == ["Fog - A Story.mp3", "cover.png", "metadata.opf"]
    opf = abs_read_opf((folder / "metadata.opf").read_bytes())
    assert (opf["title"], opf["authors"], opf["narrators"]) == ("Fog: A Story", ["Ann Author"],
                                                                ["Kokoro (af_heart)"])
    assert [p for p in d.outbox.rglob(".*")] == [], "no staging folder or temporary file is left"
    status, audio = _download(f"http://127.0.0.1:{port}/download/{shelf['job_id']}")
    assert status == 200 and audio == (folder / "Fog - A Story.mp3").read_bytes()

    # the same book again, for the library: its own folder next to the first, not over it
    shutil.copyfile(source, d.inbox / "fog again.epub")
    (d.inbox / "fog again.yaml").write_text("voice: bf_emma\n")
    again = next(s for s in d.wait_finished(3) if s["source"] == "fog again.epub")
    assert again["output_file"] == "Ann Author/London Nights/Vol 2 - Fog - A Story (2)/Fog - A Story.mp3"
    assert json.loads((d.outbox / "fog.json").read_text())["output_file"] == shelf["output_file"]


def _hidden(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


@pytest.mark.processes
def test_a_killed_daemon_resumes_into_the_library_and_a_cancelled_book_leaves_nothing(tmp_path, daemon):
    d = daemon(engine="tone-slow", output__layout="audiobookshelf").start()
    long_text = [("One", TEXT * 3), ("Two", TEXT * 3)]
    shutil.copyfile(simple_book(tmp_path / "long.epub", long_text, title="Long", author="Ann Author"),
                    d.inbox / "long.epub")
    processing = tmp_path / "processing"
    d.wait_for(lambda: len(list(processing.glob("*/segment-*.flac"))) >= 2, 120, "two checkpoints")
    assert [name.rpartition("-")[0] for name in _hidden(d.outbox)] == [".Long.partial"]
    d.kill()
    d.start()
    [status] = d.wait_finished(1, timeout=180)
    assert status["status"] == "completed" and status["output_file"] == "Ann Author/Long/Long.mp3"
    assert "resuming" in d.log.read_text() and _hidden(d.outbox) == []

    longer = [("One", TEXT * 20), ("Two", TEXT * 20)]  # still reading when the cancel comes
    shutil.copyfile(simple_book(tmp_path / "doomed.epub", longer, title="Doomed", author="Ann Author"),
                    d.inbox / "doomed.epub")
    d.wait_for(lambda: any(s["status"] == "processing" for s in d.statuses()), 60, "processing")
    doomed = next(s for s in d.statuses() if s["status"] == "processing")
    subprocess.run([sys.executable, "-m", "daemon", "cancel", "--config", str(d.config), doomed["job_id"]],
                   check=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)})
    d.wait_finished(2, timeout=30)
    # The cancelled job's record is written once more when its source has moved to failed/
    # (an atomic write through a hidden temporary file): wait for the outbox to be clean.
    d.wait_for(lambda: _hidden(d.outbox) == [], 10, "no hidden files left in the outbox")
    assert sorted(os.listdir(d.outbox / "Ann Author")) == ["Long"]


def _convert(tmp_path: Path, book: Path, *args: str, models: Path | None = None) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"models:\n  dir: {models or tmp_path}\nworkers: 1\n"
                      f"paths:\n  processing: {tmp_path / 'processing'}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOKORO_INBOX_")}
    result = subprocess.run([sys.executable, "-m", "daemon", "convert", "--config", str(config), str(book),
                             "--layout", "audiobookshelf", "-o", str(tmp_path / "library"), "--quiet", *args],
                            cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr


@pytest.mark.processes
def test_convert_files_m4b_chapter_files_into_one_library_folder(tmp_path):
    book = simple_book(tmp_path / "fog.epub", [("The Door", TEXT[:1]), ("The Street", TEXT[1:2])],
                       title="Fog", author="Ann Author", cover_png=tiny_png())
    (tmp_path / "fog.yaml").write_text("format: m4b\nsplit: chapter\n")
    _convert(tmp_path, book, "--engine", "tone")
    folder = tmp_path / "library" / "Ann Author" / "Fog"
    assert sorted(os.listdir(folder)) == ["01 - The Door.m4b", "02 - The Street.m4b", "cover.png", "metadata.opf"]
    assert sorted(os.listdir(tmp_path / "library")) == ["Ann Author"]
    _convert(tmp_path, book, "--engine", "tone")  # again: beside it, not into it
    assert sorted(os.listdir(folder.parent)) == ["Fog", "Fog (2)"]


@pytest.mark.model
@pytest.mark.processes
def test_convert_with_the_real_model_into_a_library_folder(tmp_path, real_models):
    book = simple_book(tmp_path / "Small Book.epub", [("The Door", TEXT[:1]), ("The Street", TEXT[1:2])],
                       title="Small Book", author="R. L. Stevenson", cover_png=tiny_png(),
                       extra_metadata=CALIBRE_SERIES)
    _convert(tmp_path, book, models=real_models)
    folder = tmp_path / "library" / "R. L. Stevenson" / "London Nights" / "Vol 2 - Small Book"
    audio = folder / "Small Book.mp3"
    assert sorted(os.listdir(folder)) == ["Small Book.mp3", "cover.png", "metadata.opf"]
    assert sorted(os.listdir(tmp_path / "library")) == ["R. L. Stevenson"], "no staging folder left"
    info = MP3(audio).info
    assert (info.sample_rate, info.channels) == (24000, 1) and 3 < info.length < 30
    tags = ID3(audio)
    assert tags["TIT2"].text == ["Small Book"] and tags["TPE1"].text == ["R. L. Stevenson"]
    assert len(tags.getall("CHAP")) == 2
    assert abs_read_opf((folder / "metadata.opf").read_bytes())["narrators"] == ["Kokoro (af_heart)"]
    probed = _probe(audio)
    if probed is not None:  # what FFmpeg-based players (Audiobookshelf among them) see
        duration, title, chapters = probed
        assert abs(duration - info.length) < 0.5
        assert (title, chapters) == ("Small Book", ["The Door", "The Street"])


def _probe(audio: Path) -> tuple[float, str, list[str]] | None:
    """(duration, title tag, chapter titles) as FFmpeg reads them: ffprobe when installed,
    else the FFmpeg inside PyAV's wheel; None when neither is here."""
    if shutil.which("ffprobe"):
        probe = json.loads(subprocess.run(
            ["ffprobe", "-v", "error", "-show_format", "-show_chapters", "-of", "json", str(audio)],
            capture_output=True, text=True, check=True).stdout)
        return (float(probe["format"]["duration"]), probe["format"]["tags"]["title"],
                [c["tags"]["title"] for c in probe["chapters"]])
    try:
        import av
    except ImportError:
        return None
    with av.open(str(audio)) as container:
        return (container.duration / 1e6, container.metadata.get("title", ""),
                [c["metadata"].get("title", "") for c in container.chapters()])
