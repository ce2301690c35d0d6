"""/inbox: the latest SMS shown in this chat."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CommandHandler

from .. import render
from .common import Caller, Context, Services, command, count, fit, reply, when


@command("viewer")
async def inbox(update: Update, context: Context, svc: Services, caller: Caller) -> None:
    rows = await svc.bridge.recent(caller.chat_id, count(context.args or []))
    if not rows:
        await reply(update, render.t(caller.lang, "inbox.empty"))
        return
    lines = [render.t(caller.lang, "inbox.title")]
    for r in reversed(rows):
        lines.append(
            render.t(
                caller.lang,
                "inbox.line",
                when=when(caller.lang, r.received_at),
                sender=render.sender(caller.lang, r),
                line=render.ltr(render.esc(r.line or "—")),
                account=render.esc(r.account),
                text=render.esc(r.text),
            )
        )
    await reply(update, fit("\n\n".join(lines)))


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("inbox", inbox))
