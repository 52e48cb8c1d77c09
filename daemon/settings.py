"""Settings for one book: config defaults, folder.yaml files, the sidecar, form fields, flags.

``requested_settings`` is the one resolver the daemon, ``convert`` and ``inspect``
share, so a book gets the same settings however it is converted.  Pronunciation
lexicons (``lexicon.yaml`` files, a sidecar's ``pronounce:``) add up word by word,
to at most ``pronounce.MAX_TOTAL_ENTRIES`` for one book.
``BookSettings`` is what the user asked for (``None`` = decide from the book);
``resolve`` turns it into the concrete voice and language once the book's own
metadata is known.

Sidecars come from anyone who can write to the share, so they are read as
hostile: a size cap, no YAML anchors or aliases (a 387-byte alias bomb expands
to hundreds of megabytes), types checked before anything is expanded, and
values quoted back in error messages only in part.
"""

from __future__ import annotations

import math
import reprlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

import yaml

from .errors import InvalidSetting
from .files import read_regular, shown_name
from .languages import check_language, default_voice, language_for_book, parse_voice
from .pronounce import LEXICON_FILE, Lexicon, as_mapping, check_total, parse_lexicon
from .pronounce import merged as merge_lexicons

SPEED_RANGE = (0.5, 2.0)
# Mono 24 kHz MP3 is MPEG-2 Layer III, whose bitrates stop at 160 kbps.
BITRATE_RANGE = (32, 160)
KEYS = ("voice", "speed", "lang", "title", "author", "chapters", "bitrate", "notes", "tables", "pronounce",
        "layout", "format", "split", "loudness_lufs", "true_peak_db")
NOTES = ("inline", "end_of_chapter", "skip")
TABLES = ("rows", "skip")
LAYOUTS = ("flat", "audiobookshelf")  # where the audiobook goes: daemon/library.py
PLACEMENT = ("layout",)  # settings that place the audiobook without changing its audio
FORMATS = ("mp3", "m4b")  # daemon/audio.py
SPLITS = ("book", "chapter")
# Settings that change how the audio is encoded, not what is synthesised: never in the
# plan's fingerprint, so checkpoints stay good when they change.
ENCODING = ("format", "split", "loudness_lufs", "true_peak_db")
LOUDNESS_RANGE = (-40.0, -5.0)  # LUFS
TRUE_PEAK_RANGE = (-9.0, 0.0)  # dBTP
SIDECAR_LIMIT = 64 << 10  # bytes; a real sidecar is a few lines
MAX_CHAPTER = 10_000  # no book has more; a range beyond it is a mistake or an attack
MAX_CHAPTER_ITEMS = 1_000
MAX_TEXT = 500  # characters in a title or an author
SIDECAR_SUFFIXES = (".yaml", ".yml", ".YAML", ".YML")
FOLDER_DEFAULTS = "folder.yaml"

_shown = reprlib.Repr()
_shown.maxstring = _shown.maxother = 40
_shown.maxlist = _shown.maxdict = 3
_shown.maxlevel = 2


def shown(value: Any) -> str:
    """A value quoted in an error message, cut short: messages go to status files and logs."""
    text = _shown.repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass(frozen=True)
class BookSettings:
    voice: str | None = None
    speed: float = 1.0
    lang: str | None = None
    title: str | None = None
    author: str | None = None
    chapters: frozenset[int] | None = None
    bitrate: int = 64
    notes: str = "inline"  # footnotes and endnotes: inline | end_of_chapter | skip
    tables: str = "rows"  # rows | skip
    pronounce: Lexicon = ()  # the listener's pronunciations, merged from every layer
    layout: str = "flat"  # where the audiobook goes, not how it sounds: never in the plan's fingerprint
    format: str = "mp3"  # mp3 | m4b
    split: str = "book"  # book | chapter: one file, or one per chapter
    loudness_lufs: float | None = -18.0  # integrated loudness target; None keeps the model's level
    true_peak_db: float = -1.5  # the ceiling after the loudness gain

    def merged(self, overrides: Mapping[str, Any]) -> "BookSettings":
        """A copy with ``overrides`` (raw, unvalidated values) applied; lexicons add up."""
        values = _validated(overrides)
        if "pronounce" in values:
            values["pronounce"] = merge_lexicons(self.pronounce, values["pronounce"])
        return replace(self, **values)

    def as_record(self) -> dict[str, Any]:
        """The settings as written to the status file (resolved ones only)."""
        record: dict[str, Any] = {
            "voice": self.voice, "speed": self.speed, "lang": self.lang,
            "bitrate": self.bitrate, "notes": self.notes, "tables": self.tables,
        }
        if self.chapters is not None:
            record["chapters"] = format_chapters(self.chapters)
        if self.pronounce:
            record["pronounce"] = as_mapping(self.pronounce)
        if self.layout != "flat":
            record["layout"] = self.layout
        record.update({key: getattr(self, key) for key in ENCODING
                       if getattr(self, key) != getattr(BookSettings, key)})
        for key in ("title", "author"):
            if getattr(self, key):
                record[key] = getattr(self, key)
        return record

    def resolve(self, book_language: str | None, default_lang: str,
                english_voice: str) -> "BookSettings":
        """Fill in the language and voice from the book when not set explicitly."""
        lang = self.lang or language_for_book(book_language, default_lang)
        voice = self.voice or default_voice(lang, english_voice)
        return replace(self, lang=lang, voice=voice)


_NO_ANCHORS = "anchors and aliases (& and *) are not allowed here"
# libyaml, where PyYAML was built with it: a 5,000-word lexicon.yaml loads in 0.06 s instead of
# 0.6 s, and markup nested 60,000 deep is a YAML error rather than Python's RecursionError.
_C_LOADER = getattr(yaml, "CSafeLoader", None)


class _PlainLoader(yaml.SafeLoader):
    """The safe loader, refusing anchors and aliases: settings never need them."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise yaml.MarkedYAMLError(problem=_NO_ANCHORS, problem_mark=event.start_mark)
        return super().compose_node(parent, index)


def _plain_yaml(text: str) -> Any:
    """Safely loaded YAML without anchors or aliases (a 387-byte alias bomb expands to
    hundreds of megabytes): with libyaml, its events are checked before anything is built."""
    if _C_LOADER is None:
        try:
            return yaml.load(text, Loader=_PlainLoader)  # noqa: S506 (a SafeLoader subclass)
        except RecursionError:
            raise yaml.YAMLError("nested too deep") from None
    for event in yaml.parse(text, Loader=_C_LOADER):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise yaml.MarkedYAMLError(problem=_NO_ANCHORS, problem_mark=event.start_mark)
    return yaml.load(text, Loader=_C_LOADER)  # noqa: S506 (libyaml's SafeLoader)


def load_sidecar(path: Path) -> dict[str, Any]:
    """Read a sidecar or folder.yaml as a mapping: small, plain YAML, safely loaded."""
    try:
        text = read_regular(path, SIDECAR_LIMIT).decode("utf-8")
        data = _plain_yaml(text)
    except yaml.YAMLError as error:
        raise InvalidSetting(f"{path.name}: not valid YAML ({' '.join(str(error).split())[:300]})") from None
    except UnicodeDecodeError:
        raise InvalidSetting(f"{path.name}: is not UTF-8 text") from None
    except OSError as error:
        if error.strerror and "larger than" in error.strerror:
            raise InvalidSetting(f"{path.name}: is larger than {SIDECAR_LIMIT >> 10} KB; "
                                 "a sidecar holds a few settings") from None
        raise InvalidSetting(f"{path.name}: cannot be read ({error.strerror or error})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidSetting(f"{path.name}: must be a mapping of keys such as 'voice: af_heart'")
    return data


def sidecar_of(book: Path) -> Path | None:
    """The book's own settings file, ``<stem>.yaml`` or ``.yml``, if there is one.  A
    folder's own files are not a book's sidecar: ``folder.yaml`` never (a book named
    ``folder.epub`` takes ``folder.yml``), ``lexicon.yaml`` unless it holds book settings
    (``_lexicon_is_a_sidecar``)."""
    for suffix in SIDECAR_SUFFIXES:
        candidate = book.with_suffix(suffix)
        if candidate.is_file() and candidate.name != FOLDER_DEFAULTS and \
                (candidate.name != LEXICON_FILE or _lexicon_is_a_sidecar(candidate)):
            return candidate
    return None


def _lexicon_is_a_sidecar(lexicon: Path) -> bool:
    """Whether ``lexicon.yaml`` is the sidecar of a book named ``lexicon.epub`` beside it,
    rather than the folder's lexicon.  What it holds decides, since book settings and
    pronunciations share no shape: only settings keys (voice, speed, pronounce ...) with
    such a book there make it that book's sidecar, and then it is no lexicon for the
    other books ("She raised her am_adam"); anything else stays the folder's lexicon and
    is not moved away with that book.  So neither the book's voice nor the folder's words
    are lost."""
    stem = Path(LEXICON_FILE).stem
    if not any(p.suffix.lower() == ".epub" for p in lexicon.parent.glob(f"{stem}.*")):
        return False
    try:
        data = load_sidecar(lexicon)
    except InvalidSetting:
        return False  # read as the lexicon, whose error then names the file
    return bool(data) and set(data) <= set(KEYS)


def requested_settings(book: Path, defaults: "BookSettings", inbox: Path | None = None,
                       upload: Mapping[str, Any] | None = None,
                       flags: Mapping[str, Any] | None = None) -> "BookSettings":
    """What was asked for one book, the later layers winning:

    config defaults, then every folder.yaml from the inbox down to the book's
    folder (only the book's own folder when it is not inside the inbox), then
    the book's sidecar (or, for an upload, the form's fields), then flags.
    """
    settings = defaults
    # where the pronunciations come from, for the sentence that refuses too many of them
    sources = [("speech.lexicon", len(defaults.pronounce))] if defaults.pronounce else []
    for folder in _folders_down_to(book.parent, inbox):
        if (folder / LEXICON_FILE).is_file() and not _lexicon_is_a_sidecar(folder / LEXICON_FILE):
            lexicon = parse_lexicon(load_sidecar(folder / LEXICON_FILE), _shown_path(folder / LEXICON_FILE))
            settings = replace(settings, pronounce=merge_lexicons(settings.pronounce, lexicon))
            sources.append((_shown_path(folder / LEXICON_FILE), len(lexicon)))
            check_total(settings.pronounce, sources)  # at once: the next 5,000 need not be read
        if (folder / FOLDER_DEFAULTS).is_file():
            settings = _layer(settings, load_sidecar(folder / FOLDER_DEFAULTS),
                              _shown_path(folder / FOLDER_DEFAULTS), sources)
    if upload is not None:
        settings = _layer(settings, upload, "the upload", sources)
    else:
        sidecar = sidecar_of(book)
        if sidecar is not None:
            settings = _layer(settings, load_sidecar(sidecar), sidecar.name, sources)
    return _layer(settings, {k: v for k, v in (flags or {}).items() if v is not None}, "flags", sources)


def _layer(settings: BookSettings, raw: Mapping[str, Any], origin: str,
           sources: list[tuple[str, int]]) -> BookSettings:
    """``settings`` with one more layer of raw values; its pronounce: counts to the total."""
    layered = settings.merged(raw)
    if layered.pronounce is not settings.pronounce:
        given = raw.get("pronounce")
        sources.append((f"{origin} pronounce", len(given) if isinstance(given, Mapping) else 0))
        check_total(layered.pronounce, sources)
    return layered


def _shown_path(path: Path) -> str:
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name


def _folders_down_to(folder: Path, inbox: Path | None) -> list[Path]:
    folder = folder.absolute()
    inbox = inbox.absolute() if inbox is not None else None
    if inbox is None or (folder != inbox and inbox not in folder.parents):
        return [folder]
    chain = [folder, *folder.parents]
    return list(reversed(chain[: chain.index(inbox) + 1]))


def _validated(raw: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        raise InvalidSetting(
            f"{unknown[0]}: unknown setting; allowed keys are {', '.join(KEYS)}",
            key=str(unknown[0]),
        )
    checkers = {
        "voice": _voice, "speed": _speed, "lang": _lang, "title": _setting_text,
        "author": _setting_text, "chapters": parse_chapters, "bitrate": _bitrate,
        "notes": _one_of(NOTES), "tables": _one_of(TABLES), "layout": _one_of(LAYOUTS),
        "format": _one_of(FORMATS), "split": _one_of(SPLITS), "loudness_lufs": _loudness,
        "true_peak_db": lambda key, value: float(_number_in(key, value, *TRUE_PEAK_RANGE, float)),
        "pronounce": lambda key, value: parse_lexicon(value, key),
    }
    return {key: checkers[key](key, value) for key, value in raw.items()}


def _one_of(choices: tuple[str, ...]) -> Any:
    def check(key: str, value: Any) -> str:
        if value not in choices:
            raise InvalidSetting(f"{key}: {shown(value)} is not allowed; use one of {', '.join(choices)}",
                                 key=key)
        return value
    return check


def _voice(key: str, value: Any) -> str | None:
    if value is None:
        return None
    return str(parse_voice(value if isinstance(value, str) else ""))


def _lang(key: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidSetting(f"lang: {shown(value)} must be a language code such as 'en-us'", key="lang")
    return check_language(value)


def _setting_text(key: str, value: Any) -> str | None:
    """A free-text setting (title, author): text, trimmed, at most MAX_TEXT; None when empty."""
    if value is None:
        return None
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise InvalidSetting(f"{key}: {shown(value)} must be text", key=key)
    text = shown_name(str(value).strip())  # a YAML escape may hold a lone surrogate: not UTF-8
    if len(text) > MAX_TEXT:
        raise InvalidSetting(f"{key}: {len(text)} characters is too long; at most {MAX_TEXT}", key=key)
    return text or None


def _number_in(key: str, value: Any, low: float, high: float, kind: type) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InvalidSetting(f"{key}: {shown(value)} must be a number from {low} to {high}", key=key)
    try:
        number = kind(value) if kind is float else int(str(value).strip())
    except ValueError:
        raise InvalidSetting(f"{key}: {shown(value)} must be a number from {low} to {high}", key=key) from None
    if kind is int and isinstance(value, float) and value != int(value):
        raise InvalidSetting(f"{key}: {shown(value)} must be a whole number from {low} to {high}", key=key)
    if not (math.isfinite(number) and low <= number <= high):
        raise InvalidSetting(f"{key}: {shown(value)} is out of range; allowed is {low} to {high}", key=key)
    return number


def _speed(key: str, value: Any) -> float:
    return float(_number_in(key, value, *SPEED_RANGE, float))


def _loudness(key: str, value: Any) -> float | None:
    if value is None:
        return None
    return float(_number_in(key, value, *LOUDNESS_RANGE, float))


def _bitrate(key: str, value: Any) -> int:
    return int(_number_in(key, value, *BITRATE_RANGE, int))


def parse_chapters(key: str, value: Any) -> frozenset[int] | None:
    """``"1-3,7"``, ``[1, 2, 3]`` or ``5`` -> the set of chapter numbers."""
    if value is None or value == "all":
        return None
    if isinstance(value, bool) or not isinstance(value, (list, str, int)):
        raise InvalidSetting(f"chapters: {shown(value)} is not a chapter list; write it like "
                             "'1-3,7' or [1, 2, 3]", key="chapters")
    items = value if isinstance(value, list) else str(value).split(",")
    if len(items) > MAX_CHAPTER_ITEMS:
        raise InvalidSetting(f"chapters: {len(items)} items is too many; use ranges like '1-3'",
                             key="chapters")
    numbers: set[int] = set()
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (str, int)):
            raise InvalidSetting(f"chapters: {shown(item)} is not a chapter number", key="chapters")
        text = str(item).strip()[:40]
        start, dash, end = text.partition("-")
        try:
            first = int(start)
            last = int(end) if dash else first
        except ValueError:
            raise InvalidSetting(
                f"chapters: {shown(value)} is not a chapter list; write it like '1-3,7' or [1, 2, 3]",
                key="chapters",
            ) from None
        if first < 1 or last < first:
            raise InvalidSetting(f"chapters: {text!r} is not a valid range of chapter numbers", key="chapters")
        if last > MAX_CHAPTER:
            raise InvalidSetting(f"chapters: {text!r} goes beyond chapter {MAX_CHAPTER}; "
                                 "see 'kokoro-inbox inspect' for the book's numbers", key="chapters")
        numbers.update(range(first, last + 1))
    if not numbers:
        raise InvalidSetting("chapters: the list is empty", key="chapters")
    return frozenset(numbers)


def format_chapters(numbers: frozenset[int]) -> str:
    """Inverse of parse_chapters: {1,2,3,7} -> '1-3,7'."""
    ordered = sorted(numbers)
    runs: list[str] = []
    start = prev = ordered[0]
    for number in ordered[1:] + [None]:  # type: ignore[list-item]
        if number is not None and number == prev + 1:
            prev = number
            continue
        runs.append(str(start) if start == prev else f"{start}-{prev}")
        if number is not None:
            start = prev = number
    return ",".join(runs)
