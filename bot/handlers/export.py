"""/export sends|inbound [from] [to] [xlsx]: a file of each recipient of the sends, or each inbound
SMS, of a time range (CSV by default). Asked by buttons when the kind or the range is missing.
An admin exports everything; anyone else what their chat sent and was shown (as /search)."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from providers.timeutil import TEHRAN

from .. import export, render
from ..buttons import signed
from ..sending import UserError, parse_time
from .common import Caller, Context, Services, answer, button_handler, command, reply

UPLOAD_LIMIT = 50_000_000  # bytes a bot may send as a document
RANGES = (1, 7, 30, 0)  # days back from now (0: everything)


@command("viewer")
async def export_command(update: Update, context: Context, svc: Services, caller: Caller) -> None:
    args = [a.lower() for a in context.args or []]
    form = "xlsx" if "xlsx" in args else "csv"
    args = [a for a in args if a not in export.FORMATS]
    if not args:
        await _ask_kind(update, svc, caller)
        return
    kind = args[0]
    if kind not in export.KINDS:
        raise UserError("export.usage")
    if len(args) == 1:
        await _ask_range(update, svc, caller, kind)
        return
    since = parse_time(args[1]).replace(hour=0, minute=0)
    until = (
        parse_time(args[2]).replace(hour=0, minute=0) + timedelta(days=1)
        if len(args) > 2
        else _now()
    )
    await _send(update, svc, caller, kind, form, since, until)


async def _ask_kind(update: Update, svc: Services, caller: Caller) -> None:
    buttons = [
        svc.buttons.button(render.t(caller.lang, f"export.{k}"), caller.chat_id, f"ex:k:{k}")
        for k in export.KINDS
    ]
    await reply(update, render.t(caller.lang, "export.which"), InlineKeyboardMarkup([buttons]))


async def _ask_range(update: Update, svc: Services, caller: Caller, kind: str) -> None:
    lang = caller.lang
    rows = [
        [
            svc.buttons.button(
                f"{form.upper()} · {_range_name(lang, days)}",
                caller.chat_id,
                f"ex:r:{kind}:{days}:{form}",
            )
            for days in RANGES
        ]
        for form in export.FORMATS
    ]
    await reply(update, render.t(lang, "export.when"), InlineKeyboardMarkup(rows))


def _now() -> datetime:
    """The end of a range that runs to now: past this second, which stored rows may share."""
    return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)


def _range_name(lang: str, days: int) -> str:
    if days == 0:
        return render.t(lang, "export.all")
    return render.t(lang, "export.days", days=render.number(lang, days))


@button_handler("viewer")
async def on_kind(
    update: Update, context: Context, svc: Services, caller: Caller, payload: str
) -> None:
    assert update.callback_query is not None
    await answer(update.callback_query)
    await _ask_range(update, svc, caller, payload.rsplit(":", 1)[1])


@button_handler("viewer")
async def on_range(
    update: Update, context: Context, svc: Services, caller: Caller, payload: str
) -> None:
    assert update.callback_query is not None
    await answer(update.callback_query)
    _prefix, _r, kind, raw_days, form = payload.split(":")
    days = int(raw_days)
    now = _now()
    since = now - timedelta(days=days) if days else datetime(2000, 1, 1, tzinfo=UTC)
    await _send(update, svc, caller, kind, form, since, now)


async def _send(
    update: Update,
    svc: Services,
    caller: Caller,
    kind: str,
    form: str,
    since: datetime,
    until: datetime,
) -> None:
    """Write the file in a temporary directory and send it as a document."""
    if until <= since:
        raise UserError("export.empty_range")
    within = None if caller.role == "admin" else caller.chat_id
    low, high = (t.astimezone(UTC).isoformat(timespec="seconds") for t in (since, until))
    rows = svc.exports.sends if kind == "sends" else svc.exports.inbound
    lang = caller.lang
    stamp = since.astimezone(TEHRAN).strftime("%Y%m%d")
    name = f"smsbridge-{kind}-{stamp}-{until.astimezone(TEHRAN):%Y%m%d}.{form}"
    with tempfile.TemporaryDirectory(prefix="smsbridge-export-") as tmp:
        path = Path(tmp) / name
        count = await export.write(path, kind, form, lang, rows(low, high, within))
        caption = render.t(
            lang,
            "export.caption",
            kind=render.t(lang, f"export.{kind}"),
            count=render.number(lang, count),
            since=render.when(lang, since)[0],
            until=render.when(lang, until)[0],
        )
        message = update.effective_message
        if message is None:
            return
        if path.stat().st_size > UPLOAD_LIMIT:  # Telegram would refuse it: say so, by name
            raise UserError("export.too_big", count=count, most=UPLOAD_LIMIT // 1_000_000)
        with path.open("rb") as document:
            await message.reply_document(document, filename=name, caption=caption)


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("export", export_command))
    app.add_handler(CallbackQueryHandler(on_kind, pattern=signed(r"ex:k:(sends|inbound)")))
    app.add_handler(
        CallbackQueryHandler(on_range, pattern=signed(r"ex:r:(sends|inbound):\d+:(csv|xlsx)"))
    )
