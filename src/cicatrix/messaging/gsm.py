"""How many SMS segments a text costs: GSM 03.38 (7-bit) when every character fits, else UCS-2.

A GSM-7 segment holds 160 characters, or 153 when the message is split (the rest of each
segment carries the concatenation header); characters of the extension table (`{}[]~^|\\€`)
take two. Anything outside the alphabet (an emoji, a curly quote, most accents) switches the
whole message to UCS-2: 70 characters, or 67 per part. Clinics pay per segment and long
messages arrive out of order on some phones, so every template must fit in two.
"""

from __future__ import annotations

_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_EXTENDED = "^{}\\[~]|€\f"
_GSM = frozenset(_BASIC)
_EXT = frozenset(_EXTENDED)


def is_gsm7(text: str) -> bool:
    return all(c in _GSM or c in _EXT for c in text)


def segments(text: str) -> int:
    """The number of SMS segments `text` is sent as."""
    if is_gsm7(text):
        units = sum(2 if c in _EXT else 1 for c in text)
        single, multi = 160, 153
    else:
        units = sum(2 if ord(c) > 0xFFFF else 1 for c in text)  # UTF-16 code units
        single, multi = 70, 67
    if units <= single:
        return 1
    return -(-units // multi)
