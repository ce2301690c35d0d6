"""/templates: saved texts with names and ``{placeholders}`` — list (viewer), add by command, edit
and delete by button (operator), each change audited; offered as buttons where a text is asked
for (the guided /send and a list's flow)."""

from __future__ import annotations

import re
import warnings
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from storage.access import ROLES
from storage.contacts import Template

from .. import render
from ..buttons import signed
from ..sending import UserError
from .common import (
    Caller,
    Context,
    Services,
    answer,
    button_handler,
    command,
    flow_cancel,
    guard,
    pressed,
    reply,
    services,
)

EDIT = "template_edit"  # the template whose text the next message replaces
TEXT = 0
MAX_NAME = 32
SHOWN = 20  # template buttons offered at most


def template_buttons(
    svc: Services, chat_id: int, templates: list[Template], prefix: str
) -> list[list[InlineKeyboardButton]]:
    """One button per saved text (``prefix:<id>``), for a flow that asks for a text."""
    return [
        [svc.buttons.button(f"📝 {t.name}"[:60], chat_id, f"{prefix}:{t.id}")]
        for t in templates[:SHOWN]
    ]


@command("viewer")
async def templates(update: Update, context: Context, svc: Services, caller: Caller) -> None:
    text = caller.message.text or "" if caller.message else ""
    parts = text.split(maxsplit=2)
    if len(parts) > 1 and parts[1].lower() == "add":
        if ROLES.index(caller.role) < ROLES.index("operator"):
            raise UserError("forbidden", role="operator", have=caller.role)
        found = re.match(r"(\S+)\s+(.+)", parts[2] if len(parts) > 2 else "", re.S)
        name, body = (found.group(1), found.group(2).strip()) if found else ("", "")
        if not name or not body or len(name) > MAX_NAME:
            raise UserError("templates.usage")
        new = await svc.templates.save(name, body, user_id=caller.user_id, chat_id=caller.chat_id)
        key = "templates.added" if new else "templates.updated"
        await reply(update, render.t(caller.lang, key, name=render.esc(name)))
        return
    if len(parts) > 1:
        raise UserError("templates.usage")
    saved = await svc.templates.listing()
    lang = caller.lang
    if not saved:
        await reply(update, render.t(lang, "templates.empty"))
        return
    lines = [render.t(lang, "templates.title", count=render.number(lang, len(saved)))]
    lines += [f"• <b>{render.esc(t.name)}</b>: {render.esc(t.text[:80])}" for t in saved]
    lines += ["", render.t(lang, "templates.usage")]
    markup = InlineKeyboardMarkup(template_buttons(svc, caller.chat_id, saved, "tp:o"))
    await reply(update, "\n".join(lines), markup)


async def _template(svc: Services, payload: str) -> Template:
    found = await svc.templates.get(int(payload.rsplit(":", 1)[1]))
    if found is None:
        raise UserError("templates.gone")
    return found


@button_handler("viewer")
async def on_open(
    update: Update, context: Context, svc: Services, caller: Caller, payload: str
) -> None:
    assert update.callback_query is not None
    await answer(update.callback_query)
    template = await _template(svc, payload)
    lang = caller.lang
    card = render.t(
        lang, "templates.card", name=render.esc(template.name), text=render.esc(template.text)
    )
    buttons = []
    if ROLES.index(caller.role) >= ROLES.index("operator"):
        buttons.append(
            [
                svc.buttons.button(
                    render.t(lang, "button.edit"), caller.chat_id, f"tp:e:{template.id}"
                ),
                svc.buttons.button(
                    render.t(lang, "button.delete"), caller.chat_id, f"tp:d:{template.id}"
                ),
            ]
        )
    await reply(update, card, InlineKeyboardMarkup(buttons) if buttons else None)


@button_handler("operator")
async def on_delete(
    update: Update, context: Context, svc: Services, caller: Caller, payload: str
) -> None:
    assert update.callback_query is not None
    await answer(update.callback_query)
    template_id = int(payload.rsplit(":", 1)[1])
    name = await svc.templates.delete(template_id, user_id=caller.user_id, chat_id=caller.chat_id)
    if name is None:
        raise UserError("templates.gone")
    await reply(update, render.t(caller.lang, "templates.deleted", name=render.esc(name)))


async def on_edit(update: Update, context: Context) -> int:
    """Edit by button: the next message is the template's new text."""
    svc = services(context)
    caller = await guard(update, svc, "operator")
    if caller is None or update.callback_query is None or context.user_data is None:
        return ConversationHandler.END
    await answer(update.callback_query)
    template = await _template(svc, pressed(update, svc))
    context.user_data[EDIT] = template.id
    await reply(
        update,
        render.t(caller.lang, "templates.edit", name=render.esc(template.name)),
    )
    return TEXT


async def on_new_text(update: Update, context: Context) -> int:
    svc = services(context)
    caller = await guard(update, svc, "operator")
    data = context.user_data
    if caller is None or caller.message is None or data is None or EDIT not in data:
        return ConversationHandler.END
    template = await svc.templates.get(int(data.pop(EDIT)))
    if template is None:
        raise UserError("templates.gone")
    text = (caller.message.text or "").strip()
    await svc.templates.save(template.name, text, user_id=caller.user_id, chat_id=caller.chat_id)
    await reply(update, render.t(caller.lang, "templates.updated", name=render.esc(template.name)))
    return ConversationHandler.END


def edit_flow() -> ConversationHandler[Any]:
    with warnings.catch_warnings():  # the edit is tracked per chat and user, on purpose
        warnings.filterwarnings("ignore", message=".*per_message.*", category=PTBUserWarning)
        return ConversationHandler(
            entry_points=[CallbackQueryHandler(on_edit, pattern=signed(r"tp:e:\d+"))],
            states={TEXT: [MessageHandler(filters.TEXT & ~filters.COMMAND, on_new_text)]},
            fallbacks=[CommandHandler("cancel", flow_cancel(EDIT))],
            name="template_edit",
            persistent=True,
            allow_reentry=True,
        )


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(edit_flow())
    app.add_handler(CommandHandler("templates", templates))
    app.add_handler(CallbackQueryHandler(on_open, pattern=signed(r"tp:o:\d+")))
    app.add_handler(CallbackQueryHandler(on_delete, pattern=signed(r"tp:d:\d+")))
