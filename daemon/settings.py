"""Settings for one book: config defaults, folder.yaml files, the sidecar, form fields, flags.

Every book setting is declared once, as a field of ``BookSettings``: its default, the
check that validates it wherever it comes from (the config file's ``defaults:``,
``speech:`` and ``output:`` sections, ``folder.yaml``, sidecars, the upload form,
flags), what it affects (``Affects``) and where the config file sets it.  ``KEYS``,
the groups of keys and the config's book keys are all read from those fields.

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
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

import yaml

from daemon.audio.formats import FORMATS as AUDIO_FORMATS
from daemon.audio.formats import OutputOptions
from daemon.book.options import ReadingOptions
from daemon.speech.languages import check_language, default_voice, language_for_book, parse_voice
from daemon.speech.pronounce import LEXICON_FILE, Lexicon, as_mapping, check_total, parse_lexicon
from daemon.speech.pronounce import merged as merge_lexicons

from .errors import InvalidSetting
from .files import read_regular, shown_name

T = TypeVar("T")

SPEED_RANGE = (0.5, 2.0)
# Mono 24 kHz MP3 is MPEG-2 Layer III, whose bitrates stop at 160 kbps.
BITRATE_RANGE = (32, 160)
NOTES = ("inline", "end_of_chapter", "skip")
TABLES = ("rows", "skip")
LAYOUTS = ("flat", "audiobookshelf")  # where the audiobook goes: daemon/audio/library.py
FORMATS = tuple(AUDIO_FORMATS)  # daemon/audio/formats.py
SPLITS = ("book", "chapter")
LOUDNESS_RANGE = (-40.0, -5.0)  # LUFS
TRUE_PEAK_RANGE = (-9.0, 0.0)  # dBTP
SIDECAR_LIMIT = 64 << 10  # bytes; a real sidecar is a few lines
MAX_CHAPTER = 10_000  # no book has more; a range beyond it is a mistake or an attack
MAX_CHAPTER_ITEMS = 1_000
MAX_TEXT = 500  # characters in a title or an author
SIDECAR_SUFFIXES = (".yaml", ".yml", ".YAML", ".YML")
FOLDER_DEFAULTS = "folder.yaml"



class Affects:
    """What a setting affects, which decides what it is part of."""

    AUDIO = "audio"  # what is synthesised: in the plan's identity, so a change redoes the checkpoints
    READING = "reading"  # which text is read: in the plan's identity through the text itself
    ENCODING = "encoding"  # how the checkpoints are encoded (OutputOptions, daemon/audio/formats.py)
    PLACEMENT = "placement"  # where the audiobook goes, not how it sounds (daemon/audio/placement.py)
    TAGS = "tags"  # what the audiobook's tags and the status say
    ALL = (AUDIO, READING, ENCODING, PLACEMENT, TAGS)


_shown = reprlib.Repr()
_shown.maxstring = _shown.maxother = 40
_shown.maxlist = _shown.maxdict = 3
_shown.maxlevel = 2


def shown(value: Any) -> str:
    """A value quoted in an error message, cut short: messages go to status files and logs."""
    text = _shown.repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --------------------------------------------------------------------------- the checks

Check = Callable[[str, Any], Any]  # (the key as the user wrote it, raw value) -> the typed value


def _one_of(choices: tuple[str, ...]) -> Check:
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
    if kind is int and isinstance(value, float) and math.isfinite(value) and value != int(value):
        raise InvalidSetting(f"{key}: {shown(value)} must be a whole number from {low} to {high}", key=key)
    try:
        number = kind(value) if kind is float or isinstance(value, float) else int(str(value).strip())
    except (ValueError, OverflowError):
        raise InvalidSetting(f"{key}: {shown(value)} must be a number from {low} to {high}", key=key) from None
    if not (math.isfinite(number) and low <= number <= high):
        raise InvalidSetting(f"{key}: {shown(value)} is out of range; allowed is {low} to {high}", key=key)
    return number


def _number(low: float, high: float, kind: type = float, nullable: bool = False) -> Check:
    def check(key: str, value: Any) -> Any:
        if value is None and nullable:
            return None
        return kind(_number_in(key, value, low, high, kind))
    return check


def _lexicon(key: str, value: Any) -> Lexicon:
    return parse_lexicon(value, key)


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


# --------------------------------------------------------------------------- the settings model

def setting(default: Any, check: Check, affects: str, config: str | None = None, fallback: bool = False,
            always_recorded: bool = False, plain: Callable[[Any], Any] | None = None) -> Any:
    """Declare one book setting (a ``BookSettings`` field):

    ``check`` validates a raw value from any source; ``affects`` is one of ``Affects.ALL``;
    ``config`` is the config file's section that sets its default for every book (its key
    is the setting's name).  With ``fallback`` the config's value is no default but what a
    book gets when neither it nor any layer decides (the voice of an English book, the
    language of a book that names none), so the book can still decide.  A status record
    shows a setting always (``always_recorded``) or when it is not the default; ``plain``
    turns its value into JSON for records and identities.
    """
    assert affects in Affects.ALL, affects
    return field(default=default, metadata={
        "check": check, "affects": affects, "config": config, "fallback": fallback,
        "always_recorded": always_recorded, "plain": plain})


@dataclass(frozen=True)
class BookSettings:
    voice: str | None = setting(None, _voice, Affects.AUDIO, "defaults", fallback=True, always_recorded=True)
    speed: float = setting(1.0, _number(*SPEED_RANGE), Affects.AUDIO, "defaults", always_recorded=True)
    lang: str | None = setting(None, _lang, Affects.AUDIO, "defaults", fallback=True, always_recorded=True)
    title: str | None = setting(None, _setting_text, Affects.TAGS)
    author: str | None = setting(None, _setting_text, Affects.TAGS)
    chapters: frozenset[int] | None = setting(None, parse_chapters, Affects.READING, plain=format_chapters)
    bitrate: int = setting(64, _number(*BITRATE_RANGE, kind=int), Affects.ENCODING, "defaults",
                           always_recorded=True)
    # footnotes and endnotes: inline | end_of_chapter | skip
    notes: str = setting("inline", _one_of(NOTES), Affects.READING, "speech", always_recorded=True)
    tables: str = setting("rows", _one_of(TABLES), Affects.READING, "speech", always_recorded=True)
    # the listener's pronunciations, merged from every layer (the config's come from the
    # file speech.lexicon names, read by daemon/config.py)
    pronounce: Lexicon = setting((), _lexicon, Affects.AUDIO, plain=as_mapping)
    layout: str = setting("flat", _one_of(LAYOUTS), Affects.PLACEMENT, "output")
    format: str = setting("mp3", _one_of(FORMATS), Affects.ENCODING, "output")
    split: str = setting("book", _one_of(SPLITS), Affects.ENCODING, "output")  # one file, or one per chapter
    # the integrated loudness target; None keeps the model's level
    loudness_lufs: float | None = setting(-18.0, _number(*LOUDNESS_RANGE, nullable=True), Affects.ENCODING,
                                          "output")
    true_peak_db: float = setting(-1.5, _number(*TRUE_PEAK_RANGE), Affects.ENCODING, "output")  # after gain

    def merged(self, overrides: Mapping[str, Any]) -> "BookSettings":
        """A copy with ``overrides`` (raw, unvalidated values) applied; lexicons add up."""
        values = _validated(overrides)
        if "pronounce" in values:
            values["pronounce"] = merge_lexicons(self.pronounce, values["pronounce"])
        return replace(self, **values)

    def as_record(self) -> dict[str, Any]:
        """The settings as written to the status file (resolved ones only): the main ones
        always, the others where they are not the default."""
        shown_always = [f for f in _FIELDS if f.metadata["always_recorded"]]
        shown_if_set = [f for f in _FIELDS if not f.metadata["always_recorded"]
                        and getattr(self, f.name) != f.default]
        return {f.name: _plain(f, getattr(self, f.name)) for f in shown_always + shown_if_set}

    def plain(self, affects: tuple[str, ...] = Affects.ALL) -> dict[str, Any]:
        """Every setting that affects one of ``affects``, as JSON values (for identities)."""
        return {f.name: _plain(f, getattr(self, f.name)) for f in _FIELDS if f.metadata["affects"] in affects}

    def resolve(self, book_language: str | None, default_lang: str,
                english_voice: str) -> "BookSettings":
        """Fill in the language and voice from the book when not set explicitly."""
        lang = self.lang or language_for_book(book_language, default_lang)
        voice = self.voice or default_voice(lang, english_voice)
        return replace(self, lang=lang, voice=voice)


_FIELDS = fields(BookSettings)
KEYS = tuple(f.name for f in _FIELDS)


def keys_affecting(affects: str) -> tuple[str, ...]:
    """The settings that affect one thing (an ``Affects`` value), in declaration order."""
    return tuple(f.name for f in _FIELDS if f.metadata["affects"] == affects)


ENCODING = keys_affecting(Affects.ENCODING)  # never in the plan's identity: checkpoints stay good
PLACEMENT = keys_affecting(Affects.PLACEMENT)


def _plain(setting_field: Any, value: Any) -> Any:
    convert = setting_field.metadata["plain"]
    return convert(value) if convert is not None and value is not None else value


def check_setting(name: str, value: Any, key: str | None = None) -> Any:
    """The one check of a book setting's raw value, wherever it comes from; ``key`` is how
    the source names it in messages (``defaults.voice`` in the config file)."""
    return _BY_NAME[name].metadata["check"](key or name, value)


_BY_NAME = {f.name: f for f in _FIELDS}


def _validated(raw: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        raise InvalidSetting(
            f"{unknown[0]}: unknown setting; allowed keys are {', '.join(KEYS)}",
            key=str(unknown[0]),
        )
    return {key: check_setting(key, value) for key, value in raw.items()}


def options_of(settings: BookSettings, kind: type[T], **others: Any) -> T:
    """``kind`` (a dataclass of a layer that uses some settings: ``ReadingOptions``,
    ``OutputOptions``) filled from the settings of the same names, so none is restated."""
    names = [f.name for f in fields(kind) if f.name in _BY_NAME]  # type: ignore[arg-type]
    return kind(**{name: getattr(settings, name) for name in names}, **others)


def output_options(settings: BookSettings) -> OutputOptions:
    """How the audiobook is encoded: the settings that affect the encoding."""
    return options_of(settings, OutputOptions)


def reading_options(settings: BookSettings, keep_boilerplate: bool) -> ReadingOptions:
    """How the book is read into text: the settings of the same names, and the config's choice
    of boilerplate."""
    return options_of(settings, ReadingOptions, keep_boilerplate=keep_boilerplate)


# --------------------------------------------------------------------------- the config's defaults

@dataclass(frozen=True)
class BookDefaults:
    """The config's say on every book: the settings each one starts from, and the voice and
    language it gets when neither the book nor any layer names one (``defaults.voice``
    reads English books; a book in another language gets that language's own voice)."""

    settings: BookSettings = BookSettings()
    voice: str = "af_heart"
    lang: str = "en-us"

    def resolve(self, requested: BookSettings, book_language: str | None) -> BookSettings:
        return requested.resolve(book_language, self.lang, self.voice)


def config_keys(section: str) -> dict[str, Any]:
    """The book settings a config section sets, with their defaults: the config's schema."""
    return {f.name: getattr(BookDefaults, f.name) if f.metadata["fallback"] else f.default
            for f in _FIELDS if f.metadata["config"] == section}


def check_config_value(section: str, name: str, value: Any) -> Any:
    """A config file's value for book setting ``name``; a fallback (voice, lang) cannot be null."""
    if value is None and _BY_NAME[name].metadata["fallback"]:
        value = ""  # refused as the empty name is
    return check_setting(name, value, f"{section}.{name}")


def defaults_from_config(values: Mapping[str, Any], pronounce: Lexicon = ()) -> BookDefaults:
    """The book defaults from the config's checked ``section.key`` values."""
    book: dict[str, Any] = {}
    fallbacks: dict[str, Any] = {}
    for f in _FIELDS:
        if f.metadata["config"]:
            value = values[f"{f.metadata['config']}.{f.name}"]
            (fallbacks if f.metadata["fallback"] else book)[f.name] = value
    return BookDefaults(BookSettings(pronounce=pronounce, **book), **fallbacks)


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
