"""The pure logic under the chat: /send parsing, recipients, send times, send states, digest
packing, the Telegram pacer's windows, signed buttons and the log redactor — no servers."""

from __future__ import annotations

import logging
import re
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.buttons import Buttons, signed
from bot.logs import Redactor
from bot.messages import fitting
from bot.optouts import DEFAULT_OPTOUT, Consent, consent
from bot.ratelimit import Window, _Budget
from bot.sending import UserError, parse_send, parse_time, send_state, split_recipients
from providers.base import Outcome
from providers.timeutil import TEHRAN
from storage.sends import SendState

A, F, U = Outcome.ACCEPTED, Outcome.FAILED, Outcome.UNKNOWN


@pytest.mark.parametrize(
    ("args", "target", "recipients", "text"),
    [
        ("0912 111 2222 hello there", None, ("09121112222",), "hello there"),
        ("amoot:public 0912abc hello", "amoot:public", ("0912abc",), "hello"),  # docs/spec.md §8
        ("payam: 09121112222, ۰۹۱۲۳۳۳۴۴۴۴ سلام", "payam:", ("09121112222", "۰۹۱۲۳۳۳۴۴۴۴"), "سلام"),
        ("+98 912 111 2222 hi", None, ("+989121112222",), "hi"),  # split digits joined back
        ("group:3 09121112222 team", None, ("group:3", "09121112222"), "team"),
        ("09121112222\n2 lines\nof text", None, ("09121112222",), "2 lines\nof text"),
        ("09121112222", None, ("09121112222",), ""),  # no text: the flow asks for it
        ("", None, (), ""),
    ],
)
def test_send_is_parsed_as_spec_8_says(
    args: str, target: str | None, recipients: tuple[str, ...], text: str
) -> None:
    parsed = parse_send(args)
    assert (parsed.target, parsed.recipients, parsed.text) == (target, recipients, text)


def test_a_send_time_before_the_numbers_is_read_in_tehran_time() -> None:
    parsed = parse_send("@1405/09/10 14:30 09121112222 later")
    assert parsed.send_at == datetime(2026, 12, 1, 14, 30, tzinfo=TEHRAN)
    assert parse_time("2026-12-01") == datetime(2026, 12, 1, 9, 0, tzinfo=TEHRAN)
    with pytest.raises(UserError):
        parse_time("tomorrow")
    with pytest.raises(UserError):
        parse_time("1405/13/40 10:00")


def test_recipients_are_normalised_deduplicated_and_the_invalid_named() -> None:
    valid, invalid = split_recipients(
        ["0912 111 2222", "989121112222", "group:۳", "0912abc", "0912abc", "group:x"]
    )
    assert valid == ["989121112222", "group:3"]
    assert invalid == ["0912abc", "group:x"]


@pytest.mark.parametrize(
    ("outcomes", "state"),
    [
        ([A, A], "sent"),
        ([A, F], "partial"),
        ([F, F], "failed"),
        ([A, U], "unknown"),
        ([F, U], "unknown"),
        ([], "failed"),
    ],
)
def test_a_send_is_unknown_while_any_recipient_is(outcomes: list[Outcome], state: str) -> None:
    assert send_state(outcomes) is SendState(state)


def test_a_digest_takes_as_many_blocks_as_fit_in_order() -> None:
    assert fitting(["a" * 10, "b" * 10, "c" * 10], room=24) == 2  # 12 + 12
    assert fitting(["a" * 10, "b" * 10], room=23) == 1
    assert fitting(["a" * 30], room=20) == 0
    assert fitting([], room=10) == 0


@given(st.lists(st.integers(0, 50), max_size=20), st.integers(0, 500))
def test_the_blocks_a_digest_takes_always_fit(sizes: list[int], room: int) -> None:
    blocks = ["x" * n for n in sizes]
    count = fitting(blocks, room)
    assert sum(2 + len(b) for b in blocks[:count]) <= room
    assert count == len(blocks) or sum(2 + len(b) for b in blocks[: count + 1]) > room


def test_the_pacer_waits_out_a_full_window_and_a_retry_after() -> None:
    budget = _Budget(Window(3, 3.0))
    for at in (0.0, 0.1, 0.2):
        assert budget.wait(at) == 0
        budget.stamps.append(at)
    assert budget.wait(0.5) == pytest.approx(2.5)  # the fourth waits for the first to age out
    assert budget.wait(3.05) == 0
    budget.blocked_until = 10.0  # a 429's retry_after
    assert budget.wait(4.0, counted=False) == pytest.approx(6.0)


def test_buttons_open_only_in_the_chat_they_were_signed_for() -> None:
    buttons = Buttons(b"k" * 32)
    data = buttons.data(-100, "snd:ok:7")
    assert buttons.open(-100, data) == "snd:ok:7"
    assert buttons.open(-101, data) is None  # copied to another chat
    assert buttons.open(-100, "snd:ok:8" + data[8:]) is None  # another send's id
    assert buttons.open(-100, "snd:ok:7") is None  # no signature at all
    assert len(data.encode()) <= 64
    assert re.fullmatch(signed(r"snd:(ok|ok2|no):\d+"), data)
    with pytest.raises(ValueError):
        buttons.data(1, "x" * 60)


def test_the_redactor_hides_secrets_and_escapes_line_breaks() -> None:
    record = logging.LogRecord(
        "t", logging.INFO, "", 0, "token %s at\n%s", ("s3cret-t0ken", "x"), None
    )
    assert Redactor(["s3cret-t0ken"]).filter(record)
    assert record.getMessage() == "token *** at\\nx"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("11", Consent.OUT),
        ("۱۱", Consent.OUT),  # Persian digits
        ("١١", Consent.OUT),  # Arabic-Indic digits
        (" لغو ", Consent.OUT),
        ("لغو 11", Consent.OUT),
        ("لغو۱۱", Consent.OUT),
        ("لغو\u200c11", Consent.OUT),  # a zero-width non-joiner
        ("STOP!", Consent.OUT),
        ("Stop.", Consent.OUT),
        ("start", Consent.IN),
        ("لغو سفارش", None),  # "cancel the order" is not an opt-out
        ("11 تا", None),
        ("", None),
        ("stopping", None),
    ],
)
def test_opt_out_keywords_match_the_whole_text_whatever_the_script(
    text: str, said: Consent | None
) -> None:
    assert consent(text, DEFAULT_OPTOUT, ["start"]) == said


def test_arabic_letter_forms_match_their_persian_keyword() -> None:
    assert consent("الغاء", ["الغاء"], []) == Consent.OUT
    assert consent("کنسل", ["كنسل"], []) == Consent.OUT  # Arabic kaf in the keyword
    assert consent("ياري", ["یاری"], []) == Consent.OUT  # Arabic yeh in the SMS
