"""/report: the latest sends with their delivery, and one send recipient by recipient."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from providers.numbers import to_ascii_digits
from storage.sends import PREVIEWS

from .. import render
from ..buttons import signed
from ..sending import UserError
from .common import (
    LIST_DEFAULT,
    Caller,
    Context,
    Services,
    answer,
    button_handler,
    command,
    fit,
    reply,
    when,
)


@command("viewer")
async def report(update: Update, context: Context, svc: Services, caller: Caller) -> None:
    args = context.args or []
    if args:
        await reply(update, await detail(svc, caller, args[0]))
        return
    rows = await svc.sends.recent(LIST_DEFAULT)
    buttons = [
        [
            svc.buttons.button(f"#{row.id}", caller.chat_id, f"rep:{row.id}")
            for row in rows[i : i + 5]
        ]
        for i in range(0, len(rows), 5)
    ]
    await reply(
        update, fit(await _recent(svc, caller)), InlineKeyboardMarkup(buttons) if buttons else None
    )


@button_handler("viewer")
async def report_button(
    update: Update, context: Context, svc: Services, caller: Caller, payload: str
) -> None:
    """A tap on #id under /report: that send's per-recipient report."""
    assert update.callback_query is not None
    await answer(update.callback_query)
    await reply(update, await detail(svc, caller, payload.split(":", 1)[1]))


async def detail(svc: Services, caller: Caller, raw_id: str) -> str:
    send_id = to_ascii_digits(raw_id.lstrip("#"))
    row = await svc.sends.get(int(send_id)) if send_id.isdecimal() else None
    if row is None or row.state in PREVIEWS:
        raise UserError("report.not_found", id=raw_id)
    head = render.t(
        caller.lang,
        "report.detail",
        id=render.digits(caller.lang, str(row.id)),
        account=render.esc(row.account),
        when=when(caller.lang, row.created_at),
        state=render.t(caller.lang, f"state.{row.state}"),
        text=render.esc(row.text),
    )
    names = await svc.phonebook.names(render.shown_numbers(row))
    return fit(head + "\n\n" + render.result_text(caller.lang, row, names))


async def _recent(svc: Services, caller: Caller) -> str:
    rows = await svc.sends.recent(LIST_DEFAULT)
    if not rows:
        return render.t(caller.lang, "report.empty")
    lines = [render.t(caller.lang, "report.title")]
    for row in rows:
        summary = render.delivery_counts(caller.lang, row.recipients)
        lines.append(
            render.t(
                caller.lang,
                "report.line",
                id=render.digits(caller.lang, str(row.id)),
                account=render.esc(row.account),
                when=when(caller.lang, row.created_at),
                state=render.t(caller.lang, f"state.{row.state}"),
                summary=summary,
            )
        )
    return "\n".join(lines)


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("report", report))
    app.add_handler(CallbackQueryHandler(report_button, pattern=signed(r"rep:\d+")))
