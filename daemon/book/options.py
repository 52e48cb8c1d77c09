"""How a book is read into text.  A module of its own, importing nothing, so that the
settings (``settings.reading_options`` fills it from a book's settings) load without the
EPUB reader and lxml.  The defaults serve ``read_book`` called on its own; they are the
settings' defaults (tests/test_settings_config.py checks).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReadingOptions:
    keep_boilerplate: bool = False
    notes: str = "inline"  # inline | end_of_chapter | skip
    tables: str = "rows"  # rows | skip
    lang: str | None = None  # the language asked for; else the book's own (for the few words added)
