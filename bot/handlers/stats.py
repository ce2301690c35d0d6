"""/stats [days] [account]: a chart of SMS per day, sent as a photo with its totals in the caption
(the figure, in words, for screen readers). Asked by buttons when the days are missing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from providers.numbers import to_ascii_digits
from providers.timeutil import TEHRAN

from .. import render, stats
from ..buttons import signed
from ..sending import UserError
from .common import Caller, Context, Services, answer, button_handler, command, reply

CHOICES = (7, 30, 90)
MOST = 366


@command("viewer")
async def stats_command(update: Update, context: Context, svc: Services, caller: Caller) -> None:
    args = list(context.args or [])
    if not args:
        buttons = [
            svc.buttons.button(
                render.t(caller.lang, "export.days", days=render.number(caller.lang, d)),
                caller.chat_id,
                f"st:{d}",
            )
            for d in CHOICES
        ]
        await reply(update, render.t(caller.lang, "stats.ask"), InlineKeyboardMarkup([buttons]))
        return
    days = to_ascii_digits(args[0])
    if not days.isdecimal() or not 1 <= int(days) <= MOST:
        raise UserError("stats.usage", most=MOST)
    account = args[1] if len(args) > 1 else None
    if account is not None and svc.config.account(account) is None:
        names = ", ".join(a.name for a in svc.config.accounts)
        raise UserError("send.unknown_account", account=account, accounts=names)
    await _send(update, svc, caller, int(days), account)


@button_handler("viewer")
async def on_days(
    update: Update, context: Context, svc: Services, caller: Caller, payload: str
) -> None:
    assert update.callback_query is not None
    await answer(update.callback_query)
    await _send(update, svc, caller, int(payload.split(":")[1]), None)


async def _send(
    update: Update, svc: Services, caller: Caller, count: int, account: str | None
) -> None:
    lang = caller.lang
    today = datetime.now(UTC).astimezone(TEHRAN).date()
    first = today - timedelta(days=count - 1)
    since = datetime.combine(first, datetime.min.time(), TEHRAN).astimezone(UTC)
    days = await svc.stats.daily(since.isoformat(timespec="seconds"), account)
    key = "stats.title_account" if account else "stats.title"
    title = render.t(lang, key, days=render.number(lang, count), account=account or "")
    picture = await asyncio.to_thread(stats.chart, lang, days, first, count, title)
    total = stats.totals(list(days.values()))
    caption = render.t(
        lang,
        "stats.caption",
        title=render.esc(title),
        sent=render.number(lang, total.sent),
        delivered=render.number(lang, total.delivered),
        failed=render.number(lang, total.failed),
        unknown=render.number(lang, total.unknown),
        inbound=render.number(lang, total.inbound),
        cost=render.money(lang, total.cost, "rial") if total.cost else "—",
    )
    message = update.effective_message
    if message is not None:
        await message.reply_photo(picture, caption=caption, parse_mode="HTML")


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("stats", stats_command))
    app.add_handler(CallbackQueryHandler(on_days, pattern=signed(r"st:\d+")))
