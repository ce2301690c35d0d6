"""/send and replies to forwarded SMS: preview → Confirm / Cancel → the provider's result."""

from __future__ import annotations

import asyncio
import logging
import re
import warnings
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from providers.numbers import to_ascii_digits
from providers.text import analyze
from storage.inbound import Link
from storage.sends import Recipient, SendRow

from .. import render
from ..sending import ParsedSend, parse_send
from .common import Caller, Context, Services, flow_cancel, guard, reply, services

log = logging.getLogger("smsbridge.bot")


def preview_text(lang: str, row: SendRow, reply_to: str | None = None) -> str:
    numbers = [r.number for r in row.recipients]
    lines = [render.t(lang, "preview.title", id=render.digits(lang, str(row.id)))]
    if reply_to:
        lines.append(render.t(lang, "preview.reply_to", sender=render.phone(lang, reply_to)))
    lines.append(render.t(lang, "preview.from", account=render.esc(row.account),
                          line=render.ltr(render.esc(row.line or "—"))))  # fmt: skip
    lines.append(render.t(lang, "preview.recipients", count=render.number(lang, len(numbers)),
                          numbers=render.number_list(lang, numbers)))  # fmt: skip
    if row.audience is not None and row.audience != len(numbers):
        lines.append(render.t(lang, "preview.audience", count=render.number(lang, row.audience)))
    if row.invalid:
        lines.append(
            render.t(lang, "preview.invalid", invalid=", ".join(render.esc(i) for i in row.invalid))
        )
    if row.refused:
        lines.append(render.refusals(lang, row.account, row.refused))
    if row.send_at:
        jalali, gregorian = render.when(lang, datetime.fromisoformat(row.send_at))
        lines.append(render.t(lang, "preview.when", jalali=jalali, gregorian=gregorian))
    lines.append(render.text_info(lang, analyze(row.text)))
    if row.price_estimate is not None:
        lines.append(
            render.t(lang, "preview.cost", cost=render.money(lang, row.price_estimate, "rial"))
        )
    lines.append(render.t(lang, "preview.text", text=render.esc(row.text)))
    return "\n".join(lines)


DELIVERY_MARKS = {"queued": "⏳", "sent": "📶", "delivered": "✅", "failed": "❌", "unknown": "❔"}
LIST_LIMIT = 10  # above this many recipients, delivery shows counts and the failures only


def delivery_counts(lang: str, recipients: Sequence[Recipient]) -> str:
    """``✅ delivered 5 · ❌ not delivered 1 · ⏳ queued 4`` for a send's recipients."""
    counts: dict[str, int] = {}
    for r in recipients:
        counts[r.state] = counts.get(r.state, 0) + 1
    return " · ".join(
        f"{DELIVERY_MARKS.get(state, '❔')} "
        f"{render.t(lang, f'delivery.{state}') if state in DELIVERY_MARKS else render.esc(state)} "
        f"{render.number(lang, count)}"
        for state, count in sorted(counts.items())
    )


def result_text(lang: str, row: SendRow) -> str:
    """The provider's answer, then each recipient's delivery state as reports arrive (above
    ``LIST_LIMIT`` recipients: counts, and the first refused numbers)."""
    lines = [render.t(lang, "result.title", id=render.digits(lang, str(row.id)),
                      account=render.esc(row.account))]  # fmt: skip
    if row.state == "unknown":
        lines.append(render.t(lang, "result.unknown", error=render.esc(row.error or "")))
        return "\n".join(lines)
    accepted = [r for r in row.recipients if r.message_id]
    refused = [r for r in row.recipients if not r.message_id]
    if len(row.recipients) > LIST_LIMIT:
        lines.append(render.t(lang, "result.summary", counts=delivery_counts(lang, accepted)))
        accepted = []
    for r in accepted:
        lines.append(render.t(
            lang, "result.ok", mark=DELIVERY_MARKS.get(r.state, "❔"),
            number=render.phone(lang, r.number), state=render.t(lang, f"delivery.{r.state}"),
            message_id=render.ltr(render.esc(r.message_id or "")),
        ))  # fmt: skip
    for r in refused[:LIST_LIMIT]:
        lines.append(render.t(lang, "result.failed", number=render.phone(lang, r.number),
                              error=render.esc(r.error or row.error or "")))  # fmt: skip
    if len(refused) > LIST_LIMIT:
        lines.append(f"… (+{render.number(lang, len(refused) - LIST_LIMIT)})")
    if row.campaign_id:
        lines.append(
            render.t(lang, "result.campaign", campaign=render.ltr(render.esc(row.campaign_id)))
        )
    if row.price:
        lines.append(render.t(lang, "result.price", price=render.money(lang, row.price, "rial")))
    return "\n".join(lines)


async def reply_to_of(svc: Services, row: SendRow) -> str | None:
    """The customer a send answers, when it is a reply to a forwarded SMS."""
    inbound = await svc.bridge.inbound.get(row.inbound_id) if row.inbound_id else None
    return inbound.sender if inbound else None


async def show_delivery(bot: Bot, svc: Services, row: SendRow) -> None:
    """Edit a send's chat message to show its latest delivery states."""
    if row.chat_message_id is None:
        return
    lang = await svc.language(row.chat_id)
    text = preview_text(lang, row, await reply_to_of(svc, row))
    try:
        await bot.edit_message_text(
            text + "\n\n" + result_text(lang, row), chat_id=row.chat_id,
            message_id=row.chat_message_id, parse_mode=ParseMode.HTML,
        )  # fmt: skip
    except BadRequest as exc:  # "message is not modified", or the message was deleted
        log.info("delivery edit of send %s skipped: %s", row.id, exc.message)


def keyboard(lang: str, send_id: int, count: int | None = None) -> InlineKeyboardMarkup:
    confirm = (
        render.t(lang, "button.confirm")
        if count is None
        else render.t(lang, "button.confirm_again", count=render.number(lang, count))
    )
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(confirm, callback_data=f"snd:ok:{send_id}"),
          InlineKeyboardButton(render.t(lang, "button.cancel"), callback_data=f"snd:no:{send_id}")]]
    )  # fmt: skip


async def _preview(
    update: Update, svc: Services, caller: Caller, parsed: ParsedSend, *,
    inbound_id: int | None = None, reply_to: str | None = None,
) -> None:  # fmt: skip
    row = await svc.sends.prepare(
        user_id=caller.user_id, chat_id=caller.chat_id, target=parsed.target,
        recipients=parsed.recipients, text=parsed.text,
        reply_to_message_id=caller.message.message_id if caller.message else None,
        inbound_id=inbound_id, send_at=parsed.send_at,
    )  # fmt: skip
    message = await reply(
        update,
        preview_text(caller.lang, row, reply_to),
        keyboard(caller.lang, row.id),
    )
    if message is not None:
        await svc.sends.repo.set_chat_message(row.id, message.message_id)


ACCOUNT, RECIPIENTS, TEXT = range(3)
END = ConversationHandler.END
FLOW = "send_flow"  # the flow's answers so far, in the person's user_data (persisted)


async def send(update: Update, context: Context) -> int:
    """One-shot when the line has recipients and text; otherwise a guided flow asks for what
    is missing (account, recipients, text) and survives a restart at the step it reached."""
    svc = services(context)
    caller = await guard(update, svc, "operator")
    if caller is None or caller.message is None:
        return END
    text = caller.message.text or ""
    args = text.split(maxsplit=1)[1] if len(text.split(maxsplit=1)) > 1 else ""
    parsed = parse_send(args)
    if parsed.recipients and parsed.text:
        await _preview(update, svc, caller, parsed)
        return END
    if parsed.target:
        svc.sends.resolve(parsed.target)  # an unknown account or line is refused now, not later
    flow = {"target": parsed.target, "recipients": list(parsed.recipients),
            "send_at": parsed.send_at.isoformat() if parsed.send_at else None}  # fmt: skip
    _user_data(context)[FLOW] = flow
    return await _ask_next(update, svc, caller, flow)


def _user_data(context: Context) -> dict[str, Any]:
    data = context.user_data
    assert data is not None
    return data


async def _ask_next(update: Update, svc: Services, caller: Caller, flow: dict[str, Any]) -> int:
    if flow["target"] is None and len(svc.config.accounts) > 1:
        buttons = [[InlineKeyboardButton(f"{a.name} ({a.provider})", callback_data=f"flow:{a.name}")]
                   for a in svc.config.accounts]  # fmt: skip
        await reply(update, render.t(caller.lang, "flow.account"), InlineKeyboardMarkup(buttons))
        return ACCOUNT
    if not flow["recipients"]:
        await reply(update, render.t(caller.lang, "flow.recipients"))
        return RECIPIENTS
    await reply(update, render.t(caller.lang, "flow.text"))
    return TEXT


async def flow_account(update: Update, context: Context) -> int:
    query = update.callback_query
    svc = services(context)
    caller = await guard(update, svc, "operator")
    flow = _user_data(context).get(FLOW)
    if query is None or query.data is None or caller is None or flow is None:
        return END
    await query.answer()
    flow["target"] = query.data.split(":", 1)[1] + ":"
    svc.sends.resolve(flow["target"])
    return await _ask_next(update, svc, caller, flow)


async def flow_recipients(update: Update, context: Context) -> int:
    svc = services(context)
    caller = await guard(update, svc, "operator")
    flow = _user_data(context).get(FLOW)
    if caller is None or caller.message is None or flow is None:
        return END
    parsed = parse_send(caller.message.text or "")
    if not parsed.recipients:
        await reply(update, render.t(caller.lang, "flow.no_recipients"))
        return RECIPIENTS
    flow["recipients"] = list(parsed.recipients)
    if parsed.text:  # numbers and text in one message: straight to the preview
        _user_data(context).pop(FLOW, None)
        await _preview(update, svc, caller, ParsedSend(flow["target"], parsed.recipients,
                                                       parsed.text, _flow_time(flow)))  # fmt: skip
        return END
    return await _ask_next(update, svc, caller, flow)


def _flow_time(flow: dict[str, Any]) -> datetime | None:
    return datetime.fromisoformat(flow["send_at"]) if flow.get("send_at") else None


async def flow_text(update: Update, context: Context) -> int:
    svc = services(context)
    caller = await guard(update, svc, "operator")
    flow = _user_data(context).pop(FLOW, None)
    if caller is None or caller.message is None or flow is None:
        return END
    parsed = ParsedSend(flow["target"], tuple(flow["recipients"]), caller.message.text or "",
                        _flow_time(flow))  # fmt: skip
    await _preview(update, svc, caller, parsed)
    return END


def send_flow() -> ConversationHandler[Any]:
    text = filters.TEXT & ~filters.COMMAND
    with warnings.catch_warnings():  # the account buttons are tracked per chat and user, on purpose
        warnings.filterwarnings("ignore", message=".*per_message.*", category=PTBUserWarning)
        return ConversationHandler(
            entry_points=[CommandHandler("send", send)],
            states={
                ACCOUNT: [CallbackQueryHandler(flow_account, pattern=r"^flow:[a-z0-9_-]+$")],
                RECIPIENTS: [MessageHandler(text, flow_recipients)],
                TEXT: [MessageHandler(text, flow_text)],
            },
            fallbacks=[CommandHandler("cancel", flow_cancel(FLOW))],
            name="send",
            persistent=True,
            allow_reentry=True,
        )


_DIGEST_PICK = re.compile(r"\s*#?\s*([0-9۰-۹٠-٩]+)[\s:.)\-]+(.+)", re.S)


async def reply_to_sms(update: Update, context: Context) -> None:
    """A Telegram reply to a forwarded SMS answers its sender from the same line; a reply to a
    digest answers the SMS whose number it starts with."""
    message = update.effective_message
    if message is None or update.effective_chat is None:
        return
    svc = services(context)
    chat_id, replied = update.effective_chat.id, message.reply_to_message
    link: Link | None = None
    digest: dict[int, int] = {}
    topic = None
    thread = message.message_thread_id if message.is_topic_message else None
    if thread is not None and (replied is None or replied.message_id == thread):
        # typed in a topic (Telegram makes it a reply to the topic's first message)
        topic = await svc.bridge.inbound.topic_owner(chat_id, thread)
        if topic is None:
            return  # a topic that is not a correspondent's
    elif replied is None:
        return
    else:
        ours = bool(replied.from_user and replied.from_user.id == context.bot.id)
        # The person may answer before the outbox has committed the link of the message it
        # just delivered: for a message of ours, look again for a moment.
        for _attempt in range(10):
            link = await svc.outbox.link(chat_id, replied.message_id)
            digest = await svc.outbox.digest(chat_id, replied.message_id) if link is None else {}
            if link is not None or digest or not ours:
                break
            await asyncio.sleep(0.1)
        if (link is None or link.inbound_id is None) and not digest:
            return  # people talking among themselves
    caller = await guard(update, svc, "viewer")
    if caller is None:
        return
    if caller.role == "viewer":
        await reply(update, render.t(caller.lang, "reply.viewer"))
        return
    text = message.text or ""
    if topic is not None:
        account, counterparty, line = topic
        target = f"{account}:{line}" if line else f"{account}:"
        parsed = ParsedSend(target, (counterparty,), text)
        await _preview(update, svc, caller, parsed, reply_to=counterparty)
        return
    if digest:
        picked = _DIGEST_PICK.match(text)
        number = int(to_ascii_digits(picked.group(1))) if picked else 0
        if picked is None or number not in digest:
            await reply(update, render.t(caller.lang, "digest.choose",
                                         example=f"#{render.digits(caller.lang, '1')}"))  # fmt: skip
            return
        text, inbound_id = picked.group(2), digest[number]
    else:
        assert link is not None and link.inbound_id is not None
        inbound_id = link.inbound_id
    sms = await svc.bridge.inbound.get(inbound_id)
    if sms is None:
        return
    line = (link.line if link else None) or sms.line  # reconciliation may have found it since
    target = f"{sms.account}:{line}" if line else f"{sms.account}:"
    parsed = ParsedSend(target, (sms.sender,), text)
    await _preview(update, svc, caller, parsed, inbound_id=inbound_id, reply_to=sms.sender)


async def on_button(update: Update, context: Context) -> None:
    query = update.callback_query
    if query is None or query.data is None:
        return
    svc = services(context)
    caller = await guard(update, svc, "operator")
    if caller is None:
        await query.answer()
        return
    _prefix, action, raw_id = query.data.split(":")
    send_id = int(raw_id)
    lang = caller.lang
    row = await svc.sends.repo.get(send_id)
    if row is None:
        await query.answer(render.t(lang, "confirm.gone"), show_alert=True)
        return
    reply_to = await reply_to_of(svc, row)
    if action == "no":
        if await svc.sends.repo.cancel(send_id, caller.user_id):
            await query.answer()
            await query.edit_message_text(
                preview_text(lang, row, reply_to)
                + "\n\n"
                + render.t(lang, "cancelled", id=send_id),
                parse_mode=ParseMode.HTML,
            )
        else:
            await query.answer(render.t(lang, "confirm.gone"), show_alert=True)
        return
    claim = await svc.sends.claim(send_id, caller.user_id, row.reach)
    if claim.status == "armed":
        await query.answer()
        await query.edit_message_text(
            preview_text(lang, row, reply_to) + "\n\n" + render.t(
                lang, "confirm.armed", count=render.number(lang, row.reach),
                threshold=render.number(lang, svc.config.access.bulk_confirm_threshold)),
            parse_mode=ParseMode.HTML, reply_markup=keyboard(lang, send_id, row.reach),
        )  # fmt: skip
        return
    if claim.status != "ok" or claim.row is None:
        key = {"quota": "confirm.quota", "not_owner": "confirm.not_owner"}.get(
            claim.status, "confirm.gone"
        )
        await query.answer(
            render.t(lang, key, quota=svc.config.access.daily_quota, used=claim.used_today),
            show_alert=True,
        )
        return
    await query.answer(render.t(lang, "sending"))
    await query.edit_message_text(
        preview_text(lang, row, reply_to) + "\n\n" + render.t(lang, "sending"),
        parse_mode=ParseMode.HTML,
    )
    final, _error = await svc.sends.execute(claim.row)
    if final.state in ("sent", "partial"):
        svc.delivery.track(final.id)
        svc.credit.soon()
    if _error is not None and final.state == "failed":
        outcome = render.t(lang, "result.error", error=render.provider_error(lang, _error))
    else:
        outcome = result_text(lang, final)
    await query.edit_message_text(
        preview_text(lang, row, reply_to) + "\n\n" + outcome, parse_mode=ParseMode.HTML
    )


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(send_flow())
    app.add_handler(CallbackQueryHandler(on_button, pattern=r"^snd:(ok|no):\d+$"))
    app.add_handler(
        MessageHandler(
            (filters.REPLY | filters.IS_TOPIC_MESSAGE) & filters.TEXT & ~filters.COMMAND,
            reply_to_sms,
        )
    )
