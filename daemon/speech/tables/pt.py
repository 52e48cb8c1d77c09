"""Brazilian Portuguese word tables: what the normalisation rules say for Portuguese
printed forms (the names are explained in :mod:`daemon.speech.tables`)."""

from __future__ import annotations

WORDS = {"point": "vírgula", "and": "e", "at": "arroba", "dot": "ponto", "percent": "por cento",
         "to": "a", "over": "sobre"}

CURRENCIES = {
    "£": ("libra", "libras", "pêni", "pence", "f"), "$": ("dólar", "dólares", "centavo", "centavos", "m"),
    "R$": ("real", "reais", "centavo", "centavos", "m"), "€": ("euro", "euros", "cêntimo", "cêntimos", "m"),
    "¥": ("iene", "ienes", "sen", "sen", "m"),
}

ABBREVIATIONS = {
    **{k: (v, "title") for k, v in {
        "Sr.": "senhor", "Sra.": "senhora", "Srta.": "senhorita", "Srs.": "senhores",
        "Dr.": "doutor", "Dra.": "doutora", "Prof.": "professor", "Profa.": "professora",
        "V. Exa.": "Vossa Excelência", "V. Ex.ª": "Vossa Excelência", "V. Sa.": "Vossa Senhoria",
        "Sto.": "santo", "Sta.": "santa", "Pe.": "padre", "Fr.": "frei",
    }.items()},
    **{k: (v, "lead") for k, v in {"p. ex.": "por exemplo", "cf.": "conforme"}.items()},
    **{k: (v, "word") for k, v in {
        "etc.": "etcétera", "a.C.": "antes de Cristo", "d.C.": "depois de Cristo",
        "Cia.": "companhia", "Ltda.": "limitada",
    }.items()},
}

COUNTERS = {
    "n.º": "número", "nº": "número", "N.º": "número", "Nº": "número", "n°": "número",
    "p.": "página", "pág.": "página", "págs.": "páginas", "pp.": "páginas", "t.": "tomo",
    "vol.": "volume", "cap.": "capítulo", "art.": "artigo", "fig.": "figura", "#": "número",
}

SYMBOLS = {"&": "e", "§": "parágrafo", "§§": "parágrafos", "¶": "parágrafo", "×": "vezes", "+": "mais",
           "=": "igual a"}

UNITS = {
    "°C": ("grau Celsius", "graus Celsius"), "°": ("grau", "graus"), "km": ("quilômetro", "quilômetros"),
    "cm": ("centímetro", "centímetros"), "kg": ("quilo", "quilos"), "m": ("metro", "metros"),
}

FRACTIONS = {(1, 2): ("um meio", "meio"), (1, 4): ("um quarto",), (3, 4): ("três quartos",),
             (1, 3): ("um terço",), (2, 3): ("dois terços",)}

ROMAN_KEYWORDS = ("Capítulo capítulo Livro livro Parte parte Tomo tomo Ato ato Acto Cena cena Canto canto "
                  "Volume volume Carta Seção Secção Artigo artigo Apêndice século Século")

# 'D.' is Dom or Dona by the name that follows (abbreviations.title_word)
TITLE_LETTERS = {"D": "Dom", "S": "São"}

ORDINAL_SUFFIXES = r"\.?[ºª]"
