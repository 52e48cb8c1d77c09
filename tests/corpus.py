"""The shared corpus of real books, which sits beside every clone of the project (../shared/corpus).

A missing corpus is an error, never a skip: a test parametrized over an empty list
of books is skipped without a word, and a skipped test proves nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
MISSING = f"the shared corpus of books is missing: expected its EPUBs in {CORPUS} (../shared/corpus)"


def corpus_books() -> list[Path]:
    """Every book of the corpus, to parametrize over; without them, the module fails to collect."""
    books = sorted(CORPUS.glob("*.epub"))
    if not books:
        raise FileNotFoundError(MISSING)
    return books


def corpus_book(name: str) -> Path:
    """One book of the corpus by its file name; the test fails, saying so, when it is missing."""
    path = CORPUS / name
    if not path.is_file():
        pytest.fail(f"{name}: {MISSING}")
    return path
