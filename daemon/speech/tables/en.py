"""English word tables: what the normalisation rules say for English printed forms.

Shared with every language's module: ``WORDS``, ``CURRENCIES``, ``ABBREVIATIONS``,
``COUNTERS``, ``SYMBOLS``, ``UNITS``, ``FRACTIONS``, ``ROMAN_KEYWORDS``,
``TITLE_LETTERS``, ``ORDINAL_SUFFIXES`` and ``ROMAN_SUFFIXES`` (see
:mod:`daemon.speech.tables`).  The rest are read only by rules that exist for English
books alone (old money, dates, chapter and verse, compass bearings).
"""

from __future__ import annotations

WORDS = {"point": "point", "and": "and", "at": "at", "dot": "dot", "percent": "percent",
         "to": "to", "over": "over"}

# symbol -> (singular, plural, minor singular, minor plural, gender of the major unit).
# This table also names the signs other languages' tables leave out.
CURRENCIES = {
    "£": ("pound", "pounds", "penny", "pence", "m"), "$": ("dollar", "dollars", "cent", "cents", "m"),
    "US$": ("dollar", "dollars", "cent", "cents", "m"), "€": ("euro", "euros", "cent", "cents", "m"),
    "¥": ("yen", "yen", "sen", "sen", "m"), "￥": ("yen", "yen", "sen", "sen", "m"),
    "₹": ("rupee", "rupees", "paisa", "paise", "m"), "Rs.": ("rupee", "rupees", "paisa", "paise", "m"),
    "R$": ("real", "reais", "centavo", "centavos", "m"), "L": ("pound", "pounds", "penny", "pence", "m"),
    "रु.": ("rupee", "rupees", "paisa", "paise", "m"),
}

# printed -> (spoken, kind).  'title' and 'lead' precede what they qualify and never end
# a sentence; 'word' keeps its full stop where the next word starts a sentence.
ABBREVIATIONS = {
    **{k: (v, "title") for k, v in {
        "Mr.": "Mister", "Mr": "Mister", "Mrs.": "Missus", "Mrs": "Missus", "Ms.": "Miz",
        "Messrs.": "Messers", "Messrs": "Messers", "Mme.": "Madame", "Mme": "Madame",
        "Mlle.": "Mademoiselle", "Mlle": "Mademoiselle", "Dr.": "Doctor", "Dr": "Doctor",
        "Prof.": "Professor", "Rev.": "Reverend", "Revd.": "Reverend", "Capt.": "Captain",
        "Col.": "Colonel", "Gen.": "General", "Lieut.": "Lieutenant", "Lt.": "Lieutenant",
        "Sgt.": "Sergeant", "Serj.": "Serjeant", "Maj.": "Major", "Adm.": "Admiral",
        "Gov.": "Governor", "Hon.": "Honourable", "Rt.": "Right",
        "Mt.": "Mount", "Ft.": "Fort", "Pres.": "President", "Supt.": "Superintendent",
        "Insp.": "Inspector", "Fr.": "Father", "Bp.": "Bishop", "Abp.": "Archbishop",
    }.items()},
    **{k: (v, "lead") for k, v in {
        "i.e.": "that is", "e.g.": "for example", "viz.": "namely", "cf.": "compare", "Cf.": "Compare",
        "vs.": "versus",
    }.items()},
    **{k: (v, "word") for k, v in {
        "etc.": "et cetera", "&c.": "et cetera", "&c": "et cetera", "Esq.": "Esquire",
        "Jr.": "Junior", "Sr.": "Senior", "Bros.": "Brothers",
        "Co.": "Company", "Ltd.": "Limited", "Inc.": "Incorporated", "ibid.": "ibidem",
        "Ibid.": "Ibidem", "inst.": "instant", "ult.": "ultimo", "MS.": "manuscript",
        "MSS.": "manuscripts", "a.m.": "a-m", "p.m.": "p-m", "A.M.": "A-M", "P.M.": "P-M",
    }.items()},
}

# Words that introduce a number ('No. 5', 'pp. 12-14', 'vol. iv'): spoken only before one.
COUNTERS = {
    "No.": "Number", "Nos.": "Numbers", "no.": "number", "nos.": "numbers", "p.": "page",
    "pp.": "pages", "vol.": "volume", "Vol.": "Volume", "vols.": "volumes", "Vols.": "Volumes",
    "ch.": "chapter", "Ch.": "Chapter", "chap.": "chapter", "Chap.": "Chapter", "fig.": "figure",
    "Fig.": "Figure", "figs.": "figures", "art.": "article", "Art.": "Article", "c.": "circa",
    "ca.": "circa", "l.": "line", "ll.": "lines", "#": "number",
}

# This table also names the signs other languages' tables leave out.
SYMBOLS = {"&": "and", "§": "section", "§§": "sections", "¶": "paragraph", "×": "by", "+": "plus",
           "=": "equals"}

# unit -> (singular, plural), in British spelling (UNITS_US below for en-us)
UNITS = {
    "°C": ("degree Celsius", "degrees Celsius"), "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
    "°": ("degree", "degrees"), "′": ("minute", "minutes"), "″": ("second", "seconds"),
    "ft": ("foot", "feet"), "in.": ("inch", "inches"), "lb": ("pound", "pounds"),
    "lbs": ("pounds", "pounds"), "oz": ("ounce", "ounces"), "yds": ("yards", "yards"),
    "yd": ("yard", "yards"), "doz": ("dozen", "dozen"), "cwt": ("hundredweight", "hundredweight"),
    "mph": ("mile per hour", "miles per hour"), "km": ("kilometre", "kilometres"),
    "cm": ("centimetre", "centimetres"), "mm": ("millimetre", "millimetres"),
    "kg": ("kilogram", "kilograms"),
}
UNITS_US = {unit: tuple(word.replace("metre", "meter") for word in words) for unit, words in UNITS.items()}

# (top, bottom) -> (alone, after a whole number)
FRACTIONS = {(1, 2): ("one half", "a half"), (1, 4): ("one quarter", "a quarter"), (3, 4): ("three quarters",),
             (1, 3): ("one third", "a third"), (2, 3): ("two thirds",)}

# Words before a Roman numeral that counts ('Chapter XII'); also the table of the
# languages that have none of their own.
ROMAN_KEYWORDS = ("Chapter Book Part Volume Letter Section Act Scene Canto Stave Article Appendix Psalm Plate "
                  "War Tome")

# A capital and a full stop before a name: M. Dupin
TITLE_LETTERS = {"M": "Monsieur"}

# What follows an ordinal's figure (1st, 2d) and a Roman numeral's (the XVIIIth), as regexes
ORDINAL_SUFFIXES = r"st|nd|rd|th|ST|ND|RD|TH|(?<=[23])[dD]"
ROMAN_SUFFIXES = r"th|st|nd|rd"

# --------------------------------------------------------------------------- English alone

MONTHS = "January February March April May June July August September October November December".split()
MONTH_ABBREVIATIONS = {"Jan": "January", "Feb": "February", "Mar": "March", "Apr": "April", "Jun": "June",
                       "Jul": "July", "Aug": "August", "Sep": "September", "Sept": "September",
                       "Oct": "October", "Nov": "November", "Dec": "December"}

# Words ending in s that may follow a year ('in 1881 was', '1881 this') without being counted
NOT_PLURALS = frozenset(
    "was is has his this its as us thus yes whereas unless perhaps always afterwards towards besides "
    "sometimes upwards downwards less across alas nevertheless regardless hers ours theirs yours".split())
IRREGULAR_PLURALS = frozenset(
    "men women children people feet teeth geese mice oxen sheep deer cattle head foot pence swine "
    "fish horse infantry cavalry souls".split())

BIBLE_BOOKS = (
    "Genesis Exodus Leviticus Numbers Deuteronomy Joshua Judges Ruth Samuel Kings Chronicles Ezra "
    "Nehemiah Esther Job Psalms? Proverbs Ecclesiastes Isaiah Jeremiah Lamentations Ezekiel Daniel "
    "Hosea Joel Amos Obadiah Jonah Micah Nahum Habakkuk Zephaniah Haggai Zechariah Malachi Matthew "
    "Mark Luke John Acts Romans Corinthians Galatians Ephesians Philippians Colossians "
    "Thessalonians Timothy Titus Philemon Hebrews James Peter Jude Revelation").split()

COMPASS_POINTS = {"N": "north", "S": "south", "E": "east", "W": "west"}
# Words after a lone compass letter that make it a bearing ('due W. of it')
AFTER_A_BEARING = {"of", "by", "and", "to", "from", "or", "in", "at", "quarter", "half"}
