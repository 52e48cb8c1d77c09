"""Spanish word tables: what the normalisation rules say for Spanish printed forms
(the names are explained in :mod:`daemon.speech.tables`)."""

from __future__ import annotations

WORDS = {"point": "coma", "and": "y", "at": "arroba", "dot": "punto", "percent": "por ciento",
         "to": "a", "over": "entre"}

CURRENCIES = {
    "£": ("libra", "libras", "penique", "peniques", "f"), "$": ("dólar", "dólares", "centavo", "centavos", "m"),
    "€": ("euro", "euros", "céntimo", "céntimos", "m"), "¥": ("yen", "yenes", "sen", "sen", "m"),
    "R$": ("real", "reales", "centavo", "centavos", "m"),
}

ABBREVIATIONS = {
    **{k: (v, "title") for k, v in {
        "Sr.": "señor", "Sra.": "señora", "Srta.": "señorita", "Sres.": "señores",
        "Srs.": "señores", "Dña.": "doña", "D.ª": "doña", "Dª": "doña", "Dr.": "doctor",
        "Dra.": "doctora", "Lic.": "licenciado", "Ing.": "ingeniero", "Prof.": "profesor",
        "Gral.": "general", "Sto.": "santo", "Sta.": "santa", "Fr.": "fray", "Ud.": "usted",
        "Vd.": "usted", "Uds.": "ustedes", "Vds.": "ustedes",
    }.items()},
    **{k: (v, "lead") for k, v in {"p. ej.": "por ejemplo", "cf.": "confróntese"}.items()},
    **{k: (v, "word") for k, v in {
        "etc.": "etcétera", "a. C.": "antes de Cristo", "d. C.": "después de Cristo",
        "a.C.": "antes de Cristo", "d.C.": "después de Cristo", "EE. UU.": "Estados Unidos",
        "EE.UU.": "Estados Unidos", "Cía.": "compañía",
    }.items()},
}

COUNTERS = {
    "n.º": "número", "nº": "número", "N.º": "número", "Nº": "número", "núm.": "número",
    "Núm.": "número", "n.°": "número", "p.": "página", "pág.": "página", "págs.": "páginas",
    "pp.": "páginas", "t.": "tomo", "vol.": "volumen", "cap.": "capítulo", "art.": "artículo",
    "fig.": "figura", "#": "número",
}

SYMBOLS = {"&": "y", "§": "párrafo", "§§": "párrafos", "¶": "párrafo", "×": "por", "+": "más",
           "=": "igual a"}

UNITS = {
    "°C": ("grado Celsius", "grados Celsius"), "°": ("grado", "grados"), "km": ("kilómetro", "kilómetros"),
    "cm": ("centímetro", "centímetros"), "kg": ("kilo", "kilos"), "m": ("metro", "metros"),
}

FRACTIONS = {(1, 2): ("un medio", "medio"), (1, 4): ("un cuarto",), (3, 4): ("tres cuartos",),
             (1, 3): ("un tercio",), (2, 3): ("dos tercios",)}

ROMAN_KEYWORDS = ("Capítulo capítulo Libro libro Parte parte Tomo tomo Acto acto Escena escena Canto canto "
                  "Volumen volumen Carta Sección Artículo artículo Apéndice siglo Siglo")

TITLE_LETTERS = {"D": "don", "S": "San"}

ORDINAL_SUFFIXES = r"\.?[ºª]|ro|ra|do|da|to|ta|er"
