"""Replying to a forwarded SMS (or typing in a correspondent's forum topic) answers its sender as
SMS, from the line it came to, after the same preview and confirmation as /send."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, MessageHandler, filters

from .. import render
from ..replies import PickFromDigest, TooOld
from ..sending import ParsedSend
from .common import Context, guard, reply, services
from .send import preview


async def reply_to_sms(update: Update, context: Context) -> None:
    """A reply to a forwarded SMS answers its sender; to a digest, the SMS whose number it
    starts with; in a correspondent's topic, that correspondent."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    svc = services(context)
    replied = message.reply_to_message
    ours = bool(replied and replied.from_user and replied.from_user.id == context.bot.id)
    found = await svc.replies.answers(
        chat.id,
        message.text or "",
        replied=replied.message_id if replied else None,
        ours=ours,
        thread=message.message_thread_id if message.is_topic_message else None,
    )
    if found is None:
        return  # people talking among themselves
    caller = await guard(update, svc, "viewer")
    if caller is None:
        return
    if caller.role == "viewer":
        await reply(update, render.t(caller.lang, "reply.viewer"))
        return
    if isinstance(found, TooOld):
        days = render.number(caller.lang, svc.config.storage.keep_days)
        await reply(update, render.t(caller.lang, "reply.too_old", days=days))
        return
    if isinstance(found, PickFromDigest):
        example = f"#{render.digits(caller.lang, '1')}"
        await reply(update, render.t(caller.lang, "digest.choose", example=example))
        return
    target = f"{found.account}:{found.line}" if found.line else f"{found.account}:"
    note = None
    if not found.line_known:
        note = render.t(
            caller.lang, "reply.line_unknown", line=render.ltr(render.esc(found.line or "—"))
        )
    parsed = ParsedSend(target, (found.counterparty,), found.text)
    await preview(
        update,
        svc,
        caller,
        parsed,
        inbound_id=found.inbound_id,
        reply_to=found.counterparty,
        note=note,
    )


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(
        MessageHandler(
            (filters.REPLY | filters.IS_TOPIC_MESSAGE) & filters.TEXT & ~filters.COMMAND,
            reply_to_sms,
        )
    )
