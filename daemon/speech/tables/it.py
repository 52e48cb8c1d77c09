"""Italian word tables: what the normalisation rules say for Italian printed forms
(the names are explained in :mod:`daemon.speech.tables`)."""

from __future__ import annotations

WORDS = {"point": "virgola", "and": "e", "at": "chiocciola", "dot": "punto", "percent": "per cento",
         "to": "a", "over": "su"}

CURRENCIES = {
    "£": ("sterlina", "sterline", "penny", "pence", "f"),
    "$": ("dollaro", "dollari", "centesimo", "centesimi", "m"),
    "€": ("euro", "euro", "centesimo", "centesimi", "m"), "¥": ("yen", "yen", "sen", "sen", "m"),
}

ABBREVIATIONS = {
    **{k: (v, "title") for k, v in {
        "Sig.": "signor", "Sig.ra": "signora", "Sig.na": "signorina", "Sigg.": "signori",
        "Dott.": "dottor", "Dott.ssa": "dottoressa", "Dr.": "dottor", "Prof.": "professor",
        "Prof.ssa": "professoressa", "Avv.": "avvocato", "Ing.": "ingegner", "On.": "onorevole",
        "Mons.": "monsignor", "Ill.mo": "illustrissimo", "Gent.mo": "gentilissimo",
        "Gent.ma": "gentilissima", "Egr.": "egregio",
    }.items()},
    **{k: (v, "lead") for k, v in {"ad es.": "ad esempio", "p. es.": "per esempio", "cfr.": "confronta"}.items()},
    **{k: (v, "word") for k, v in {
        "ecc.": "eccetera", "etc.": "eccetera", "a.C.": "avanti Cristo", "d.C.": "dopo Cristo",
        "c.d.": "cosiddetto", "ca.": "circa",
    }.items()},
}

COUNTERS = {
    "n.": "numero", "n°": "numero", "nº": "numero", "N.": "numero", "p.": "pagina",
    "pag.": "pagina", "pp.": "pagine", "pagg.": "pagine", "vol.": "volume", "cap.": "capitolo",
    "art.": "articolo", "fig.": "figura", "#": "numero",
}

SYMBOLS = {"&": "e", "§": "paragrafo", "§§": "paragrafi", "¶": "capoverso", "×": "per", "+": "più",
           "=": "uguale"}

UNITS = {
    "°C": ("grado Celsius", "gradi Celsius"), "°": ("grado", "gradi"), "km": ("chilometro", "chilometri"),
    "cm": ("centimetro", "centimetri"), "kg": ("chilo", "chili"), "m": ("metro", "metri"),
}

FRACTIONS = {(1, 2): ("un mezzo", "mezzo"), (1, 4): ("un quarto",), (3, 4): ("tre quarti",),
             (1, 3): ("un terzo",), (2, 3): ("due terzi",)}

ROMAN_KEYWORDS = ("Capitolo capitolo Libro libro Parte parte Tomo tomo Atto atto Scena scena Canto canto "
                  "Volume volume Lettera Sezione Articolo articolo Appendice secolo Secolo")

TITLE_LETTERS = {"S": "San"}

ORDINAL_SUFFIXES = r"\.?[ºª]"
