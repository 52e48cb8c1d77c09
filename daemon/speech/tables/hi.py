"""Hindi word tables: what the normalisation rules say for Hindi printed forms
(the names are explained in :mod:`daemon.speech.tables`).  Hindi has no table of
Roman-numeral keywords of its own: it uses English's."""

from __future__ import annotations

WORDS = {"point": "दशमलव", "and": "और", "at": "एट", "dot": "डॉट", "percent": "प्रतिशत",
         "to": "से", "over": "बटा"}

CURRENCIES = {
    "₹": ("रुपया", "रुपये", "पैसा", "पैसे", "m"), "रु.": ("रुपया", "रुपये", "पैसा", "पैसे", "m"),
    "Rs.": ("रुपया", "रुपये", "पैसा", "पैसे", "m"), "$": ("डॉलर", "डॉलर", "सेंट", "सेंट", "m"),
    "£": ("पाउंड", "पाउंड", "पेंस", "पेंस", "m"), "€": ("यूरो", "यूरो", "सेंट", "सेंट", "m"),
}

ABBREVIATIONS = {
    **{k: (v, "title") for k, v in {
        "डॉ.": "डॉक्टर", "प्रो.": "प्रोफ़ेसर", "स्व.": "स्वर्गीय", "श्री.": "श्री", "Dr.": "डॉक्टर",
        "Mr.": "मिस्टर", "Mrs.": "मिसेज़",
    }.items()},
    **{k: (v, "lead") for k, v in {"जैसे.": "जैसे"}.items()},
    **{k: (v, "word") for k, v in {
        "ई.पू.": "ईसा पूर्व", "ई. पू.": "ईसा पूर्व", "ई.": "ईसवी", "आदि.": "आदि", "कि.मी.": "किलोमीटर",
        "etc.": "इत्यादि",
    }.items()},
}

COUNTERS = {"पृ.": "पृष्ठ", "नं.": "नंबर", "No.": "नंबर", "#": "नंबर"}

SYMBOLS = {"&": "और", "§": "धारा", "§§": "धाराएँ", "¶": "अनुच्छेद", "×": "गुणा", "+": "जमा", "=": "बराबर"}

UNITS = {"°": ("डिग्री", "डिग्री"), "km": ("किलोमीटर", "किलोमीटर"), "kg": ("किलोग्राम", "किलोग्राम")}

FRACTIONS = {(1, 2): ("आधा",), (1, 4): ("एक चौथाई",), (3, 4): ("तीन चौथाई",)}

# The ordinals that are words of their own; the others are the cardinal and वाँ
ORDINALS = {1: "पहला", 2: "दूसरा", 3: "तीसरा", 4: "चौथा", 6: "छठा"}
