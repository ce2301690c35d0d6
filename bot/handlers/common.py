"""What every handler shares: the services, the role guard, replies, and the central error handler."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType, ParseMode
from telegram.ext import ContextTypes, ConversationHandler

from providers.base import ProviderError, SmsProvider
from storage.access import ROLES, AccessRepo
from storage.inbound import OutboxRepo

from .. import render
from ..alerts import CreditWatch
from ..bridge import Bridge
from ..config import Config
from ..delivery import DeliveryTracker
from ..outbox import NO_PREVIEW
from ..sending import NothingSendable, SendService, UserError
from ..unknowns import UnknownResolver

log = logging.getLogger("smsbridge.bot")
Context = ContextTypes.DEFAULT_TYPE
REFUSAL_INTERVAL = 60.0


@dataclass
class Services:
    config: Config
    providers: Mapping[str, SmsProvider]
    access: AccessRepo
    sends: SendService
    bridge: Bridge
    outbox: OutboxRepo
    delivery: DeliveryTracker
    credit: CreditWatch
    unknowns: UnknownResolver
    _refused: dict[int, float] = field(default_factory=dict)

    async def role(self, user_id: int) -> str | None:
        if user_id in self.config.access.admins:
            return "admin"
        return await self.access.role(user_id)

    async def language(self, chat_id: int) -> str:
        return await self.access.language(chat_id) or self.config.telegram.language


@dataclass(frozen=True, slots=True)
class Caller:
    user_id: int
    chat_id: int
    role: str
    lang: str
    message: Message | None


def is_group(update: Update) -> bool:
    chat = update.effective_chat
    return chat is not None and chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)


async def reply(
    update: Update, text: str, markup: InlineKeyboardMarkup | None = None
) -> Message | None:
    """Answer in the same chat; in a group, as a reply to the person's message."""
    message = update.effective_message
    if message is None:
        return None
    return await message.reply_text(
        text,
        parse_mode=ParseMode.HTML,
        reply_markup=markup,
        do_quote=is_group(update),
        link_preview_options=NO_PREVIEW,
    )


async def guard(update: Update, svc: Services, need: str, *, silent: bool = False) -> Caller | None:
    """The caller when their role is at least ``need``; otherwise refuse (once a minute) and audit."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return None
    lang = await svc.language(chat.id)
    role = await svc.role(user.id)
    if role is None:
        await svc.access.audit(
            "unauthorized", user_id=user.id, chat_id=chat.id,
            detail=(update.effective_message.text or "")[:200] if update.effective_message else "",
        )  # fmt: skip
        now = time.monotonic()
        if not silent and now - svc._refused.get(user.id, -REFUSAL_INTERVAL) >= REFUSAL_INTERVAL:
            svc._refused[user.id] = now
            await reply(update, render.t(lang, "unauthorized", user_id=render.ltr(str(user.id))))
        return None
    if ROLES.index(role) < ROLES.index(need):
        if not silent:
            await reply(
                update,
                render.t(lang, "forbidden", role=render.role_name(lang, need),
                         have=render.role_name(lang, role)),
            )  # fmt: skip
        return None
    return Caller(user.id, chat.id, role, lang, update.effective_message)


Command = Callable[[Update, Context, Services, Caller], Awaitable[None]]
Handler = Callable[[Update, Context], Coroutine[Any, Any, None]]


def command(role: str) -> Callable[[Command], Handler]:
    """A handler that runs only for callers with at least ``role`` (others hear why, once)."""

    def wrap(body: Command) -> Handler:
        @functools.wraps(body)
        async def handler(update: Update, context: Context) -> None:
            svc = services(context)
            caller = await guard(update, svc, role)
            if caller is not None:
                await body(update, context, svc, caller)

        return handler

    return wrap


def services(context: Context) -> Services:
    svc = context.application.bot_data["services"]
    assert isinstance(svc, Services)
    return svc


async def on_error(update: object, context: Context) -> None:
    """One sentence for the person, the details in the log; never a traceback in a chat."""
    error = context.error
    svc = services(context)
    if not isinstance(update, Update) or update.effective_chat is None:
        log.error("error outside an update: %s", error, exc_info=error)
        return
    lang = await svc.language(update.effective_chat.id)
    if isinstance(error, NothingSendable):
        text = render.t(
            lang, error.key, refused=render.refusals(lang, error.account, error.refused)
        )
    elif isinstance(error, UserError):
        text = render.t(lang, error.key, **{k: render.esc(v) for k, v in error.values.items()})
    elif isinstance(error, ProviderError):
        log.warning("provider error: %s", error)
        text = render.provider_error(lang, error)
    else:
        log.error("handler failed: %s", error, exc_info=error)
        text = render.t(lang, "error.generic")
    try:
        if update.callback_query is not None:
            await update.callback_query.answer()
        await reply(update, text)
    except Exception as exc:  # the chat may be gone; nothing more to tell anyone
        log.warning("could not report an error to chat %s: %s", update.effective_chat.id, exc)


def flow_cancel(key: str) -> Callable[[Update, Context], Coroutine[Any, Any, int]]:
    """A flow's /cancel: forget its answers (``user_data[key]``), say so, end the flow."""

    async def cancel(update: Update, context: Context) -> int:
        if context.user_data is not None:
            context.user_data.pop(key, None)
        svc = services(context)
        caller = await guard(update, svc, "viewer")
        if caller is not None:
            await reply(update, render.t(caller.lang, "cancel.done"))
        return ConversationHandler.END

    return cancel
