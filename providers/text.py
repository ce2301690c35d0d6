"""SMS encoding and part counting: GSM-7 (160/153) for Latin-only text, UCS-2 (70/67) otherwise."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# GSM 03.38 basic set and the extension table (extension characters cost two septets).
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = frozenset("^{}\\[~]|€\f")


class Encoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


@dataclass(frozen=True, slots=True)
class TextInfo:
    """What a text costs: its encoding, length in units and the number of SMS parts."""

    encoding: Encoding
    length: int
    parts: int
    per_part: int


def analyze(text: str) -> TextInfo:
    """Encoding, length and parts as GSM 03.38 says: GSM-7 when every character is in the default
    alphabet or its extension (an extension character takes an escape and itself), else UCS-2
    (UTF-16 code units: an emoji takes two). A long message is split so that no part ends
    inside an escape pair or a surrogate pair."""
    if all(c in _GSM_BASIC or c in _GSM_EXTENDED for c in text):
        sizes = [2 if c in _GSM_EXTENDED else 1 for c in text]
        single, multi, encoding = 160, 153, Encoding.GSM7
    else:
        sizes = [2 if ord(c) > 0xFFFF else 1 for c in text]
        single, multi, encoding = 70, 67, Encoding.UCS2
    length = sum(sizes)
    if length <= single:
        return TextInfo(encoding, length, 1 if length else 0, single)
    parts, used = 1, 0
    for size in sizes:
        if used + size > multi:
            parts, used = parts + 1, 0
        used += size
    return TextInfo(encoding, length, parts, multi)
