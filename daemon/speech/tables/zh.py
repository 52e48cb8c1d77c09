"""Mandarin word tables: what the normalisation rules say for Chinese printed forms
(the names are explained in :mod:`daemon.speech.tables`).  Words run on without
spaces; a percentage is said before its number (百分之), so its word here is empty."""

from __future__ import annotations

WORDS = {"point": "点", "and": "又", "at": "艾特", "dot": "点", "percent": "",
         "to": "至", "over": "分之"}

CURRENCIES = {"¥": ("元",), "￥": ("元",), "$": ("美元",), "€": ("欧元",), "£": ("英镑",), "₹": ("卢比",)}

ABBREVIATIONS: dict[str, tuple[str, str]] = {}

COUNTERS = {"#": "第"}

SYMBOLS = {"&": "和", "§": "第", "§§": "第", "¶": "段", "×": "乘", "+": "加", "=": "等于"}

UNITS = {"°": ("度", "度"), "km": ("公里", "公里"), "kg": ("公斤", "公斤"), "cm": ("厘米", "厘米")}
