"""/start and /help: a greeting with the caller's role, or their id when they are not authorized."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CommandHandler

from .. import render
from .common import Caller, Context, Services, command, reply


@command("viewer")
async def start(update: Update, context: Context, svc: Services, caller: Caller) -> None:
    user = update.effective_user
    name = render.esc(user.first_name if user else "")
    await reply(
        update,
        render.t(
            caller.lang,
            "welcome",
            name=name,
            role=render.role_name(caller.lang, caller.role),
            help=render.help_text(caller.lang, caller.role),
        ),
    )


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler(["start", "help"], start))
