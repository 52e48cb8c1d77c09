"""Covers: scaled into the audio's tags (a split book does not carry a full cover per chapter),
refused when they claim too many pixels, and taken out of the tags into a file once."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import numpy as np
import pytest
from mutagen.id3 import APIC, ID3
from PIL import Image

from daemon.audio import covers
from daemon.audio.covers import BOOK, THUMBNAIL, CoverFiles, fitted
from daemon.converter import BookRun, prepare
from daemon.service.scheduler import convert
from daemon.settings import BookSettings
from daemon.synth.engine import EngineKind
from daemon.synth.executors import LocalPool
from daemon.synth.stand_ins import stand_in_settings

from .epubs import simple_book, tiny_png


def photo(width: int = 2400, height: int = 3600) -> bytes:
    """A JPEG like a publisher's scan: smooth colour with grain, 6 MB at this size."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack([x * 255 // width, y * 255 // height, (x + y) * 255 // (width + height)], -1)
    pixels = np.clip(pixels + rng.integers(-40, 40, pixels.shape), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=95)
    return out.getvalue()


def size_of(data: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(data)).size


def test_a_large_cover_is_scaled_into_the_cap_and_a_small_one_is_kept_byte_for_byte():
    scan = photo()
    assert len(scan) > 5_000_000
    data, mime = fitted((scan, "image/jpeg"), BOOK)
    assert mime == "image/jpeg" and len(data) <= BOOK.size and size_of(data) == (933, 1400)
    thumb, _ = fitted((scan, "image/jpeg"), THUMBNAIL)
    assert len(thumb) <= THUMBNAIL.size and max(size_of(thumb)) == THUMBNAIL.side
    assert fitted((tiny_png(), "image/png"), BOOK) == (tiny_png(), "image/png")  # line art stays a PNG
    transparent = io.BytesIO()
    Image.new("RGBA", (3000, 100), (0, 0, 0, 0)).save(transparent, "PNG")
    flattened, _ = fitted((transparent.getvalue(), "image/png"), THUMBNAIL)
    assert Image.open(io.BytesIO(flattened)).getpixel((250, 8)) == (255, 255, 255)


def test_a_decompression_bomb_or_garbage_is_left_out_before_a_pixel_is_decoded(caplog):
    bomb = io.BytesIO()
    Image.new("1", (10_000, 5_000)).save(bomb, "PNG")  # 6 KB that would decode to 200 MB as RGBA
    huge = io.BytesIO()
    Image.new("1", (20_000, 10_000)).save(huge, "PNG")  # beyond Pillow's own bomb limit too
    with caplog.at_level("INFO", logger="daemon.audio.covers"):
        assert fitted((bomb.getvalue(), "image/png"), BOOK, "job 1") is None
        assert fitted((huge.getvalue(), "image/png"), BOOK, "job 2") is None
        assert fitted((b"<svg/>", "image/svg+xml"), BOOK, "job 3") is None
    assert "job 1: the cover is left out: it claims 10000 x 5000 pixels" in caplog.text
    assert "job 3: the cover is left out: it is not an image" in caplog.text


@pytest.mark.processes
def test_a_book_split_into_chapters_carries_the_cover_once_and_thumbnails_after(tmp_path):
    scan = photo()
    book = simple_book(tmp_path / "book.epub", [(f"Part {n}", [f"Chapter {n} is short."]) for n in range(1, 13)],
                       title="Covered", author="Ann Author", cover_png=scan)
    prepared = prepare(book, BookSettings(voice="af_heart", split="chapter"))
    engine = stand_in_settings(EngineKind.TONE)
    run = BookRun(prepared, tmp_path / "out" / "Covered.mp3", tmp_path / "job", 2)
    result = convert(run, LocalPool(engine, 2))
    assert len(result.outputs) == 12
    pictures = [ID3(path).getall("APIC") for path in result.outputs]
    assert all(len(found) == 1 for found in pictures)
    first, rest = pictures[0][0], [found[0] for found in pictures[1:]]
    assert first.mime == "image/jpeg" and len(first.data) <= BOOK.size and max(size_of(first.data)) == BOOK.side
    assert all(len(p.data) <= THUMBNAIL.size and max(size_of(p.data)) == THUMBNAIL.side for p in rest)
    # before: the 6 MB scan in each of the 12 files
    assert sum(path.stat().st_size for path in result.outputs) < 2_000_000


def test_the_cover_file_is_taken_out_of_the_tags_once_whatever_the_requests(tmp_path, monkeypatch):
    audio = tmp_path / "book.mp3"
    audio.write_bytes(b"")
    tags = ID3()
    picture = photo(400, 600)
    tags.add(APIC(encoding=3, mime="image/jpeg", type=3, desc="Cover", data=picture))
    tags.save(audio)
    reads = []
    real = covers.cover_of
    monkeypatch.setattr(covers, "cover_of", lambda path: reads.append(path) or real(path))
    files = CoverFiles(tmp_path / "covers")
    job_id = "6f1c2a1e-0000-4000-8000-000000000000"
    found: list[Path | None] = []
    threads = [threading.Thread(target=lambda: found.append(files.get(job_id, audio))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert reads == [audio] and found == [tmp_path / "covers" / f"{job_id}.jpg"] * 8
    assert found[0].read_bytes() == picture  # within the cap: the tag's own bytes
    assert CoverFiles(tmp_path / "covers").get(job_id, audio) == found[0] and reads == [audio]
    bare = tmp_path / "bare.mp3"
    bare.write_bytes(b"")
    ID3().save(bare)
    other = "6f1c2a1e-0000-4000-8000-000000000001"
    assert files.get(other, bare) is None and files.get(other, bare) is None and reads == [audio, bare]
