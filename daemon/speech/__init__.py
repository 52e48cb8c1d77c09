"""From printed text to what the narrator says: the book's paragraphs cut into spoken pieces
and segments (:mod:`~daemon.speech.spoken`), words to phonemes (:mod:`~daemon.speech.g2p`),
the listener's lexicon (:mod:`~daemon.speech.pronounce`), Kokoro's languages and voices
(:mod:`~daemon.speech.languages`), and the normalisation of printed forms.

Normalisation, split by concern: :mod:`~daemon.speech.normalize` (the entry point:
``normalize`` and ``trace``, and the order of the rules), one module per kind of printed
form (:mod:`~daemon.speech.web`, :mod:`~daemon.speech.symbols`, :mod:`~daemon.speech.money`,
:mod:`~daemon.speech.citations`, :mod:`~daemon.speech.quantities`,
:mod:`~daemon.speech.dates`, :mod:`~daemon.speech.abbreviations`,
:mod:`~daemon.speech.numerals`, :mod:`~daemon.speech.greek`), the words for numbers
(:mod:`~daemon.speech.numbers`), how each language prints them
(:mod:`~daemon.speech.profiles`), what a rule is (:mod:`~daemon.speech.rules`), the
look around a match (:mod:`~daemon.speech.context`), and the word tables, one module
per language (:mod:`daemon.speech.tables`).
"""
