"""/export: the sends (one line per recipient) or the inbound SMS of a range, as a CSV Excel opens
in Persian or as XLSX, sent as a document; one-shot or by buttons, in either language."""

from __future__ import annotations

import io
from typing import Any

import pytest
from openpyxl import load_workbook

from bot.handlers import export as export_handler
from tests.conftest import ADMIN, World, eventually, preview_of

pytestmark = pytest.mark.both_backends  # the same journeys on SQLite and PostgreSQL

ALI = "09121234567"


async def _document(w: World, after: int) -> tuple[dict[str, Any], bytes]:
    event = await w.tg.wait_for(
        lambda e: e.message["chat"]["id"] == ADMIN and "document" in e.message, after=after
    )
    file_id = event.message["document"]["file_id"]
    return event.message, w.tg.files[file_id][1]


async def _seed(w: World) -> None:
    await w.tg.send(ADMIN, ADMIN, f"/contacts add {ALI} Ali Rezaei")
    await w.tg.wait_text(ADMIN, "was added")
    w.payam.inject_inbound(ALI, "سلام، سفارش من کجاست؟")
    w.payam.inject_inbound("09125550000", 'a line with, a comma and "quotes"')
    await w.tg.wait_text(ADMIN, "quotes")
    preview = await preview_of(w, ADMIN, f"/send payam: {ALI} 09125550000 ارسال شد")
    await w.tg.press(ADMIN, ADMIN, preview["message_id"], 0)
    await eventually(lambda: len(w.payam.sent()) == 2, what="the send")


async def test_sends_by_buttons_as_csv_and_inbound_one_shot_as_xlsx(w: World) -> None:
    await _seed(w)
    after = len(w.tg.events)
    await w.tg.send(ADMIN, ADMIN, "/export")
    which = await w.tg.wait_text(ADMIN, "Export which?", after=after)
    after = len(w.tg.events)
    await w.tg.press(ADMIN, ADMIN, which["message_id"], 0)  # sends
    when = await w.tg.wait_text(ADMIN, "From when?", after=after)
    after = len(w.tg.events)
    await w.tg.press(ADMIN, ADMIN, when["message_id"], 1)  # CSV · 7 days
    message, data = await _document(w, after)
    assert message["caption"].startswith("📄 Sends: 2 rows")
    assert message["document"]["file_name"].endswith(".csv")
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8 as such
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("send,number,name,text,account,line,time (Jalali)")
    assert any(line.startswith(f"1,{ALI},Ali Rezaei,ارسال شد,payam,") for line in lines[1:])
    assert len(lines) == 3

    after = len(w.tg.events)
    await w.tg.send(ADMIN, ADMIN, "/export inbound 1400/01/01 xlsx")  # Jalali, to now
    message, data = await _document(w, after)
    assert message["document"]["file_name"].endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0][:4] == ["time (Jalali)", "time (Gregorian)", "number", "name"]
    assert [r[2:4] for r in rows[1:]] == [[ALI, "Ali Rezaei"], ["09125550000", None]]
    assert rows[2][6] == 'a line with, a comma and "quotes"'
    assert str(rows[1][0]).startswith("14")  # a Jalali year


async def test_in_persian_the_file_speaks_persian(w: World) -> None:
    await _seed(w)
    await w.tg.send(ADMIN, ADMIN, "/lang fa")
    await w.tg.wait_text(ADMIN, "فارسی شد")
    after = len(w.tg.events)
    await w.tg.send(ADMIN, ADMIN, "/export inbound 2020-01-01")
    message, data = await _document(w, after)
    assert message["caption"].startswith("📄 پیامک‌های دریافتی: ۲ ردیف")
    header = data.decode("utf-8-sig").splitlines()[0]
    assert header.startswith("زمان (شمسی),زمان (میلادی),شماره,نام")
    after = len(w.tg.events)
    await w.tg.send(ADMIN, ADMIN, "/export everything")
    await w.tg.wait_text(ADMIN, "/export sends|inbound", after=after)


async def test_an_export_larger_than_telegram_takes_is_refused_by_name(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _seed(w)
    monkeypatch.setattr(export_handler, "UPLOAD_LIMIT", 100)  # a few rows are "too big" now
    after = len(w.tg.events)
    await w.tg.send(ADMIN, ADMIN, "/export inbound 2020-01-01")
    await w.tg.wait_text(ADMIN, "larger than the 0 MB Telegram takes", after=after)
    assert not any("document" in e.message for e in w.tg.events[after:])
