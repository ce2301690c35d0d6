"""Sends from a file: a customer list sent to the bot as XLSX or CSV becomes one personalised SMS
per valid row — invalid rows, repeated numbers and opted-out numbers counted in the preview and
never sent, the provider reached in the fewest requests, and a restart in the middle sending no
row twice."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from telegram import Bot
from telegram.error import BadRequest

from bot.app import running
from bot.config import load_config
from sandbox import files
from sandbox.telegram import Event
from tests.conftest import (
    ADMIN,
    TIMING,
    World,
    bridge_process,
    eventually,
    free_port,
    telegram_pace,
    world,
)

pytestmark = pytest.mark.both_backends  # the same journeys on SQLite and PostgreSQL

TEXT = "سلام {name}، سفارش {order} ارسال شد"
QUOTA = 5000


def _bad_rows() -> list[tuple[object, ...]]:
    """Twenty rows that are no recipient: landlines, words, short numbers, no number, no name."""
    rows: list[tuple[object, ...]] = [(f"0213344{n:04d}", "Office", f"B-{n}") for n in range(6)]
    rows += [("not a number", "X", "B-7"), ("0912", "Y", "B-8"), ("+1 555 0100", "Z", "B-9")]
    rows += [(None, "Nobody", f"C-{n}") for n in range(6)]
    rows += [(f"0935000{n:04d}", None, f"D-{n}") for n in range(5)]  # {name} would be empty
    return rows


def _list_of_1000() -> tuple[list[tuple[object, ...]], list[str]]:
    """975 customers (5 of whom opted out) and 20 bad rows in between, plus 5 repeats: 1,000 rows.
    Returns the rows and the canonical numbers of the opted-out five."""
    good = files.customers(975)
    bad = _bad_rows()
    rows = list(good)
    for n, row in enumerate(bad):
        rows.insert(40 * n + 7, row)
    rows += good[100:105]  # a number's second row is dropped
    opted = [f"98912{n:07d}" for n in (3, 300, 500, 700, 974)]
    return rows, opted


@contextlib.asynccontextmanager
async def _file_world(tmp_path: Path) -> AsyncIterator[World]:
    """The stand-ins and the bridge with a daily quota a list fits in."""
    async with world(tmp_path, start_bridge=False) as w:
        text = w.config_path.read_text(encoding="utf-8")
        w.config_path.write_text(text.replace("daily_quota = 20", f"daily_quota = {QUOTA}"))
        _sim, pacer = telegram_pace(10.0)
        async with running(load_config(w.config_path), pacer=pacer, timing=TIMING) as bridge:
            w.bridge = bridge
            yield w


async def _send_file(
    w: World, name: str, data: bytes, caption: str | None = None, expect: str = "Send preview"
) -> dict[str, Any]:
    after = len(w.tg.events)
    await w.tg.send_document(ADMIN, ADMIN, name, data, caption)
    return await w.tg.wait_text(ADMIN, expect, after=after, timeout=20)


async def _confirm_twice(w: World, preview: dict[str, Any]) -> None:
    await w.tg.press(ADMIN, ADMIN, preview["message_id"], 0)
    await eventually(
        lambda: "Confirm again" in str(w.tg.messages[(ADMIN, preview["message_id"])]),
        what="the second confirmation",
    )
    await w.tg.press(ADMIN, ADMIN, preview["message_id"], 0)


async def _final(w: World, preview: dict[str, Any], timeout: float = 20) -> Event:
    """The preview's message once it shows the send's result."""
    return await w.tg.wait_for(
        lambda e: (
            e.message["message_id"] == preview["message_id"]
            and "Result of send" in e.message.get("text", "")
        ),
        timeout,
    )


def _expected(rows: list[tuple[object, ...]], skip: set[str]) -> dict[str, str]:
    """Each valid recipient's text, as the provider should receive it."""
    wanted: dict[str, str] = {}
    for spelled, name, order in rows:
        digits = str(spelled or "").translate(str.maketrans("۰۱۲۳۴۵۶۷۸۹", "0123456789"))
        if not (digits.startswith("0912") or digits.startswith("912")) or len(digits) < 10:
            continue
        number = "98" + digits[-10:]
        if number in skip or number in wanted or not name:
            continue
        wanted[number] = f"سلام {name}، سفارش {order} ارسال شد"
    return wanted


async def test_a_1000_row_xlsx_is_counted_exactly_and_sent_personalised_in_fewest_requests(
    tmp_path: Path,
) -> None:
    rows, opted = _list_of_1000()
    async with _file_world(tmp_path) as w:
        for number in opted:
            await w.tg.send(ADMIN, ADMIN, f"/optout add 0{number[2:]} payam")
            await w.tg.wait_text(ADMIN, "is skipped by every send")
        preview = await _send_file(w, "customers.xlsx", files.xlsx(rows), f"payam: {TEXT}")
        text = preview["text"]
        assert "Rows read: 1,000 — valid recipients: 970" in text
        assert "Invalid rows (will not be sent): 20" in text
        assert "row 9: ‎02133440000" not in text  # the bad rows are named by their sheet row
        assert "row 9:" in text and "not a mobile number" in text
        assert "… and 10 more invalid rows" in text
        assert "Repeated numbers (sent once): 5 rows" in text
        assert text.count("opted out") >= 1 and "and 0 more" not in text
        assert "Sample for" in text and "سلام علی رضایی، سفارش A-1000 ارسال شد" in text
        await _confirm_twice(w, preview)
        expected = _expected(rows, set(opted))
        assert len(expected) == 970
        await eventually(lambda: len(w.payam.sent()) >= 970, timeout=20, what="every SMS")
        assert dict(w.payam.sent()) == expected and len(w.payam.sent()) == 970
        assert len(w.payam.calls("sendMultipleWithSrc")) == 4  # 970 / 250, rounded up
        final = await _final(w, preview)
        assert "970" in final.message["text"]


async def test_amootsms_sends_a_list_by_peer_to_peer_in_chunks_of_its_cap(tmp_path: Path) -> None:
    rows = files.customers(250)
    async with _file_world(tmp_path) as w:
        preview = await _send_file(w, "list.csv", files.csv_bytes(rows), f"amoot: {TEXT}")
        assert "Rows read: 250 — valid recipients: 250" in preview["text"]
        # the simulator's price for the longest text to one number, per part, for every part
        assert "Estimated cost: 250,000 Rial" in preview["text"]
        await _confirm_twice(w, preview)
        await eventually(lambda: len(w.amoot.sent()) >= 250, timeout=20, what="every SMS")
        assert dict(w.amoot.sent()) == _expected(rows, set())
        assert len(w.amoot.calls("SendPeerToPeer")) == 3  # AmootSMS takes 100 per call


async def test_the_flow_asks_for_the_column_the_text_and_the_account_by_buttons(
    tmp_path: Path,
) -> None:
    rows = [(f"0912{n:07d}", f"0935{n:07d}", f"Name {n}") for n in range(5)]
    data = files.csv_bytes(rows, header=("home", "work", "name"), delimiter=";")
    async with _file_world(tmp_path) as w:
        purpose = await _send_file(w, "two.csv", data, expect="What should I do with this list?")
        after = len(w.tg.events)
        await w.tg.press(ADMIN, ADMIN, purpose["message_id"], 0)  # send SMS to it
        question = await w.tg.wait_text(ADMIN, "Which column holds the numbers?", after=after)
        assert "home — 09120000000" in str(question["reply_markup"])
        await w.tg.press(ADMIN, ADMIN, question["message_id"], 1)  # "work"
        asked = await w.tg.wait_text(ADMIN, "Now send the SMS text")
        assert "numbers in column “work”" in asked["text"]
        after = len(w.tg.events)
        await w.tg.send(ADMIN, ADMIN, "Dear {nmae}")  # a typo: no such column
        refused = await w.tg.wait_text(ADMIN, "no column named “nmae”", after=after)
        assert "home, work, name" in refused["text"]
        await w.tg.wait_text(ADMIN, "Now send the SMS text", after=after)
        await w.tg.send(ADMIN, ADMIN, "Dear {name}, your parcel is here")
        which = await w.tg.wait_text(ADMIN, "Which account")
        # sms.ir's White SMS cannot send a text per number: named, not offered
        assert "smsir cannot do this: a different text per number" in which["text"]
        assert "smsir" not in str(which["reply_markup"])
        await w.tg.press(ADMIN, ADMIN, which["message_id"], 1)  # payam
        preview = await w.tg.wait_text(ADMIN, "Send preview")
        assert "Dear Name 0, your parcel is here" in preview["text"]
        await _confirm_twice(w, preview)
        await eventually(lambda: len(w.payam.sent()) == 5, what="the five SMS")
        assert ("98935" + "0000003", "Dear Name 3, your parcel is here") in w.payam.sent()


async def test_files_the_bot_cannot_use_are_refused_by_name(tmp_path: Path) -> None:
    async with _file_world(tmp_path) as w:
        await _send_file(w, "old.xls", b"\xd0\xcf\x11\xe0", expect="old Excel file (xls)")
        await _send_file(w, "broken.xlsx", b"PK\x03\x04garbage", expect="damaged")
        words = files.csv_bytes([("a", "b")], header=("x", "y"))
        await _send_file(w, "words.csv", words, expect="no column of mobile numbers")
        big = b"0" * (21 * 1024 * 1024)
        await _send_file(w, "huge.csv", big, expect="larger than 10 MB")
        many = files.csv_bytes(files.customers(50_002), header=None)
        await _send_file(w, "many.csv", many, expect="more than 50,000 rows")
    assert w.payam.sent() == [] and w.amoot.sent() == []


async def test_a_restart_in_the_middle_resumes_and_sends_no_row_twice(tmp_path: Path) -> None:
    rows = files.customers(1000)
    async with world(tmp_path, start_bridge=False) as w:
        port = free_port()
        text = w.config_path.read_text(encoding="utf-8").replace("port = 0", f"port = {port}")
        text = text.replace("daily_quota = 20", f"daily_quota = {QUOTA}")
        w.config_path.write_text(text.replace('level = "DEBUG"', 'level = "WARNING"'), "utf-8")
        base = f"http://127.0.0.1:{port}"
        # the third request is taken by PayamSMS, and then its answer never comes: killed there
        w.payam.fail_next("accept_then_hang", method="sendMultipleWithSrc", after=2)
        async with bridge_process(w.config_path, base) as proc:
            preview = await _send_file(w, "big.xlsx", files.xlsx(rows), f"payam: {TEXT}")
            await _confirm_twice(w, preview)
            await eventually(lambda: len(w.payam.sent()) >= 750, timeout=20, what="3 requests")
            await asyncio.sleep(0.2)
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
        assert len(w.payam.sent()) == 750
        async with bridge_process(w.config_path, base):
            await eventually(lambda: len(w.payam.sent()) >= 1000, timeout=30, what="the rest")
            final = await _final(w, preview, timeout=30)
            # the request in flight at the kill was looked up by customerId, not resent
            await eventually(
                lambda: "delivered" in str(w.tg.messages[(ADMIN, preview["message_id"])]),
                timeout=30,
                what="the unknown part settled",
            )
        sent = w.payam.sent()
        assert len(sent) == 1000 and len({n for n, _t in sent}) == 1000
        assert dict(sent) == _expected(rows, set())
        assert len(w.payam.calls("sendMultipleWithSrc")) == 4
        assert "Result of send" in final.message["text"]


async def test_the_bot_api_stand_in_serves_files_as_telegram_does(tmp_path: Path) -> None:
    """getFile names a path to download from, and refuses above a bot's 20 MB; sendDocument
    takes an upload and keeps its caption."""
    async with world(tmp_path, start_bridge=False) as w:
        small = await w.tg.send_document(ADMIN, ADMIN, "a.csv", b"09121234567\n")
        big = await w.tg.send_document(ADMIN, ADMIN, "b.csv", b"0" * (20 * 1024 * 1024 + 1))
        bot = Bot(
            w.tg.token,
            base_url=w.urls["tg"] + "/bot",
            base_file_url=w.urls["tg"] + "/file/bot",
        )
        async with bot:
            file = await bot.get_file(small["document"]["file_id"])
            assert bytes(await file.download_as_bytearray()) == b"09121234567\n"
            try:
                await bot.get_file(big["document"]["file_id"])
            except BadRequest as exc:
                assert "file is too big" in exc.message.lower()
            else:
                raise AssertionError("a file above 20 MB was handed out")
            sent = await bot.send_document(ADMIN, b"x,y\n", filename="out.csv", caption="report")
            assert sent.document is not None and sent.document.file_name == "out.csv"
            assert sent.caption == "report"
            assert w.tg.files[sent.document.file_id] == ("out.csv", b"x,y\n")


async def test_a_list_with_one_text_on_smsir_reaches_its_phonebook_only(tmp_path: Path) -> None:
    """sms.ir's White SMS cannot send a text per number, but one text to a list goes — to the
    numbers in its phonebook; the others are named in the preview."""
    rows = [("09121230001", "A", "1"), ("09121230002", "B", "2")]
    async with _file_world(tmp_path) as w:
        w.smsir.reachable("989121230001")
        data = files.csv_bytes(rows)
        preview = await _send_file(w, "l.csv", data, "smsir: Our shop opens at 9 tomorrow")
        assert "Rows read: 2 — valid recipients: 1" in preview["text"]
        assert "0912 123 0002⁩ will not be sent: not in account smsir's phonebook" in preview["text"]
        await w.tg.press(ADMIN, ADMIN, preview["message_id"], 0)
        await eventually(lambda: w.smsir.sent(), what="the send")
        assert w.smsir.sent() == [("989121230001", "Our shop opens at 9 tomorrow")]
        refused = await _send_file(
            w, "l.csv", data, "smsir: Hi {name}", expect="cannot do this: a different text"
        )
        assert "Account smsir" in refused["text"]


async def test_credit_running_out_mid_list_stops_asking_and_says_why(tmp_path: Path) -> None:
    """AmootSMS refuses a request it has no credit for: that request's recipients and the
    requests after it are not sent (never asked again), and the chat names the reason."""
    rows = files.customers(250)
    async with _file_world(tmp_path) as w:
        w.amoot.credit = 150 * 1000  # 150 Persian single-part SMS
        preview = await _send_file(w, "list.xlsx", files.xlsx(rows), f"amoot: {TEXT}")
        await _confirm_twice(w, preview)
        final = await _final(w, preview)
        assert len(w.amoot.sent()) == 100
        assert len(w.amoot.calls("SendPeerToPeer")) == 2  # the third request never left
        text = final.message["text"]
        assert "🚫 not sent 150" in text  # counted as never sent, not as "not delivered"
        assert "🚫 150 not sent — credit is too low (⁦CreditNotEnough⁩): ⁦0912 000 0100⁩" in text
        assert w.bridge is not None
        rows_ = await w.bridge.db.fetchall(
            "SELECT state, error, count(*) FROM send_recipients GROUP BY state, error"
        )
        assert {(r[0], r[1]): r[2] for r in rows_}[("failed", "CreditNotEnough")] == 150


async def test_payamsms_refusing_every_message_for_credit_ends_the_list(tmp_path: Path) -> None:
    """PayamSMS refuses message by message (E6): a request it refused whole for credit is the
    account's refusal, and the requests after it are not made."""
    rows = files.customers(1000)
    async with _file_world(tmp_path) as w:
        w.payam.credit = 300 * w.payam.part_price
        preview = await _send_file(w, "list.xlsx", files.xlsx(rows), f"payam: {TEXT}")
        await _confirm_twice(w, preview)
        final = await _final(w, preview)
        assert len(w.payam.sent()) == 300
        assert len(w.payam.calls("sendMultipleWithSrc")) == 3  # not the fourth
        assert "🚫 not sent 700" in final.message["text"]
