"""One-recipient sends and scheduled ones: /otp, /pattern, /schedule, and /cancel."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
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

from providers import numbers
from providers.base import Capability, SmsProvider

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


def _account(svc: Services, args: list[str]) -> tuple[str, list[str]]:
    """An optional leading ``account:`` (any line part is ignored) and the remaining arguments."""
    if args and ":" in args[0] and not numbers.is_valid(args[0]):
        name, _line = svc.sends.resolve(args[0].split(":")[0] + ":")
        return name, args[1:]
    return svc.config.accounts[0].name, args


NUMBER = 0
OTP_FLOW = "otp_flow"  # the chosen account while the flow waits for the number (persisted)


async def otp(update: Update, context: Context) -> int:
    """``/otp [account:] <number> [code]``; without a number, asks for it."""
    svc = services(context)
    caller = await guard(update, svc, "operator")
    if caller is None:
        return ConversationHandler.END
    account, args = _account(svc, list(context.args or []))
    if not args:
        assert context.user_data is not None
        context.user_data[OTP_FLOW] = account
        await reply(update, render.t(caller.lang, "otp.ask"))
        return NUMBER
    if len(args) > 2:
        raise UserError("otp.usage")
    await _otp(update, svc, caller, account, args[0], args[1] if len(args) == 2 else None)
    return ConversationHandler.END


async def otp_number(update: Update, context: Context) -> int:
    """The number (and an optional code); anything that is not a number is asked for again."""
    svc = services(context)
    caller = await guard(update, svc, "operator")
    account = context.user_data.get(OTP_FLOW) if context.user_data is not None else None
    if caller is None or caller.message is None or account is None:
        return ConversationHandler.END
    words = (caller.message.text or "").split()
    if not words or not numbers.is_valid(words[0]):
        await reply(update, render.t(caller.lang, "otp.ask_again"))
        return NUMBER
    await _otp(update, svc, caller, account, words[0], words[1] if len(words) > 1 else None)
    context.user_data.pop(OTP_FLOW, None)  # type: ignore[union-attr]
    return ConversationHandler.END


async def _otp(
    update: Update, svc: Services, caller: Caller, account: str, target: str, code: str | None
) -> None:
    if code is not None:
        code = numbers.to_ascii_digits(code)
        if not (code.isdecimal() and 4 <= len(code) <= 8):
            raise UserError("otp.usage")
    number = numbers.try_normalize(target) or target
    sent: dict[str, str | None] = {}

    async def call(provider: SmsProvider, reference: str) -> str | None:
        result = await provider.send_otp(number, code, len(code) if code else 5, reference)
        sent["code"] = result.code
        return result.message_id

    message_id = await svc.sends.direct(
        user_id=caller.user_id,
        chat_id=caller.chat_id,
        account=account,
        number=target,
        label="OTP",
        capability=Capability.OTP,
        call=call,
        override_optout=caller.role == "admin",
    )
    await reply(
        update,
        render.t(
            caller.lang,
            "otp.sent",
            code=render.ltr(render.esc(sent.get("code") or "—")),
            number=render.phone(caller.lang, number),
            account=render.esc(account),
            message_id=render.ltr(render.esc(message_id or "—")),
        ),
    )


def otp_flow() -> ConversationHandler[Any]:
    return ConversationHandler(
        entry_points=[CommandHandler("otp", otp)],
        states={NUMBER: [MessageHandler(~filters.COMMAND & ~filters.StatusUpdate.ALL, otp_number)]},
        fallbacks=[CommandHandler("cancel", flow_cancel(OTP_FLOW))],
        name="otp",
        persistent=True,
        allow_reentry=True,
    )


CHOOSE, VALUES = 1, 2
PATTERN_FLOW = "pattern_flow"  # the chosen account and pattern while the flow waits (persisted)


async def pattern(update: Update, context: Context) -> int:
    """``/pattern [account:] <id> <number> <values…>``; without arguments, the patterns as
    buttons, then a question for the number and values."""
    svc = services(context)
    caller = await guard(update, svc, "operator")
    if caller is None:
        return ConversationHandler.END
    account, args = _account(svc, list(context.args or []))
    provider = svc.providers[account]
    if not args:
        text, buttons = await _templates(svc, caller, account, provider)
        await reply(update, text, InlineKeyboardMarkup(buttons) if buttons else None)
        return CHOOSE if buttons else ConversationHandler.END
    if len(args) < 2:
        raise UserError("pattern.usage")
    await _pattern(update, svc, caller, account, args[0], args[1], args[2:])
    return ConversationHandler.END


async def pattern_chosen(update: Update, context: Context) -> int:
    query = update.callback_query
    svc = services(context)
    caller = await guard(update, svc, "operator")
    if query is None or caller is None or context.user_data is None:
        return ConversationHandler.END
    _prefix, account, pattern_id = pressed(update, svc).split(":", 2)
    await answer(query)
    context.user_data[PATTERN_FLOW] = [account, pattern_id]
    await reply(update, render.t(caller.lang, "pattern.ask", id=render.ltr(render.esc(pattern_id))))
    return VALUES


async def pattern_values(update: Update, context: Context) -> int:
    """The number and the values; a message that does not start with a number is asked again."""
    svc = services(context)
    caller = await guard(update, svc, "operator")
    chosen = context.user_data.get(PATTERN_FLOW) if context.user_data is not None else None
    if caller is None or caller.message is None or chosen is None:
        return ConversationHandler.END
    words = (caller.message.text or "").split()
    if not words or not numbers.is_valid(words[0]):
        await reply(
            update, render.t(caller.lang, "pattern.ask", id=render.ltr(render.esc(chosen[1])))
        )
        return VALUES
    await _pattern(update, svc, caller, chosen[0], chosen[1], words[0], words[1:])
    context.user_data.pop(PATTERN_FLOW, None)  # type: ignore[union-attr]
    return ConversationHandler.END


async def pattern_again(update: Update, context: Context) -> int:
    """Typed text (or a sticker) where pattern buttons were offered: point at the buttons."""
    svc = services(context)
    caller = await guard(update, svc, "operator")
    if caller is None:
        return ConversationHandler.END
    await reply(update, render.t(caller.lang, "pattern.tap"))
    return CHOOSE


async def _pattern(
    update: Update,
    svc: Services,
    caller: Caller,
    account: str,
    pattern_id: str,
    target: str,
    values: list[str],
) -> None:
    number = numbers.try_normalize(target) or target

    async def call(provider: SmsProvider, _reference: str) -> str | None:
        result = await provider.send_pattern(pattern_id, number, values)
        return result.items[0].message_id if result.items else None

    message_id = await svc.sends.direct(
        user_id=caller.user_id,
        chat_id=caller.chat_id,
        account=account,
        number=target,
        label=f"pattern {pattern_id}: {', '.join(values)}",
        capability=Capability.PATTERN,
        call=call,
        override_optout=caller.role == "admin",
    )
    await reply(
        update,
        render.t(
            caller.lang,
            "pattern.sent",
            id=render.esc(pattern_id),
            number=render.phone(caller.lang, number),
            message_id=render.ltr(render.esc(message_id or "—")),
        ),
    )


def pattern_flow() -> ConversationHandler[Any]:
    with warnings.catch_warnings():  # the pattern buttons are tracked per chat and user
        warnings.filterwarnings("ignore", message=".*per_message.*", category=PTBUserWarning)
        return ConversationHandler(
            entry_points=[CommandHandler("pattern", pattern)],
            states={
                CHOOSE: [
                    CallbackQueryHandler(pattern_chosen, pattern=signed(r"pat:[a-z0-9_-]+:.+")),
                    MessageHandler(~filters.COMMAND & ~filters.StatusUpdate.ALL, pattern_again),
                ],
                VALUES: [
                    MessageHandler(~filters.COMMAND & ~filters.StatusUpdate.ALL, pattern_values),
                ],
            },
            fallbacks=[CommandHandler("cancel", flow_cancel(PATTERN_FLOW))],
            name="pattern",
            persistent=True,
            allow_reentry=True,
        )


async def _templates(
    svc: Services, caller: Caller, account: str, provider: SmsProvider
) -> tuple[str, list[list[InlineKeyboardButton]]]:
    """The account's patterns with a button each, or for sms.ir its stored texts."""
    lang = caller.lang
    if (
        Capability.DRAFTS in provider.capabilities
        and Capability.PATTERN not in provider.capabilities
    ):
        texts = await provider.drafts()
        lines = [render.t(lang, "pattern.drafts", account=render.esc(account))]
        lines += [f"{n}. {render.esc(t)}" for n, t in enumerate(texts, 1)]
        return "\n".join(lines), []
    found = await provider.patterns()  # NotSupported reads as a sentence
    lines = [render.t(lang, "pattern.list", account=render.esc(account))]
    lines += [
        render.t(lang, "pattern.item", id=render.ltr(render.esc(p.id)), text=render.esc(p.text))
        for p in found
    ]
    buttons = [
        [svc.buttons.button(f"{p.id} — {p.text[:40]}", caller.chat_id, f"pat:{account}:{p.id}")]
        for p in found
        if svc.buttons.fits(f"pat:{account}:{p.id}")
    ]
    return "\n".join(lines), buttons


@command("operator")
async def schedule(update: Update, context: Context, svc: Services, caller: Caller) -> None:
    """Scheduled sends: the provider's own list with a Cancel button where it can cancel
    (PayamSMS), the bridge's records with a plain sentence where it cannot (AmootSMS)."""
    lang = caller.lang
    now = datetime.now(UTC)
    lines = [render.t(lang, "schedule.title")]
    buttons: list[list[InlineKeyboardButton]] = []
    for account in svc.config.accounts:
        provider = svc.providers[account.name]
        if Capability.CANCEL_SCHEDULED in provider.capabilities:
            for item in await provider.scheduled(now, now + timedelta(days=365)):
                n = len(buttons) + 1
                when = render.when(lang, item.send_at)[0] if item.send_at else "—"
                lines.append(
                    f"{n}. "
                    + render.t(
                        lang,
                        "schedule.provider_item",
                        when=when,
                        account=render.esc(account.name),
                        number=render.phone(lang, item.number),
                        text=render.esc(item.text[:60]),
                    )
                )
                payload = f"sch:{account.name}:{item.message_id}"
                if svc.buttons.fits(payload):
                    buttons.append(
                        [
                            svc.buttons.button(
                                render.t(lang, "button.cancel_scheduled", n=n),
                                caller.chat_id,
                                payload,
                            )
                        ]
                    )
        elif Capability.SCHEDULE in provider.capabilities:
            rows = await svc.sends.scheduled(account.name)
            for row in rows:
                when = render.when(lang, datetime.fromisoformat(row.send_at or ""))[0]
                lines.append(
                    "• "
                    + render.t(
                        lang,
                        "schedule.item",
                        when=when,
                        account=render.esc(account.name),
                        count=render.number(lang, row.reach),
                        text=render.esc(row.text[:60]),
                    )
                )
            if rows:
                lines.append(render.t(lang, "schedule.no_cancel", account=render.esc(account.name)))
    if len(lines) == 1:
        lines.append(render.t(lang, "schedule.empty"))
    await reply(update, "\n".join(lines), InlineKeyboardMarkup(buttons) if buttons else None)


@button_handler("operator")
async def cancel_scheduled(
    update: Update, context: Context, svc: Services, caller: Caller, payload: str
) -> None:
    """Cancel one of the provider's scheduled messages listed by /schedule. A message the bridge
    scheduled may be cancelled from its chat or by whoever sent it; one scheduled elsewhere (the
    panel, another tool) only by an admin."""
    query = update.callback_query
    assert query is not None
    _prefix, account, message_id = payload.split(":", 2)
    provider = svc.providers.get(account)
    if provider is None:
        await answer(query)
        return
    owner = await svc.sends.owner_of(account, message_id)
    mine = owner is not None and (owner[0] == caller.user_id or owner[1] == caller.chat_id)
    if caller.role != "admin" and not mine:
        await answer(query, render.t(caller.lang, "schedule.not_yours"))
        return
    done = await provider.cancel_scheduled(message_id)
    await svc.access.audit(
        "schedule.cancel",
        user_id=caller.user_id,
        chat_id=caller.chat_id,
        account=account,
        detail=f"{message_id}: {done}",
    )
    await answer(
        query, render.t(caller.lang, "schedule.cancelled" if done else "schedule.not_cancelled")
    )


async def cancel(update: Update, context: Context) -> None:
    """/cancel outside any flow (a flow's own /cancel ends it first)."""
    svc = services(context)
    caller = await guard(update, svc, "viewer")
    if caller is not None:
        await reply(update, render.t(caller.lang, "cancel.nothing"))


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(otp_flow())
    app.add_handler(pattern_flow())
    app.add_handler(CommandHandler("schedule", schedule))
    app.add_handler(CallbackQueryHandler(cancel_scheduled, pattern=signed(r"sch:[a-z0-9_-]+:.+")))
    app.add_handler(CommandHandler("cancel", cancel))
