"""Where a book's audio files go: the one home of every final path.

A ``Placement`` is a folder and a file stem.  From them and the book's output options
come the book's file (``outbox/Book.mp3``) or its chapter files: split by chapter, a
flat book gets a folder of its own named after it (``outbox/Book/01 - Title.mp3``), so
two books' chapter files never meet, while a library book's folder is its own already
(daemon/audio/library.py makes the library placements and moves them into place).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from daemon.files import fit_name, sanitize_filename

from .formats import MP3, OutputOptions


@dataclass(frozen=True)
class Part:
    """One file of a book's output: the whole book, or one chapter of it."""

    path: Path
    number: int  # 1-based: the track number of a chapter file
    title: str = ""  # the chapter's title (a chapter file's own title)


@dataclass(frozen=True)
class Placement:
    """Where one book's audio is written, and where its folder goes when it is done.

    Flat: ``folder`` is the outbox folder itself and nothing moves afterwards.
    Library: ``folder`` is the hidden staging folder; ``target`` the folder names
    under the outbox it becomes (author, [series,] title).  ``own_folder``: the
    folder holds this book alone, so chapter files go straight into it.
    """

    folder: Path
    stem: str
    outbox: Path
    target: tuple[str, ...] = ()  # empty: flat
    own_folder: bool = False

    @classmethod
    def of_file(cls, path: Path, own_folder: bool = False) -> "Placement":
        """A placement named by a file (the command line's ``--output``, tests): its folder
        and stem; the suffix is the format's, whatever ``path`` has."""
        return cls(path.parent, path.stem, path.parent, own_folder=own_folder)

    @property
    def staged(self) -> bool:
        """Built in a hidden folder and moved into the library when done."""
        return bool(self.target)

    def audio(self, suffix: str = MP3.suffix) -> Path:
        """The book's file for a format's suffix, before any split into chapters."""
        return self.folder / fit_name(self.stem, suffix)

    def book_file(self, options: OutputOptions) -> Path:
        """The book's file in its format; split by chapter, the name its chapter files
        take their folder and suffix from."""
        path = self.audio(options.suffix)
        if options.by_chapter and not self.own_folder:
            return path.with_suffix("") / path.name
        return path

    def parts(self, options: OutputOptions, chapter_titles: list[str]) -> list[Part]:
        """Every file the book becomes, in order."""
        return plan_parts(self.book_file(options), options.split, chapter_titles)

    def moved(self, path: Path, final_folder: Path) -> Path:
        """Where a file written in a staged folder is once the folder became ``final_folder``."""
        return final_folder / path.relative_to(self.folder)


def plan_parts(output: Path, split: str, chapter_titles: list[str]) -> list[Part]:
    """The files a book becomes: ``output`` itself, or ``NN - Title.ext`` beside it per
    chapter (the title cleaned as library folders are: files.sanitize_filename)."""
    if split != "chapter":
        return [Part(output, 1)]
    width = max(2, len(str(len(chapter_titles))))
    parts = []
    for number, title in enumerate(chapter_titles, 1):
        stem = f"{number:0{width}d} - {sanitize_filename(title) or f'Chapter {number}'}"
        parts.append(Part(output.with_name(fit_name(stem, output.suffix)), number, title))
    return parts
