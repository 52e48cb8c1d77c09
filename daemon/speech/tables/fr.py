"""French word tables: what the normalisation rules say for French printed forms
(the names are explained in :mod:`daemon.speech.tables`)."""

from __future__ import annotations

WORDS = {"point": "virgule", "and": "et", "at": "arobase", "dot": "point", "percent": "pour cent",
         "to": "à", "over": "sur"}

CURRENCIES = {
    "£": ("livre", "livres", "penny", "pence", "f"), "$": ("dollar", "dollars", "cent", "cents", "m"),
    "€": ("euro", "euros", "centime", "centimes", "m"), "¥": ("yen", "yens", "sen", "sen", "m"),
    "R$": ("réal", "réais", "centavo", "centavos", "m"),
}

ABBREVIATIONS = {
    **{k: (v, "title") for k, v in {
        "MM.": "messieurs", "Mme": "madame", "Mme.": "madame", "Mmes": "mesdames",
        "Mlle": "mademoiselle", "Mlle.": "mademoiselle", "Mlles": "mesdemoiselles",
        "Me": "maître", "Mgr": "monseigneur", "Mgr.": "monseigneur", "Dr": "docteur",
        "Dr.": "docteur", "Pr": "professeur", "St": "saint", "Ste": "sainte", "St.": "saint",
        "Ste.": "sainte", "Vve": "veuve",
    }.items()},
    **{k: (v, "lead") for k, v in {
        "p. ex.": "par exemple", "c.-à-d.": "c'est-à-dire", "cf.": "confer", "env.": "environ",
    }.items()},
    **{k: (v, "word") for k, v in {
        "etc.": "et cetera", "&c.": "et cetera", "Cie": "compagnie", "Cie.": "compagnie",
        "av. J.-C.": "avant Jésus-Christ", "apr. J.-C.": "après Jésus-Christ",
        "J.-C.": "Jésus-Christ",
    }.items()},
}

COUNTERS = {
    "n°": "numéro", "N°": "numéro", "nº": "numéro", "Nº": "numéro", "no": "numéro", "No": "numéro",
    "p.": "page", "pp.": "pages", "t.": "tome", "vol.": "volume", "chap.": "chapitre",
    "art.": "article", "fig.": "figure", "#": "numéro",
}

SYMBOLS = {"&": "et", "§": "paragraphe", "§§": "paragraphes", "¶": "alinéa", "×": "fois", "+": "plus",
           "=": "égale"}

UNITS = {
    "°C": ("degré Celsius", "degrés Celsius"), "°": ("degré", "degrés"), "′": ("minute", "minutes"),
    "″": ("seconde", "secondes"), "km": ("kilomètre", "kilomètres"), "cm": ("centimètre", "centimètres"),
    "mm": ("millimètre", "millimètres"), "kg": ("kilogramme", "kilogrammes"), "m": ("mètre", "mètres"),
}

FRACTIONS = {(1, 2): ("un demi", "demi"), (1, 4): ("un quart",), (3, 4): ("trois quarts",),
             (1, 3): ("un tiers",), (2, 3): ("deux tiers",)}

ROMAN_KEYWORDS = ("Chapitre chapitre Livre livre Tome tome Partie partie Acte acte Scène scène Chant chant "
                  "Volume volume Lettre Section Article article Annexe Psaume")

TITLE_LETTERS = {"M": "monsieur"}

ORDINAL_SUFFIXES = r"ᵉʳᵉ|ᵉʳ|ᵉ|ères|ère|ers|er|res|re|èmes|ème|eme|es|e"
ROMAN_SUFFIXES = r"ème|e|er|re|ère"
