"""Text to speech-ready pieces: nothing dropped, nothing over the model's limit."""

from __future__ import annotations

import random
import re

import pytest

from daemon.book.epub import Chapter, Paragraph
from daemon.speech.spoken import (
    MAX_PIECE,
    PAUSE_CHAPTER,
    PAUSE_CLAUSE,
    PAUSE_HEADING,
    PAUSE_PARAGRAPH,
    PAUSE_SENTENCE,
    chapter_pieces,
    number_words,
    pieces,
    plan_segments,
    roman_to_int,
    speakable,
    split_sentences,
)

from .corpus import corpus_book

WORDS = ("the lawyer walked slowly through the fog, and the lamps burned; nobody "
         "answered — yet he knocked again: twice, thrice").split()


def long_sentence(length: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < length:
        words.append(rng.choice(WORDS))
    return " ".join(words).capitalize() + "."


@pytest.mark.parametrize("text, spoken", [
    ("Chapter IV", "Chapter four."),
    ("CHAPTER XIV.", "Chapter fourteen."),
    ("XII", "Twelve."),
    ("IV.", "Four."),
    ("THE FIR TREE", "The Fir Tree."),
    ("Letter 1", "Letter one."),
    ("HOW MR. HANS SET OFF", "How Mister Hans Set Off."),  # Ruskin, in the IDPF children's book
    ("THE KING'S SON", "The King's Son."),
    ("V. WHAT THE THUNDER SAID", "Five. What The Thunder Said."),  # Eliot, The Waste Land (IDPF)
    ("I. The Burial of the Dead", "One. The Burial of the Dead."),
])
def test_headings(text, spoken):
    assert speakable(text, heading=True) == spoken


@pytest.mark.parametrize("text, spoken", [
    ("He said—no—never…", "He said — no — never..."),
    ("“Well,” said he, ‘I promise.’", '"Well," said he, \'I promise.\''),
    ("The war of 1914–1918 ended.", "The war of nineteen fourteen to nineteen eighteen ended."),
    ("Bread & butter", "Bread and butter"),
    ("I saw it in Chapter II of the book.", "I saw it in Chapter two of the book."),
    ("I went to Mix Street.", "I went to Mix Street."),  # not a numeral after a keyword
    ("It was [1988] then.", "It was [nineteen eighty-eight] then."),  # brackets are not notes
    ("Mr. Darcy said—no—never…", "Mister Darcy said — no — never..."),
])
def test_body_text(text, spoken):
    assert speakable(text) == spoken


@pytest.mark.parametrize("text, lang, spoken", [
    ("TOME II", "fr-fr", "Tome deux."),
    ("IV.", "fr-fr", "Quatre."),
    ("XII", "es", "Doce."),
    ("第1章", "ja", "第一章。"),
])
def test_headings_in_other_languages(text, lang, spoken):
    assert speakable(text, heading=True, lang=lang) == spoken


def test_non_english_text_keeps_its_own_words():
    assert speakable("Bread & butter", lang="fr-fr") == "Bread et butter"
    assert speakable("「はい……」と言った。", lang="ja") == "「はい……」と言った。"


def test_numbers():
    assert [roman_to_int(x) for x in ("I", "IV", "XLII", "MCMXCIX", "IIII", "VX", "ABC")] == \
        [1, 4, 42, 1999, None, None, None]
    assert number_words(42) == "forty-two"
    assert number_words(1999) == "one thousand nine hundred and ninety-nine"


def test_sentences_keep_their_quotes_and_abbreviations():
    text = '"Is it you?" said Mr. Utterson. H. G. Wells wrote it. Done!'
    assert split_sentences(text) == ['"Is it you?"', "said Mr. Utterson.", "H. G. Wells wrote it.", "Done!"]


def test_a_pronoun_or_a_no_that_ends_a_sentence_still_ends_it():
    # after normalize, a 'No.' or an 'I.' that is left is a word ending its sentence (Poe)
    assert split_sentences("“No. They must get justice,” said I. Then he left.") == [
        "“No.", "They must get justice,” said I.", "Then he left."]


def test_cjk_sentences_end_at_their_own_marks():
    text = "今日は晴れ。明日は雨！本当？「はい。」と言った。「いいえ。」それから。"
    assert split_sentences(text) == ["今日は晴れ。", "明日は雨！", "本当？", "「はい。」と言った。", "「いいえ。」", "それから。"]
    assert split_sentences("我来了。你呢？好！") == ["我来了。", "你呢？", "好！"]


def test_hindi_sentences_end_at_the_danda():
    assert split_sentences("भारत आज़ाद हुआ। फिर क्या हुआ?") == ["भारत आज़ाद हुआ।", "फिर क्या हुआ?"]


def test_a_long_cjk_sentence_is_cut_at_its_commas_never_mid_word():
    clause = "吾輩は猫である名前はまだ無いどこで生れたかとんと見当がつかぬ"  # 30 characters
    text = "、".join([clause] * 25) + "。次の文です。"
    cut = pieces(text)
    assert "".join(p for p, _ in cut) == text  # no character lost, no space added
    assert all(0 < len(p) <= MAX_PIECE for p, _ in cut)
    assert all(p.endswith(("、", "。")) for p, _ in cut)
    assert cut[0][1] == PAUSE_CLAUSE and cut[-1][1] == PAUSE_SENTENCE


def test_japanese_corpus_chapter_is_cut_at_sentence_ends():
    """Natsume Sōseki's Kusamakura (IDPF sample): before, pieces were cut every 300
    characters wherever that fell; now every piece ends a sentence or a clause."""
    from daemon.book.epub import read_book
    book = corpus_book("idpf_ja_kusamakura_vertical_PATCHED-no-audio.epub")
    chapter = read_book(book).readable()[0]
    cut = chapter_pieces(chapter, "ja")
    assert all(len(p) <= MAX_PIECE for p, _ in cut)
    body = [p for p, _ in cut if len(p) > 40]
    # (the chapter quotes Shelley in English: that piece ends with its own full stop)
    assert all(p.endswith(("。", "」", "、", "！", "？", "…", "）", ".")) for p in body)
    spoken = "".join(p for p, _ in cut).replace(" ", "")
    printed = "".join(speakable(q.text, q.heading, "ja") for q in chapter.paragraphs).replace(" ", "")
    assert spoken == printed


@pytest.mark.parametrize("length", [50, 299, 301, 2000, 9000])
def test_no_word_is_ever_dropped_and_every_piece_fits(length):
    text = long_sentence(length) + " " + long_sentence(length // 3, seed=2)
    cut = pieces(text)
    assert " ".join(p for p, _ in cut).split() == text.split()
    assert all(0 < len(p) <= MAX_PIECE for p, _ in cut)


def test_a_word_longer_than_a_piece_is_cut_not_dropped():
    word = "a" * 700
    cut = pieces(f"Look: {word} there.")
    assert "".join(p for p, _ in cut).replace(" ", "").replace("Look:", "").replace("there.", "") == word


def test_long_sentences_split_at_clauses_first():
    cut = pieces(long_sentence(2000))
    assert len(cut) > 6
    # each cut but the last ends at a clause mark or dash when one was available
    ends = [p.rstrip()[-1] for p, _ in cut[:-1]]
    assert sum(e in ",;:—" for e in ends) >= len(ends) * 0.8


def test_two_thousand_character_sentence_is_within_the_phoneme_limit():
    """The real phonemizer (espeak-ng, no model needed): every piece < 510 phonemes."""
    from kokoro_onnx.tokenizer import Tokenizer

    tokenizer = Tokenizer()
    sentence = long_sentence(2000, seed=7)
    cut = pieces(sentence)
    lengths = [len(tokenizer.phonemize(p, "en-us")) for p, _ in cut]
    assert max(lengths) < 510
    # and the pieces together carry as many phonemes as the sentence read whole
    whole = len(tokenizer.phonemize(sentence, "en-us"))
    assert abs(sum(lengths) + len(lengths) - 1 - whole) <= len(lengths) * 2


def test_pauses_follow_paragraphs_headings_and_chapters():
    chapter = Chapter(1, "One", (Paragraph("One", heading=True), Paragraph("First. Second."),
                                 Paragraph("* * *"), Paragraph("Last one")))
    cut = chapter_pieces(chapter)
    assert cut[0] == ("One.", PAUSE_HEADING)
    assert cut[1] == ("First. Second.", PAUSE_HEADING)  # a scene break is a long pause
    assert cut[-1] == ("Last one", PAUSE_CHAPTER)
    assert PAUSE_PARAGRAPH < PAUSE_HEADING < PAUSE_CHAPTER


def test_chapter_pieces_read_in_the_books_language():
    chapter = Chapter(1, "Un", (Paragraph("Chapitre IV", heading=True), Paragraph("M. Pataud paya 3,50 €.")))
    assert [p for p, _ in chapter_pieces(chapter, "fr-fr")] == [
        "Chapitre quatre.", "monsieur Pataud paya trois euros et cinquante centimes."]
    assert [p for p, _ in plan_segments([chapter], lang="fr-fr")[0].pieces][1].startswith("monsieur")


def test_segments_stay_inside_chapters_and_shrink_at_the_end():
    chapters = [Chapter(n, f"C{n}", tuple(Paragraph(long_sentence(400, seed=n * 10 + k)) for k in range(12)))
                for n in (1, 2, 3)]
    segments = plan_segments(chapters, workers=2)
    assert [s.index for s in segments] == list(range(len(segments)))
    for chapter in chapters:  # every word of each chapter, in order, in that chapter's segments only
        own = [s for s in segments if s.chapter == chapter.index]
        spoken_words = re.findall(r"[a-z]+", " ".join(text for s in own for text, _ in s.pieces))
        assert spoken_words == re.findall(r"[a-z]+", " ".join(p.text for p in chapter.paragraphs))
        assert [s.last_of_chapter for s in own] == [False] * (len(own) - 1) + [True]
    assert segments[-1].chars < segments[0].chars


def test_verse_lines_and_table_rows_pause_less_than_paragraphs():
    chapter = Chapter(1, "Poem", (Paragraph("April is the cruellest month, breeding", kind="verse"),
                                  Paragraph("Lilacs out of the dead land, mixing", kind="verse"),
                                  Paragraph("Year 1881: Chests 134,064.", kind="table"),
                                  Paragraph("Then prose again."), Paragraph("The end.")))
    pauses = [pause for _, pause in chapter_pieces(chapter)]
    assert pauses[0] < PAUSE_PARAGRAPH and pauses[2] < PAUSE_PARAGRAPH and pauses[3] == PAUSE_PARAGRAPH
