"""What would be read aloud, book by book: a corpus-wide report (`make audit`).

    .venv/bin/python bench/audit.py [BOOK.epub ...]      (default: every book in ../shared/corpus)

For each book, with the default settings and no model: the characters that are
spoken and those not read (and why), abbreviation full stops left inside a
sentence (each would make the voice drop its pitch and pause mid-sentence),
digits left for the phonemizer to guess at, characters outside the language's
script, and the longest chapter.  A line per book, then the totals.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from daemon.book.text import READ_WHERE_CITED  # noqa: E402
from daemon.converter import prepare  # noqa: E402
from daemon.errors import InboxError  # noqa: E402
from daemon.settings import BookSettings  # noqa: E402
from daemon.speech.spoken import chapter_pieces  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
# Titles and abbreviations that must not reach the phonemizer with their full stop.
ABBREVIATION_STOP = re.compile(
    r"\b(Mr|Mrs|Ms|Dr|St|Mt|No|Nos|Capt|Col|Gen|Lt|Sgt|Rev|Prof|Messrs|Mme|Mlle|Sr|Sra|Sres|Dra|"
    r"vol|ch|pp|viz|etc|cf|i\.e|e\.g)\.(?=\s+\w)")
DIGIT = re.compile(r"\d")


def audit(path: Path) -> dict:
    began = time.perf_counter()
    prepared = prepare(path, BookSettings())
    lang = prepared.settings.lang or "en-us"
    spoken_chapters = [(c, " ".join(text for text, _ in chapter_pieces(c, lang))) for c in prepared.chapters]
    text = " ".join(t for _, t in spoken_chapters)
    longest = max(spoken_chapters, key=lambda item: len(item[1]))
    stops = ABBREVIATION_STOP.findall(text) if lang.startswith("en") or lang in ("es", "fr-fr", "it", "pt-br") \
        else []
    return {
        "book": path.name, "lang": lang, "spoken": len(text),
        "not_read": dict(prepared.book.skipped),
        "stops": len(stops), "stop_examples": sorted(set(stops))[:6],
        "digits": len(DIGIT.findall(text)), "digit_examples": _examples(text),
        "longest": (longest[0].title, len(longest[1])),
        "seconds": time.perf_counter() - began,
    }


def _examples(text: str) -> list[str]:
    return [text[max(0, m.start() - 20):m.end() + 20] for m in list(DIGIT.finditer(text))[:3]]


def main() -> int:
    books = [Path(a) for a in sys.argv[1:]] or sorted(CORPUS.glob("*.epub"))
    totals = {"spoken": 0, "stops": 0, "digits": 0}
    print(f"{'book':52} {'lang':5} {'spoken':>10} {'not read':>9} {'stops':>5} {'digits':>6}  longest chapter")
    for path in books:
        try:
            row = audit(path)
        except InboxError as error:
            print(f"{path.name[:52]:52} refused: {error.message}")
            continue
        not_read = sum(count for why, count in row["not_read"].items() if why != READ_WHERE_CITED)
        title, chars = row["longest"]
        print(f"{row['book'][:52]:52} {row['lang']:5} {row['spoken']:10,} {not_read:9,} {row['stops']:5} "
              f"{row['digits']:6}  {title[:40]} ({chars:,})")
        for why, count in row["not_read"].items():
            print(f"{'':60}not read: {why}: {count:,}")
        if row["stops"]:
            print(f"{'':60}stops left: {', '.join(row['stop_examples'])}")
        for example in row["digit_examples"]:
            print(f"{'':60}digits left: …{example}…")
        for key in totals:
            totals[key] += row[key]
    print(f"\n{'all books':58} {totals['spoken']:10,} {'':9} {totals['stops']:5} {totals['digits']:6}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
