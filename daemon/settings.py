"""Settings for one book: the sidecar YAML, form fields or command-line flags.

``BookSettings`` is what the user asked for (``None`` = decide from the book);
``resolve`` turns it into the concrete voice and language once the book's own
metadata is known.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

import yaml

from .errors import InvalidSetting
from .languages import check_language, default_voice, language_for_book, parse_voice

SPEED_RANGE = (0.5, 2.0)
# Mono 24 kHz MP3 is MPEG-2 Layer III, whose bitrates stop at 160 kbps.
BITRATE_RANGE = (32, 160)
KEYS = ("voice", "speed", "lang", "title", "author", "chapters", "bitrate")


@dataclass(frozen=True)
class BookSettings:
    voice: str | None = None
    speed: float = 1.0
    lang: str | None = None
    title: str | None = None
    author: str | None = None
    chapters: frozenset[int] | None = None
    bitrate: int = 64

    def merged(self, overrides: Mapping[str, Any]) -> "BookSettings":
        """A copy with ``overrides`` (raw, unvalidated values) applied."""
        return replace(self, **_validated(overrides))

    def as_record(self) -> dict[str, Any]:
        """The settings as written to the status file (resolved ones only)."""
        record: dict[str, Any] = {
            "voice": self.voice, "speed": self.speed, "lang": self.lang,
            "bitrate": self.bitrate,
        }
        if self.chapters is not None:
            record["chapters"] = format_chapters(self.chapters)
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


def load_sidecar(path: Path) -> dict[str, Any]:
    """Read a sidecar or folder.yaml as a mapping, with a safe loader."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise InvalidSetting(f"{path.name}: not valid YAML ({error})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidSetting(f"{path.name}: cannot be read ({error})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidSetting(f"{path.name}: must be a mapping of keys such as 'voice: af_heart'")
    return data


def _validated(raw: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        raise InvalidSetting(
            f"{unknown[0]}: unknown setting; allowed keys are {', '.join(KEYS)}",
            key=str(unknown[0]),
        )
    checkers = {
        "voice": _voice, "speed": _speed, "lang": _lang, "title": _text,
        "author": _text, "chapters": parse_chapters, "bitrate": _bitrate,
    }
    return {key: checkers[key](key, value) for key, value in raw.items()}


def _voice(key: str, value: Any) -> str | None:
    if value is None:
        return None
    return str(parse_voice(value if isinstance(value, str) else ""))


def _lang(key: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidSetting(f"lang: {value!r} must be a language code such as 'en-us'", key="lang")
    return check_language(value)


def _text(key: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise InvalidSetting(f"{key}: {value!r} must be text", key=key)
    return str(value).strip() or None


def _number_in(key: str, value: Any, low: float, high: float, kind: type) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InvalidSetting(f"{key}: {value!r} must be a number from {low} to {high}", key=key)
    try:
        number = kind(value) if kind is float else int(str(value).strip())
    except ValueError:
        raise InvalidSetting(f"{key}: {value!r} must be a number from {low} to {high}", key=key) from None
    if kind is int and isinstance(value, float) and value != int(value):
        raise InvalidSetting(f"{key}: {value!r} must be a whole number from {low} to {high}", key=key)
    if not (math.isfinite(number) and low <= number <= high):
        raise InvalidSetting(f"{key}: {value!r} is out of range; allowed is {low} to {high}", key=key)
    return number


def _speed(key: str, value: Any) -> float:
    return float(_number_in(key, value, *SPEED_RANGE, float))


def _bitrate(key: str, value: Any) -> int:
    return int(_number_in(key, value, *BITRATE_RANGE, int))


def parse_chapters(key: str, value: Any) -> frozenset[int] | None:
    """``"1-3,7"``, ``[1, 2, 3]`` or ``5`` -> the set of chapter numbers."""
    if value is None or value == "all":
        return None
    items = value if isinstance(value, list) else str(value).split(",")
    numbers: set[int] = set()
    for item in items:
        text = str(item).strip()
        start, dash, end = text.partition("-")
        try:
            first = int(start)
            last = int(end) if dash else first
        except ValueError:
            raise InvalidSetting(
                f"chapters: {value!r} is not a chapter list; write it like '1-3,7' or [1, 2, 3]",
                key="chapters",
            ) from None
        if first < 1 or last < first:
            raise InvalidSetting(f"chapters: {text!r} is not a valid range of chapter numbers", key="chapters")
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
