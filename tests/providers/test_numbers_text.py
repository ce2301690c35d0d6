"""Phone normalisation and SMS part counting, on what people actually type."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from providers import numbers
from providers.text import Encoding, analyze


@pytest.mark.parametrize(
    "raw",
    ["09121234567", "9121234567", "989121234567", "+98 912 123 4567", "0098-912-123-4567",
     "۰۹۱۲۱۲۳۴۵۶۷", "٠٩١٢١٢٣٤٥٦٧", "0912 123 4567", 9121234567],
)  # fmt: skip
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


@pytest.mark.parametrize(
    ("text", "encoding", "parts"),
    [("a" * 160, Encoding.GSM7, 1), ("a" * 161, Encoding.GSM7, 2), ("a" * 306, Encoding.GSM7, 2),
     ("a" * 307, Encoding.GSM7, 3), ("س" * 70, Encoding.UCS2, 1), ("س" * 71, Encoding.UCS2, 2),
     ("س" * 134, Encoding.UCS2, 2), ("س" * 135, Encoding.UCS2, 3), ("{" * 80, Encoding.GSM7, 1),
     ("{" * 81, Encoding.GSM7, 2)],
)  # fmt: skip
def test_parts_follow_gsm7_and_ucs2_rules(text: str, encoding: Encoding, parts: int) -> None:
    info = analyze(text)
    assert (info.encoding, info.parts) == (encoding, parts)
