"""/stats: a chart of SMS per day sent as a photo, with its totals in words in the caption; in a
Persian chat every label Persian, shaped and right to left, in a font that has every glyph."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fontTools.ttLib import TTFont
from PIL import Image

from bot import stats
from storage.stats import Day
from tests.conftest import ADMIN, World, eventually, preview_of

pytestmark = pytest.mark.both_backends  # the same journeys on SQLite and PostgreSQL

PNG_DIR = Path("/tmp/smsbridge-stats")  # where the rendered charts are left to be looked at


def _keep(name: str, png: bytes) -> None:
    PNG_DIR.mkdir(exist_ok=True)
    (PNG_DIR / name).write_bytes(png)


async def _photo(w: World, text: str, after: int) -> tuple[dict[str, Any], bytes]:
    await w.tg.send(ADMIN, ADMIN, text)
    event = await w.tg.wait_for(
        lambda e: e.message["chat"]["id"] == ADMIN and "photo" in e.message, after=after, timeout=20
    )
    file_id = event.message["photo"][0]["file_id"]
    return event.message, w.tg.files[file_id][1]


async def test_the_chart_counts_a_day_and_reads_in_both_languages(w: World) -> None:
    w.payam.inject_inbound("09125550000", "hello")
    await w.tg.wait_text(ADMIN, "hello")
    preview = await preview_of(w, ADMIN, "/send payam: 09121234567 09125550000 sale")
    await w.tg.press(ADMIN, ADMIN, preview["message_id"], 0)
    await eventually(lambda: len(w.payam.sent()) == 2, what="the send")
    message, png = await _photo(w, "/stats 7", len(w.tg.events))
    assert "SMS over the last 7 days" in message["caption"]
    assert "Sent: 2" in message["caption"] and "Inbound: 1" in message["caption"]
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (1200, 700)
    assert message["photo"][0]["width"] == 1200
    _keep("stats-en.png", png)

    await w.tg.send(ADMIN, ADMIN, "/lang fa")
    await w.tg.wait_text(ADMIN, "فارسی شد")
    after = len(w.tg.events)
    await w.tg.send(ADMIN, ADMIN, "/stats")
    ask = await w.tg.wait_text(ADMIN, "نمودار چند روز", after=after)
    after = len(w.tg.events)
    await w.tg.press(ADMIN, ADMIN, ask["message_id"], 1)  # 30 days
    event = await w.tg.wait_for(lambda e: "photo" in e.message, after=after, timeout=20)
    assert "ارسال‌شده: ۲" in event.message["caption"]
    png = w.tg.files[event.message["photo"][0]["file_id"]][1]
    assert Image.open(io.BytesIO(png)).size == (1200, 700)
    _keep("stats-fa.png", png)


def test_every_persian_glyph_the_chart_draws_is_in_its_font() -> None:
    """No tofu: each character of each label and each Persian digit is in the font's character
    map, and the font has the joining forms (its GSUB features) the shaper draws them with."""
    font = TTFont(stats.font_path())
    cmap = font["cmap"].getBestCmap()
    title = "پیامک‌های حساب پیام در ۹۰ روز گذشته"
    needed = "".join(stats.labels("fa", title)) + "۰۱۲۳۴۵۶۷۸۹٬/"
    missing = {c for c in needed if not c.isspace() and ord(c) not in cmap and c != "\u200c"}
    assert not missing, [hex(ord(c)) for c in sorted(missing)]
    features = {r.FeatureTag for r in font["GSUB"].table.FeatureList.FeatureRecord}
    assert {"init", "medi", "fina"} <= features


def test_a_month_with_costs_renders_with_its_second_axis() -> None:
    days = {
        date(2026, 11, d).isoformat(): Day(d * 10, d * 8, d, 1, d * 3, d * 1000.0)
        for d in range(1, 31)
    }
    png = stats.chart("fa", days, date(2026, 11, 1), 30, "پیامک‌ها در ۳۰ روز گذشته")
    assert Image.open(io.BytesIO(png)).size == (1200, 700)
    _keep("stats-fa-month.png", png)
