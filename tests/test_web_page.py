"""The page in a real browser: headless Chromium uploads a book and sees it reach 100%."""

from __future__ import annotations

import shutil

import pytest

from .daemon_helpers import Daemon, free_port
from .epubs import simple_book

pytestmark = pytest.mark.processes  # the daemon and a headless Chromium

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def test_upload_through_the_page_and_watch_it_finish(tmp_path):
    if not shutil.which("chromium"):
        pytest.fail("Debian's chromium is not installed (make test installs it)")
    from playwright.sync_api import expect, sync_playwright

    daemon = Daemon(tmp_path / "d", engine="tone-slow", api__enabled=True, api__port=free_port()).start()
    # long enough (~10 s) that the page, polling every 2 s, sees it converting on a loaded machine
    book = simple_book(tmp_path / "Page Book.epub", [("One", ["The fog lifted."] * 30),
                                                     ("Two", ["Then it rained."] * 30)], title="Page Book")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"])
            page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
            page.goto(daemon.url + "/")
            expect(page.locator("#voice option")).to_have_count(54)
            expect(page.locator("#voice option[value=bf_emma]")).to_have_text("Emma \u2014 British English, female")
            page.select_option("#lang", "fr-fr")  # the voice picker follows the language
            expect(page.locator("#voice")).to_have_value("ff_siwis")
            page.select_option("#lang", "en-us")
            expect(page.locator("#voice")).to_have_value("af_heart")
            page.set_input_files("#file", str(book))
            page.select_option("#voice", "bf_emma")
            page.fill("#speed", "1.1")
            page.click("#submit")
            expect(page.locator("#message")).to_have_text("Queued.", timeout=15000)
            row = page.locator("#jobs li").first
            expect(row.locator(".badge")).to_have_text("processing", timeout=30000)
            expect(row.locator(".badge")).to_have_text("completed", timeout=90000)
            expect(row.locator(".percent")).to_have_text("100%")
            expect(row.locator("audio")).to_have_count(1)
            expect(row.locator("a[download]")).to_have_text("Download MP3")
            assert "voice bf_emma" in row.locator(".meta").first.inner_text()
            # a book split into chapter files: a link per file, each to its own part
            simple_book(daemon.inbox / "Split.epub", [("Fog", ["The fog lifted."]), ("Rain", ["It rained."])],
                        title="Split Book")
            (daemon.inbox / "Split.yaml").write_text("split: chapter\n")
            split = page.locator("#jobs li[data-job]", has_text="Split Book")
            expect(split.locator(".badge")).to_have_text("completed", timeout=90000)
            links = split.locator("ol.parts a[download]")
            expect(links).to_have_text(["01 - Fog.mp3", "02 - Rain.mp3"])
            assert links.nth(1).get_attribute("href").endswith("?part=2")
            page.click("#feed-box summary")  # the podcast's address, as the feed names itself
            expect(page.locator("#feed")).to_have_text(daemon.url + "/feed.xml")
            page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
            browser.close()
    finally:
        daemon.stop()
    status = next(s for s in daemon.statuses() if s["source"] == "Page Book.epub")
    assert status["settings"]["voice"] == "bf_emma" and status["settings"]["speed"] == 1.1
