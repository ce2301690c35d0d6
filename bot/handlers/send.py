"""/send and replies to forwarded SMS: preview → Confirm / Cancel → the provider's result."""

from __future__ import annotations

import logging
import warnings
from datetime import datetime
from typing import Any

from telegram import CallbackQuery, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from storage.sends import ClaimStatus, SendRow, SendState

from .. import render
from ..buttons import signed
from ..sending import ParsedSend, UserError, parse_send
from ..sheets import placeholders
from .common import (
    Caller,
    Context,
    Services,
    answer,
    flow_cancel,
    guard,
    pressed,
    reply,
    services,
)
from .templates import template_buttons

log = logging.getLogger("smsbridge.bot")


async def show_later(svc: Services, row: SendRow) -> None:
    """The chat message of a send could not be edited now: the outbox edits it when it can."""
    if row.chat_message_id is not None:
        await svc.outbox.enqueue_send_update(row.chat_id, row.id)
        svc.wake_outbox()


def keyboard(
    svc: Services, chat_id: int, lang: str, send_id: int, count: int | None = None
) -> InlineKeyboardMarkup:
    """Confirm and Cancel; with ``count``, the bulk send's second confirmation, a button of its own."""
    if count is None:
        confirm = svc.buttons.button(render.t(lang, "button.confirm"), chat_id, f"snd:ok:{send_id}")
    else:
        text = render.t(lang, "button.confirm_again", count=render.number(lang, count))
        confirm = svc.buttons.button(text, chat_id, f"snd:ok2:{send_id}")
    cancel = svc.buttons.button(render.t(lang, "button.cancel"), chat_id, f"snd:no:{send_id}")
    return InlineKeyboardMarkup([[confirm, cancel]])


async def preview(
    update: Update,
    svc: Services,
    caller: Caller,
    parsed: ParsedSend,
    *,
    inbound_id: int | None = None,
    reply_to: str | None = None,
    note: str | None = None,
) -> None:
    recipients, resolved = await svc.phonebook.resolve(parsed.recipients)
    row = await svc.sends.prepare(
        user_id=caller.user_id,
        chat_id=caller.chat_id,
        target=parsed.target,
        recipients=recipients,
        text=parsed.text,
        reply_to_message_id=caller.message.message_id if caller.message else None,
        inbound_id=inbound_id,
        send_at=parsed.send_at,
        override_optout=caller.role == "admin",
    )
    notes = [note] if note else []
    notes += [render.resolved(caller.lang, r) for r in resolved]
    if row.optout_override:
        notes.append(
            render.t(caller.lang, "preview.optout_override", account=render.esc(row.account))
        )
    await show_preview(update, svc, caller, row, reply_to, "\n\n".join(notes) or None)


async def show_preview(
    update: Update,
    svc: Services,
    caller: Caller,
    row: SendRow,
    reply_to: str | None = None,
    note: str | None = None,
) -> None:
    """A draft's preview with its Confirm and Cancel, remembered as the send's chat message."""
    names = await svc.phonebook.names(render.shown_numbers(row, reply_to))
    text = render.preview_text(caller.lang, row, reply_to, names)
    message = await reply(
        update,
        f"{text}\n\n{note}" if note else text,
        keyboard(svc, caller.chat_id, caller.lang, row.id),
    )
    if message is not None:
        await svc.sends.shown_as(row.id, message.message_id)


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
        await preview(update, svc, caller, parsed)
        return END
    if parsed.target:
        svc.sends.resolve(parsed.target)  # an unknown account or line is refused now, not later
    flow = {
        "target": parsed.target,
        "recipients": list(parsed.recipients),
        "send_at": parsed.send_at.isoformat() if parsed.send_at else None,
    }
    _user_data(context)[FLOW] = flow
    return await _ask_next(update, svc, caller, flow)


def _user_data(context: Context) -> dict[str, Any]:
    data = context.user_data
    assert data is not None
    return data


async def _ask_next(update: Update, svc: Services, caller: Caller, flow: dict[str, Any]) -> int:
    if flow["target"] is None and len(svc.config.accounts) > 1:
        buttons = [
            [svc.buttons.button(f"{a.name} ({a.provider})", caller.chat_id, f"flow:{a.name}")]
            for a in svc.config.accounts
        ]
        await reply(update, render.t(caller.lang, "flow.account"), InlineKeyboardMarkup(buttons))
        return ACCOUNT
    if not flow["recipients"]:
        await reply(update, render.t(caller.lang, "flow.recipients"))
        return RECIPIENTS
    saved = await svc.templates.listing()
    markup = InlineKeyboardMarkup(template_buttons(svc, caller.chat_id, saved, "flow:tpl"))
    key = "flow.text_or_template" if saved else "flow.text"
    await reply(update, render.t(caller.lang, key), markup if saved else None)
    return TEXT


async def flow_account(update: Update, context: Context) -> int:
    query = update.callback_query
    svc = services(context)
    caller = await guard(update, svc, "operator")
    flow = _user_data(context).get(FLOW)
    if query is None or caller is None or flow is None:
        return END
    await answer(query)
    flow["target"] = pressed(update, svc).split(":", 1)[1] + ":"
    svc.sends.resolve(flow["target"])
    return await _ask_next(update, svc, caller, flow)


async def flow_account_typed(update: Update, context: Context) -> int:
    """A name typed where account buttons were offered: taken when it names an account, else
    the question again."""
    svc = services(context)
    caller = await guard(update, svc, "operator")
    flow = _user_data(context).get(FLOW)
    if caller is None or caller.message is None or flow is None:
        return END
    typed = (caller.message.text or "").strip().lower().rstrip(":")
    if svc.config.account(typed) is not None:
        flow["target"] = typed + ":"
    return await _ask_next(update, svc, caller, flow)


async def flow_again(update: Update, context: Context) -> int:
    """Something that does not answer the current question (a sticker, a photo…): ask again."""
    svc = services(context)
    caller = await guard(update, svc, "operator")
    flow = _user_data(context).get(FLOW)
    if caller is None or flow is None:
        return END
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
        await preview(
            update,
            svc,
            caller,
            ParsedSend(flow["target"], parsed.recipients, parsed.text, _flow_time(flow)),
        )
        _user_data(context).pop(FLOW, None)
        return END
    return await _ask_next(update, svc, caller, flow)


def _flow_time(flow: dict[str, Any]) -> datetime | None:
    return datetime.fromisoformat(flow["send_at"]) if flow.get("send_at") else None


async def flow_text(update: Update, context: Context) -> int:
    """The text: the preview follows. A refusal of the preview (a text too long for the account)
    leaves the flow where it was, so the next message is taken as the text again."""
    svc = services(context)
    caller = await guard(update, svc, "operator")
    flow = _user_data(context).get(FLOW)
    if caller is None or caller.message is None or flow is None:
        return END
    parsed = ParsedSend(
        flow["target"], tuple(flow["recipients"]), caller.message.text or "", _flow_time(flow)
    )
    await preview(update, svc, caller, parsed)
    _user_data(context).pop(FLOW, None)
    return END


async def flow_template(update: Update, context: Context) -> int:
    """A saved text pressed where the text was asked for: the preview follows. A text with
    ``{placeholders}`` is for a list (each row fills them): refused here, by name."""
    svc = services(context)
    caller = await guard(update, svc, "operator")
    flow = _user_data(context).get(FLOW)
    if caller is None or flow is None or update.callback_query is None:
        return END
    await answer(update.callback_query)
    template = await svc.templates.get(int(pressed(update, svc).rsplit(":", 1)[1]))
    if template is None:
        raise UserError("templates.gone")
    fields = placeholders(template.text)
    if fields:
        raise UserError("templates.placeholders", name=template.name, fields=", ".join(fields))
    parsed = ParsedSend(flow["target"], tuple(flow["recipients"]), template.text, _flow_time(flow))
    await preview(update, svc, caller, parsed)
    _user_data(context).pop(FLOW, None)
    return END


def send_flow() -> ConversationHandler[Any]:
    text = filters.TEXT & ~filters.COMMAND
    other = ~filters.TEXT & ~filters.COMMAND & ~filters.StatusUpdate.ALL  # a sticker, a photo…
    with warnings.catch_warnings():  # the account buttons are tracked per chat and user, on purpose
        warnings.filterwarnings("ignore", message=".*per_message.*", category=PTBUserWarning)
        return ConversationHandler(
            entry_points=[CommandHandler("send", send)],
            states={
                ACCOUNT: [
                    CallbackQueryHandler(flow_account, pattern=signed(r"flow:[a-z0-9_-]+")),
                    MessageHandler(text, flow_account_typed),
                    MessageHandler(other, flow_again),
                ],
                RECIPIENTS: [
                    MessageHandler(text, flow_recipients),
                    MessageHandler(other, flow_again),
                ],
                TEXT: [
                    MessageHandler(text, flow_text),
                    CallbackQueryHandler(flow_template, pattern=signed(r"flow:tpl:\d+")),
                    MessageHandler(other, flow_again),
                ],
            },
            fallbacks=[CommandHandler("cancel", flow_cancel(FLOW))],
            name="send",
            persistent=True,
            allow_reentry=True,
        )


async def on_button(update: Update, context: Context) -> None:
    """Confirm, the bulk send's second Confirm, or Cancel under a send's preview. Once a send is
    claimed it is executed whatever Telegram answers: the chat message is edited when it can be,
    else through the outbox."""
    query = update.callback_query
    if query is None:
        return
    svc = services(context)
    caller = await guard(update, svc, "operator")
    if caller is None:
        return
    _prefix, action, raw_id = pressed(update, svc).split(":")
    send_id = int(raw_id)
    lang = caller.lang
    row = await svc.sends.get(send_id)
    if row is None or row.chat_id != caller.chat_id:
        await answer(query, render.t(lang, "confirm.gone"))
        return
    reply_to = await svc.sends.reply_to(row)
    names = await svc.phonebook.names(render.shown_numbers(row, reply_to))
    preview = render.preview_text(lang, row, reply_to, names)
    if action == "no":
        if await svc.sends.cancel(send_id, caller.user_id):
            await answer(query)
            await _edit(query, preview + "\n\n" + render.t(lang, "cancelled", id=send_id))
        else:
            await answer(query, render.t(lang, "confirm.gone"))
        return
    claim = await svc.sends.claim(
        send_id, caller.user_id, row.reach, second=action == "ok2", chat_id=caller.chat_id
    )
    if claim.status is ClaimStatus.ARMED:
        await answer(query)
        threshold = render.number(lang, svc.config.access.bulk_confirm_threshold)
        armed = render.t(
            lang, "confirm.armed", count=render.number(lang, row.reach), threshold=threshold
        )
        markup = keyboard(svc, caller.chat_id, lang, send_id, row.reach)
        await _edit(query, preview + "\n\n" + armed, markup)
        return
    if claim.status is not ClaimStatus.OK or claim.row is None:
        key = {
            ClaimStatus.QUOTA: "confirm.quota",
            ClaimStatus.NOT_OWNER: "confirm.not_owner",
            ClaimStatus.NEEDS_SECOND: "confirm.needs_second",
        }.get(claim.status, "confirm.gone")
        await answer(
            query, render.t(lang, key, quota=svc.config.access.daily_quota, used=claim.used_today)
        )
        return
    await answer(query, render.t(lang, "sending"), alert=False)
    await _edit(query, preview + "\n\n" + render.t(lang, "sending"))
    final, error = await svc.sends.execute(claim.row)
    if error is not None and final.state is SendState.FAILED:
        outcome = render.t(lang, "result.error", error=render.provider_error(lang, error))
    else:
        outcome = render.result_text(lang, final, names)
    if not await _edit(query, preview + "\n\n" + outcome):
        await show_later(svc, final)


async def _edit(
    query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None
) -> bool:
    """Edit the message under a pressed button; False when Telegram refused."""
    try:
        await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)
    except TelegramError as exc:
        log.warning("the message of a pressed button could not be edited: %s", exc)
        return False
    return True


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(send_flow())
    app.add_handler(CallbackQueryHandler(on_button, pattern=signed(r"snd:(ok|ok2|no):\d+")))
