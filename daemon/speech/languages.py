"""The languages and voices Kokoro v1.0 speaks, and how a book's language maps onto them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from daemon.errors import InvalidSetting, UnsupportedLanguage


class Language(NamedTuple):
    name: str
    default_voice: str
    voice_prefix: str  # the first letter of the voice ids made for this language


# Code (as used by espeak-ng for phonemes) -> the language.
LANGUAGES: dict[str, Language] = {
    "en-us": Language("English (US)", "af_heart", "a"),
    "en-gb": Language("English (UK)", "bf_emma", "b"),
    "es": Language("Spanish", "ef_dora", "e"),
    "fr-fr": Language("French", "ff_siwis", "f"),
    "hi": Language("Hindi", "hf_alpha", "h"),
    "it": Language("Italian", "if_sara", "i"),
    "ja": Language("Japanese", "jf_alpha", "j"),
    "pt-br": Language("Portuguese (Brazil)", "pf_dora", "p"),
    "cmn": Language("Mandarin Chinese", "zf_xiaobei", "z"),
}

# The 54 voices of the v1.0 voice pack (voices-v1.0.bin).
VOICES: tuple[str, ...] = (
    "af_alloy", "af_aoede", "af_bella", "af_heart", "af_jessica", "af_kore",
    "af_nicole", "af_nova", "af_river", "af_sarah", "af_sky", "am_adam",
    "am_echo", "am_eric", "am_fenrir", "am_liam", "am_michael", "am_onyx",
    "am_puck", "am_santa", "bf_alice", "bf_emma", "bf_isabella", "bf_lily",
    "bm_daniel", "bm_fable", "bm_george", "bm_lewis", "ef_dora", "em_alex",
    "em_santa", "ff_siwis", "hf_alpha", "hf_beta", "hm_omega", "hm_psi",
    "if_sara", "im_nicola", "jf_alpha", "jf_gongitsune", "jf_nezumi",
    "jf_tebukuro", "jm_kumo", "pf_dora", "pm_alex", "pm_santa", "zf_xiaobei",
    "zf_xiaoni", "zf_xiaoxiao", "zf_xiaoyi", "zm_yunjian", "zm_yunxi",
    "zm_yunxia", "zm_yunyang",
)

# A voice id's first letter: the language (and accent) it was made for.
VOICE_LANGUAGES = {"a": ("en-us", "American English"), "b": ("en-gb", "British English"),
                   "e": ("es", "Spanish"), "f": ("fr-fr", "French"), "h": ("hi", "Hindi"),
                   "i": ("it", "Italian"), "j": ("ja", "Japanese"), "p": ("pt-br", "Brazilian Portuguese"),
                   "z": ("cmn", "Mandarin Chinese")}


def describe_voice(voice: str) -> dict[str, str]:
    """A voice as a person names it: ``bf_emma`` is "Emma — British English, female"."""
    lang, accent = VOICE_LANGUAGES[voice[0]]
    gender = "female" if voice[1] == "f" else "male"
    name = voice.partition("_")[2].capitalize()
    return {"id": voice, "name": name, "lang": lang, "language": accent, "gender": gender,
            "label": f"{name} \u2014 {accent}, {gender}"}


# ISO 639-2 codes, as the ID3 TLAN frame wants them.
ISO639_2 = {"en-us": "eng", "en-gb": "eng", "es": "spa", "fr-fr": "fra", "hi": "hin",
            "it": "ita", "ja": "jpn", "pt-br": "por", "cmn": "zho"}

# BCP 47 primary subtags (and a few whole tags) -> our language code.
_BCP47 = {
    "en": "en-us", "en-us": "en-us", "en-gb": "en-gb", "en-uk": "en-gb",
    "en-au": "en-gb", "en-nz": "en-gb", "en-ie": "en-gb", "en-in": "en-gb",
    "es": "es", "fr": "fr-fr", "hi": "hi", "it": "it", "ja": "ja",
    "pt": "pt-br", "pt-br": "pt-br", "zh": "cmn", "cmn": "cmn",
}


def supported_list() -> str:
    return ", ".join(LANGUAGES)


def check_language(code: str) -> str:
    """Return ``code`` if Kokoro speaks it, else raise with the list of those it does."""
    normalised = code.strip().lower().replace("_", "-")
    if normalised in LANGUAGES:
        return normalised
    raise InvalidSetting(
        f"lang: {code!r} is not a supported language; use one of {supported_list()}",
        key="lang",
    )


def language_for_book(dc_language: str | None, fallback: str) -> str:
    """Map the book's ``dc:language`` onto Kokoro's languages.

    No ``dc:language`` means the configured default.  A language Kokoro does
    not speak is an error the user fixes by forcing one.
    """
    if not dc_language or not dc_language.strip():
        return fallback
    tag = dc_language.strip().lower().replace("_", "-")
    for candidate in (tag, "-".join(tag.split("-")[:2]), tag.split("-")[0]):
        if candidate in _BCP47:
            return _BCP47[candidate]
    raise UnsupportedLanguage(
        f"the book's language is {dc_language!r}, which Kokoro cannot read; "
        f"supported languages are {supported_list()}. To read it anyway, set "
        f"'lang' in the book's sidecar (or --lang) to one of them"
    )


def default_voice(lang: str, english_default: str) -> str:
    """The configured English voice for books of its own dialect, else the language's own voice.

    Voice ids start with their dialect ('a' American, 'b' British): a British book is
    read by a British voice even when the configured default is American.
    """
    language = LANGUAGES[lang]
    if lang in ("en-us", "en-gb") and english_default and \
            all(part.strip()[:1] == language.voice_prefix for part in english_default.split(",")):
        return english_default
    return language.default_voice


@dataclass(frozen=True)
class VoiceMix:
    """A voice or a weighted blend of voices, weights summing to 1."""

    parts: tuple[tuple[str, float], ...]

    def __str__(self) -> str:
        if len(self.parts) == 1:
            return self.parts[0][0]
        return ",".join(f"{name}:{round(weight * 100)}" for name, weight in self.parts)


def parse_voice(spec: str, known: tuple[str, ...] | frozenset[str] = VOICES) -> VoiceMix:
    """Parse ``"af_heart"`` or ``"af_sarah:60,am_adam:40"`` into a VoiceMix."""
    if not isinstance(spec, str) or not spec.strip() or len(spec) > 400:
        raise InvalidSetting("voice: must be a voice name such as 'af_heart'", key="voice")
    parts: list[tuple[str, float]] = []
    for item in spec.split(","):
        name, _, weight_text = item.strip().partition(":")
        name = name.strip()
        if name not in known:
            raise InvalidSetting(
                f"voice: {name[:40]!r} is not a known voice; see 'kokoro-inbox voices' "
                f"(blends look like 'af_sarah:60,am_adam:40')",
                key="voice",
            )
        try:
            weight = float(weight_text) if weight_text.strip() else 1.0
        except ValueError:
            raise InvalidSetting(
                f"voice: weight {weight_text[:20]!r} of {name!r} is not a number", key="voice"
            ) from None
        if not 0 < weight < float("inf"):
            raise InvalidSetting(f"voice: weight of {name!r} must be above 0", key="voice")
        parts.append((name, weight))
    total = sum(weight for _, weight in parts)
    return VoiceMix(tuple((name, weight / total) for name, weight in parts))
