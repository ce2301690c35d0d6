"""Opt-outs: an SMS whose whole text is an opt-out keyword takes its sender off every send of
that account, until an opt-in keyword (or a person with /optout) puts them back.

In Iran the answer to advertising SMS is "11" or "لغو" (and variants): a business that keeps
texting such a number gets complaints. The comparison is forgiving where people type differently:
Persian, Arabic and ASCII digits, Arabic and Persian letter forms, spaces, joiners and case.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Iterable

from storage.search import fold

DEFAULT_OPTOUT = ("11", "لغو", "لغو11", "stop")

# Spaces, joiners, marks and punctuation people put around a keyword.
_NOISE = re.compile(r"[\s\u200b-\u200f\u2066-\u2069\ufeff.,،!؟?\-_:;'\"()\[\]]+")


class Consent(enum.StrEnum):
    OUT = "out"  # stop sending to me
    IN = "in"  # send to me again


def normalize(text: str) -> str:
    """The form keywords are compared in: as search folds text (letter forms, digits, joiners,
    case), without spaces and punctuation."""
    return _NOISE.sub("", fold(text))


def consent(text: str, optout: Iterable[str], optin: Iterable[str]) -> Consent | None:
    """What an inbound SMS says about consent: its whole text is one of the keywords, or not."""
    said = normalize(text)
    if not said:
        return None
    if said in _normalized(tuple(optout)):
        return Consent.OUT
    if said in _normalized(tuple(optin)):
        return Consent.IN
    return None


@functools.lru_cache(maxsize=64)
def _normalized(keywords: tuple[str, ...]) -> frozenset[str]:
    # an account's keywords, normalized once rather than for every SMS
    return frozenset(normalize(k) for k in keywords)
