"""/templates: saved texts with names and ``{placeholders}`` — list (viewer), add by command, edit
and delete by button (operator), each change audited; offered as buttons where a text is asked
for (the guided /send and a list's flow)."""

from __future__ import annotations

import re
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
)

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
    answer_flow,
    button_handler,
    command,
    manage_buttons,
    reply,
)

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
    await reply(update, card, manage_buttons(svc, caller, "tp", str(template.id)))


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


async def _ask_text(update: Update, svc: Services, caller: Caller, payload: str) -> int:
    """Edit by button: the next message is the template's new text."""
    template = await _template(svc, payload)
    await reply(update, render.t(caller.lang, "templates.edit", name=render.esc(template.name)))
    return template.id


async def _take_text(
    update: Update, svc: Services, caller: Caller, template_id: Any, text: str
) -> None:
    template = await svc.templates.get(int(template_id))
    if template is None:
        raise UserError("templates.gone")
    await svc.templates.save(
        template.name, text.strip(), user_id=caller.user_id, chat_id=caller.chat_id
    )
    name = render.esc(template.name)
    await reply(update, render.t(caller.lang, "templates.updated", name=name))


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(answer_flow("template_edit", r"tp:e:\d+", _ask_text, _take_text))
    app.add_handler(CommandHandler("templates", templates))
    app.add_handler(CallbackQueryHandler(on_open, pattern=signed(r"tp:o:\d+")))
    app.add_handler(CallbackQueryHandler(on_delete, pattern=signed(r"tp:d:\d+")))
