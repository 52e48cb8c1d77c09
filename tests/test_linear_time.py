"""Book text is hostile: every rule of the text path runs in time linear in its length.

A 1.6 KB book, "Hello" and 200,000 full stops, froze the daemon (issue 13): the rule that
finds sentence ends tried the whole run of stops again from each of them, and rules for
names with numerals, e-mail and web addresses did the same with other runs.  Each case
here feeds one entry point a long run of what a rule looks for and times it at n and 10n
characters: linear time takes about 10 times as long, quadratic 100 times.  Ratios are
measured within one run, each time the best of a few, so a busy machine does not fail them;
a run that would take far longer than linear is stopped and fails.
"""

from __future__ import annotations

import contextlib
import gc
import math
import signal
import time
from typing import Callable, Iterator

import pytest

from daemon.book.chapters import _headings_into_next, _Part
from daemon.book.epub import read_book
from daemon.book.text import Paragraph
from daemon.converter import prepare
from daemon.settings import BookSettings
from daemon.speech.context import next_word
from daemon.speech.normalize import normalize
from daemon.speech.pronounce import parse_lexicon, respell
from daemon.speech.spoken import pieces, plan_segments, speakable, split_sentences

from .epubs import simple_book

GROWTH = 10  # the longer text is this many times the shorter
# Linear time grows about 10 times, quadratic about 100.  Not 15: a longer text also costs
# the allocator fresh memory, and under `make test` (four pytest workers on two cores) a
# linear rule has shown 41 twice in its two measurements.
BOUND = 50
SMALLEST = 0.003  # seconds the shorter text must take to be timed reliably

# Opens every gate of normalize (digits, signs, web addresses), so that all its rules run.
GATES = "1 & a@b.c www.x.com § "


class _TooSlow(Exception):
    pass


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Stop the call after ``seconds`` (the regex engine checks for signals as it runs)."""
    def stop(signum: int, frame: object) -> None:
        raise _TooSlow

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _best(func: Callable[[str], object], text: str, repeat: int, limit: float) -> float:
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        try:
            with _deadline(limit):
                func(text)
        except _TooSlow:
            return limit
        best = min(best, time.perf_counter() - start)
    return best


def growth(func: Callable[[str], object], make: Callable[[int], str], size: int = 1_000) -> float:
    """How many times longer ``func`` takes on ``make(10 n)`` than on ``make(n)``, n from
    ``size`` up until the shorter text takes a millisecond or more."""
    gc.disable()
    try:
        func(make(size))  # caches warm
        while (small := _best(func, make(size), 5, 10.0)) < SMALLEST and size < 200_000:
            size *= 2
        big = _best(func, make(size * GROWTH), 3, max(0.5, 2 * BOUND * small))
    finally:
        gc.enable()
    return big / small


def runs(unit: str, before: str = "", after: str = "") -> Callable[[int], str]:
    """Text of ``n`` characters or so: ``unit`` again and again, between ``before`` and ``after``."""
    return lambda n: before + unit * max(1, n // len(unit)) + after


def _assert_linear(func: Callable[[str], object], make: Callable[[int], str], size: int = 1_000) -> None:
    ratio = growth(func, make, size)
    for _ in range(2):  # a busy machine can stall a timing; a quadratic rule fails every time
        if ratio < BOUND:
            break
        ratio = min(ratio, growth(func, make, size))
    assert ratio < BOUND, (f"10 times the text took {ratio:.0f} times as long "
                           f"(linear is about 10): {make(40)[:40]!r}...")


# (what the run is, the text) for normalize; the rule each one stalled names the case
NORMALIZE_CASES = {
    "regnal: A-A-A-": runs("A-"),
    "regnal: A'A'A'": runs("A'"),
    "regnal: I’I’I’": runs("I’"),
    "e-mail: -a-a-a": runs("-a", GATES),
    "e-mail: 1-1-1-": runs("1-", GATES),
    "web address: a.a.a.": runs("a.", GATES),
    "web address: 1.51.5": runs("1.5", GATES),
    "web address: Rs.Rs.": runs("Rs.", GATES),
    "web address end: .).).)x": runs(".)", "http://x", "x"),
    "ordinal of many digits": runs("1", "", "st"),  # (int() of 5,000 digits raised)
}
# Rules that were linear already, kept so: what they find, run on and on.
LINEAR_ALREADY = {
    "No. I No. I": runs("No. I "),
    "full stops": runs(".", "Hello"),
    "spaces": runs(" ", GATES + "a"),
    "digits": runs("1", GATES),
    "money: £1£1": runs("£1", GATES),
    "initials: A.A.A.": runs("A."),
    "roman numerals": runs("XIV"),
    "greek": runs("αβ "),
}
LANGUAGES = ("en-us", "fr-fr", "es", "hi", "ja", "cmn")


@pytest.mark.parametrize("case", list(NORMALIZE_CASES))
def test_normalize_is_linear_in_english(case):
    _assert_linear(lambda text: normalize(text, "en-us"), NORMALIZE_CASES[case])


def test_a_number_looks_no_further_than_a_word_ahead():
    """'in 1881 he' is a year, '1881 chests' a quantity: each number read its next word, and
    in '1881x1881x...' that was the rest of the paragraph (too cheap a scan to time here)."""
    assert len(next_word("1881" + "x1881" * 100_000, 4)) <= 100


def test_a_signature_after_a_long_run_of_brackets_is_linear():
    """Each 'M.' looked back over all the '(' before it; the cost shows from 20,000 characters."""
    _assert_linear(lambda text: normalize(text, "en-us"),
                   lambda n: "(" * (n // 2) + "M. Xa " * (n // 12), size=20_000)


@pytest.mark.parametrize("case", list(LINEAR_ALREADY))
def test_rules_that_were_linear_stay_linear(case):
    _assert_linear(lambda text: normalize(text, "en-us"), LINEAR_ALREADY[case])


@pytest.mark.parametrize("lang", LANGUAGES[1:])
@pytest.mark.parametrize("case", ["regnal: A-A-A-", "web address: a.a.a."])
def test_normalize_is_linear_in_every_language(lang, case):
    _assert_linear(lambda text: normalize(text, lang), NORMALIZE_CASES[case])


SENTENCE_CASES = {
    "full stops": runs(".", "Hello"),
    "ellipses": runs("…", "Hello"),
    "?!": runs("?!", "Hello"),
    "danda": runs("।", "नमस्ते", "क"),
    "spaces before no dash": runs(" ", "a", "b"),
}


@pytest.mark.parametrize("case", list(SENTENCE_CASES))
def test_sentences_and_pieces_are_linear(case):
    _assert_linear(lambda text: pieces(text), SENTENCE_CASES[case])


def test_split_sentences_is_linear():
    _assert_linear(split_sentences, SENTENCE_CASES["full stops"])


@pytest.mark.parametrize("heading", [False, True])
@pytest.mark.parametrize("unit", [" ", "-a"])
def test_speakable_is_linear(unit, heading):
    _assert_linear(lambda text: speakable(text, heading=heading), runs(unit, GATES))


@pytest.mark.parametrize("unit", ["a-", "Hyde "])
def test_lexicon_matching_stays_linear_in_the_text(unit):
    """(Its cost grew with the number of entries: test_pronounce.py; in the text it was linear.)"""
    lexicon = parse_lexicon({"Hyde": "Hide", "a-a-a-b": "x", "St.": "Saint", "hyde-park": "y"}, "test")
    _assert_linear(lambda text: respell(text, lexicon), runs(unit))


def test_a_book_of_hello_and_200000_full_stops_plans_like_any_other(tmp_path):
    """The book of the issue (prepare and plan_segments, what the daemon does in its main
    thread) takes no longer than an ordinary book of the same length, give or take."""
    hostile = simple_book(tmp_path / "dots.epub", [("One", ["Hello" + "." * 200_000])])
    ordinary = simple_book(tmp_path / "words.epub", [("One", ["It was a dark night. " * 9_800])])

    def plan(book):
        def run(_: str) -> None:
            prepared = prepare(book, BookSettings())
            plan_segments(list(prepared.chapters), workers=2, lang=prepared.settings.lang)
        return run

    baseline = _best(plan(ordinary), "", 2, 60.0)
    took = _best(plan(hostile), "", 2, max(5.0, 20 * baseline))
    assert took < 5 * baseline, f"{took:.1f} s for the hostile book, {baseline:.1f} s for an ordinary one"


def test_a_note_of_many_links_is_read_in_linear_time(tmp_path):
    """Each link in a note joined all the note's text read so far, to see if any was said."""
    def book(n: int):
        links = '<a href="#t">w</a> ' * (n // 10)
        note = f'<aside epub:type="footnote" id="n1"><p><a href="#r">1</a> {links}</p></aside>'
        return simple_book(tmp_path / f"note{n}.epub",
                           [("One", ['<p id="r">Text<a epub:type="noteref" href="#n1">1</a>.</p>', note])])

    _assert_linear(lambda path: read_book(path), book, size=20_000)


def test_many_section_headings_move_into_the_chapter_in_linear_time():
    """Headings before a chapter were put in front of it one at a time, each moving the rest."""
    heading = Paragraph("Part", heading=True, kind="heading")

    def merge(n: int) -> None:
        parts = [_Part("Part", [heading], None, i) for i in range(n // 2)]
        parts.append(_Part("Chapter", [Paragraph("Words. " * 300)], None, n))
        _headings_into_next(parts)

    _assert_linear(merge, lambda n: n, size=20_000)
