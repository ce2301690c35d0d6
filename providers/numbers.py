"""Iranian mobile numbers: one canonical form (``989121234567``) and the wire forms providers want."""

from __future__ import annotations

import re

_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
# Separators people type inside a number: spaces (incl. no-break and zero-width), dashes, dots,
# parentheses, and the bidi marks phones insert around pasted numbers.
_SEPARATORS = re.compile(
    r"[\s\-\u2010-\u2015\u2212.()\u200c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
_MOBILE = re.compile(r"9\d{9}")


class InvalidNumber(ValueError):
    """A text that is not an Iranian mobile number; ``str()`` is the text as the person typed it."""

    def __init__(self, raw: str) -> None:
        super().__init__(raw)
        self.raw = raw


def to_ascii_digits(text: str) -> str:
    """Persian and Arabic-Indic digits become ASCII digits; everything else is kept."""
    return text.translate(_DIGITS)


def normalize(raw: str | int) -> str:
    """Return ``98`` + 10 digits for any accepted spelling of an Iranian mobile number.

    Accepted: ``0912…``, ``912…``, ``98912…``, ``+98 912 …``, ``0098912…``, in any digit script, with
    spaces and dashes. A JSON number that lost its leading zero (``9120000000``) is accepted too.
    """
    text = str(raw)
    if text.isascii() and text.isdigit():  # the common case, as providers answer: no cleanup
        if len(text) == 10 and text[0] == "9":
            return "98" + text
        if len(text) == 12 and text.startswith("989"):
            return text
        if len(text) == 11 and text.startswith("09"):
            return "98" + text[1:]
    text = to_ascii_digits(text).strip()
    text = _SEPARATORS.sub("", text)
    if text.startswith("+"):
        text = text[1:]
        if not text.startswith("98"):
            raise InvalidNumber(str(raw))
    if text.startswith("0098"):
        text = text[4:]
    elif text.startswith("98") and len(text) == 12:
        text = text[2:]
    elif text.startswith("0") and len(text) == 11:
        text = text[1:]
    if not _MOBILE.fullmatch(text):
        raise InvalidNumber(str(raw))
    return "98" + text


def is_valid(raw: str | int) -> bool:
    try:
        normalize(raw)
    except InvalidNumber:
        return False
    return True


def local0(canonical: str) -> str:
    """``989121234567`` → ``09121234567``."""
    return "0" + canonical[2:]


def bare10(canonical: str) -> str:
    """``989121234567`` → ``9121234567``."""
    return canonical[2:]


def try_normalize(raw: object) -> str | None:
    """Canonical form of a number found in a provider response, or None when it is not one."""
    if not isinstance(raw, str | int) or isinstance(raw, bool):
        return None
    try:
        return normalize(raw)
    except InvalidNumber:
        return None
