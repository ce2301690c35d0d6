"""Phone normalisation and SMS part counting, on what people actually type."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from providers import numbers
from providers.text import Encoding, analyze
from sandbox._common import GSM_DEFAULT_TABLE, sms_parts


@pytest.mark.parametrize(
    "raw",
    [
        "09121234567",
        "9121234567",
        "989121234567",
        "+98 912 123 4567",
        "0098-912-123-4567",
        "۰۹۱۲۱۲۳۴۵۶۷",
        "٠٩١٢١٢٣٤٥٦٧",
        "0912 123 4567",
        9121234567,
    ],
)
def test_every_accepted_spelling_has_one_canonical_form(raw: str | int) -> None:
    assert numbers.normalize(raw) == "989121234567"


@pytest.mark.parametrize("raw", ["0912abc", "02112345678", "+1 912 123 4567", "0912123456", ""])
def test_non_mobile_numbers_are_refused_by_name(raw: str) -> None:
    with pytest.raises(numbers.InvalidNumber) as info:
        numbers.normalize(raw)
    assert info.value.raw == raw


@given(st.text(max_size=30))
def test_normalize_never_crashes_and_is_idempotent(raw: str) -> None:
    try:
        canonical = numbers.normalize(raw)
    except numbers.InvalidNumber:
        return
    assert numbers.normalize(canonical) == canonical
    assert numbers.normalize(numbers.local0(canonical)) == canonical


EDGES = [
    ("a" * 160, Encoding.GSM7, 1),
    ("a" * 161, Encoding.GSM7, 2),
    ("a" * 306, Encoding.GSM7, 2),
    ("a" * 307, Encoding.GSM7, 3),
    ("س" * 70, Encoding.UCS2, 1),
    ("س" * 71, Encoding.UCS2, 2),
    ("س" * 134, Encoding.UCS2, 2),
    ("س" * 135, Encoding.UCS2, 3),
    ("{" * 80, Encoding.GSM7, 1),
    ("{" * 81, Encoding.GSM7, 2),
    ("`" * 160, Encoding.UCS2, 3),  # the backtick is not in GSM 03.38
    ("é" * 100, Encoding.GSM7, 1),
    ("Δ@£¥" * 40, Encoding.GSM7, 1),  # not ASCII, yet GSM-7
    ("€" * 80, Encoding.GSM7, 1),
    ("€" * 81, Encoding.GSM7, 2),
    ("a" * 152 + "{" + "a" * 7, Encoding.GSM7, 2),  # 161 septets
    ("a" * 152 + "{" + "a" * 153, Encoding.GSM7, 3),  # the escape pair is not split: 152 + 155
    ("a" * 153 + "[" * 76 + "a", Encoding.GSM7, 2),  # 153 + 153
    ("😀" * 35, Encoding.UCS2, 1),
    ("😀" * 36, Encoding.UCS2, 2),  # two UTF-16 units each
    ("a" * 66 + "😀" + "a" * 10, Encoding.UCS2, 2),  # the surrogate pair is not split
    ("ç", Encoding.UCS2, 1),
    ("\f", Encoding.GSM7, 1),
    ("", Encoding.GSM7, 0),
]


@pytest.mark.parametrize(("text", "encoding", "parts"), EDGES)
def test_parts_follow_gsm_03_38(text: str, encoding: Encoding, parts: int) -> None:
    info = analyze(text)
    assert (info.encoding, info.parts) == (encoding, parts)


@pytest.mark.parametrize(("text", "encoding", "parts"), [e for e in EDGES if e[0]])
def test_the_simulators_count_parts_as_the_client_does(
    text: str, encoding: Encoding, parts: int
) -> None:
    """Two counts written apart (``providers/text.py``, ``sandbox/_common.py``) must agree."""
    assert sms_parts(text) == parts


def test_the_gsm_default_alphabet_has_128_code_points() -> None:
    assert len(GSM_DEFAULT_TABLE) == 128 and len(set(GSM_DEFAULT_TABLE)) == 128
