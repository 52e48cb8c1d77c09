"""Japanese word tables: what the normalisation rules say for Japanese printed forms
(the names are explained in :mod:`daemon.speech.tables`).  Words run on without
spaces; the amounts of money are said with the currency's name after them."""

from __future__ import annotations

WORDS = {"point": "点", "and": "と", "at": "アット", "dot": "ドット", "percent": "パーセント",
         "to": "から", "over": "分の"}

CURRENCIES = {"¥": ("円",), "￥": ("円",), "$": ("ドル",), "€": ("ユーロ",), "£": ("ポンド",), "₹": ("ルピー",)}

ABBREVIATIONS: dict[str, tuple[str, str]] = {}

COUNTERS = {"#": "番号"}

SYMBOLS = {"&": "と", "§": "節", "§§": "節", "¶": "段落", "×": "かける", "+": "たす", "=": "は"}

UNITS = {"°": ("度", "度"), "km": ("キロメートル", "キロメートル"), "kg": ("キログラム", "キログラム"),
         "cm": ("センチメートル", "センチメートル")}
