"""What every handler shares: the services, the role guard, replies, and the central error handler."""

from __future__ import annotations

import functools
import logging
import time
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from providers.base import ProviderError, SmsProvider
from providers.numbers import to_ascii_digits
from storage.access import ROLES, AccessRepo
from storage.contacts import TemplatesRepo
from storage.export import ExportRepo
from storage.outbox import OutboxRepo
from storage.search import SearchRepo
from storage.stats import StatsRepo
from storage.uploads import UploadsRepo

from .. import render
from ..bridge import Bridge
from ..buttons import Buttons, signed
from ..config import Config
from ..contacts import Phonebook
from ..outbox import NO_PREVIEW
from ..replies import Replies
from ..sending import NothingSendable, SendService, UserError

log = logging.getLogger("smsbridge.bot")
Context = ContextTypes.DEFAULT_TYPE
REFUSAL_INTERVAL = 60.0


@dataclass
class Services:
    """What handlers call: they parse, call one of these, and render."""

    config: Config
    providers: Mapping[str, SmsProvider]
    access: AccessRepo
    sends: SendService
    bridge: Bridge
    replies: Replies
    outbox: OutboxRepo
    wake_outbox: Callable[[], None]
    buttons: Buttons
    uploads: UploadsRepo
    phonebook: Phonebook
    templates: TemplatesRepo
    search: SearchRepo
    exports: ExportRepo
    stats: StatsRepo
    _refused: dict[tuple[str, int], float] = field(default_factory=dict)

    def once_a_minute(self, what: str, user_id: int) -> bool:
        """True at most once a minute per user for ``what`` (a refusal, an audit row), so that
        repeated presses flood neither the chat nor the audit log."""
        now = time.monotonic()
        if now - self._refused.get((what, user_id), -REFUSAL_INTERVAL) < REFUSAL_INTERVAL:
            return False
        self._refused[(what, user_id)] = now
        return True

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
    """The caller when their role is at least ``need``; otherwise refuse and, for someone without
    a role, audit — each at most once a minute per person. A refused button press is answered
    on the button (or silently, past the first refusal of the minute)."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return None
    lang = await svc.language(chat.id)
    role = await svc.role(user.id)
    if role is not None and ROLES.index(role) >= ROLES.index(need):
        return Caller(user.id, chat.id, role, lang, update.effective_message)
    if role is None:
        text = render.t(lang, "unauthorized", user_id=render.ltr(str(user.id)))
        if svc.once_a_minute("audit", user.id):
            message = update.effective_message
            detail = (
                update.callback_query.data
                if update.callback_query
                else (message.text if message else "")
            )
            await svc.access.audit(
                "unauthorized", user_id=user.id, chat_id=chat.id, detail=(detail or "")[:200]
            )
    else:
        text = render.t(
            lang, "forbidden", role=render.role_name(lang, need), have=render.role_name(lang, role)
        )
    tell = not silent and svc.once_a_minute("refusal", user.id)
    if update.callback_query is not None:
        await answer(update.callback_query, text if tell else None)
    elif tell:
        await reply(update, text)
    return None


async def answer(query: CallbackQuery, text: str | None = None, *, alert: bool = True) -> None:
    """Answer a button press (with an alert when there is something to say); a press Telegram
    no longer knows (after a restart) needs no answer."""
    try:
        await query.answer(text, show_alert=alert and text is not None)
    except TelegramError as exc:
        log.info("a button press could not be answered: %s", exc)


def pressed(update: Update, svc: Services) -> str:
    """The payload of the button pressed (``check_button`` let only signed presses through)."""
    query = update.callback_query
    assert query is not None and query.data is not None and query.message is not None
    payload = svc.buttons.open(query.message.chat.id, query.data)
    assert payload is not None
    return payload


async def check_button(update: Update, context: Context) -> None:
    """Before any handler: a press whose data the bot did not sign for this chat is refused
    (answered, audited at most once a minute per presser) and goes no further."""
    query = update.callback_query
    if query is None:
        return
    svc = services(context)
    chat = query.message.chat.id if query.message is not None else None
    if chat is not None and query.data and svc.buttons.open(chat, query.data) is not None:
        return
    user_id = query.from_user.id
    lang = await svc.language(chat) if chat is not None else svc.config.telegram.language
    if svc.once_a_minute("forged", user_id):
        log.warning(
            "a button press with data the bot did not offer in chat %s, from %s", chat, user_id
        )
        await svc.access.audit(
            "button.refused", user_id=user_id, chat_id=chat, detail=(query.data or "")[:64]
        )
        await answer(query, render.t(lang, "button.invalid"))
    else:
        await answer(query)
    raise ApplicationHandlerStop


async def stale_button(update: Update, context: Context) -> None:
    """A press no handler took (a flow's button after the flow ended): say so, never spin."""
    if update.callback_query is not None:
        svc = services(context)
        chat = update.effective_chat
        lang = await svc.language(chat.id) if chat else svc.config.telegram.language
        await answer(update.callback_query, render.t(lang, "button.stale"))


LIST_DEFAULT, LIST_MAX = 10, 50


def count(args: list[str], default: int = LIST_DEFAULT) -> int:
    """``/inbox 20``, ``/audit ۵``: how many to list, within limits."""
    digits = to_ascii_digits(args[0]) if args else ""
    return max(1, min(LIST_MAX, int(digits))) if digits.isdecimal() else default


def when(lang: str, iso: str) -> str:
    """A stored moment as the chat reads it (Jalali in Persian)."""
    return render.when(lang, datetime.fromisoformat(iso))[0]


def fit(text: str, limit: int = 4000) -> str:
    """Telegram takes 4096 characters: keep whole lines that fit."""
    if len(text) <= limit:
        return text
    return text[: text.rfind("\n", 0, limit)] + "\n…"


Command = Callable[[Update, Context, Services, Caller], Awaitable[None]]
Press = Callable[[Update, Context, Services, Caller, str], Awaitable[None]]
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


def button_handler(role: str) -> Callable[[Press], Handler]:
    """A button's handler: as ``command``, with the payload of the signed button pressed."""

    def wrap(body: Press) -> Handler:
        async def with_payload(
            update: Update, context: Context, svc: Services, caller: Caller
        ) -> None:
            await body(update, context, svc, caller, pressed(update, svc))

        return functools.wraps(body)(command(role)(with_payload))

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
    if isinstance(error, UserError | ProviderError):
        text = error_text(lang, error)
    else:
        log.error("handler failed: %s", error, exc_info=error)
        text = render.t(lang, "error.generic")
    try:
        if update.callback_query is not None:
            await answer(update.callback_query)
        await reply(update, text)
    except Exception as exc:  # the chat may be gone; nothing more to tell anyone
        log.warning("could not report an error to chat %s: %s", update.effective_chat.id, exc)


def error_text(lang: str, error: UserError | ProviderError) -> str:
    """The sentence for bad input or a provider's refusal."""
    if isinstance(error, NothingSendable):
        return render.t(
            lang, error.key, refused=render.refusals(lang, error.account, error.refused)
        )
    if isinstance(error, UserError):
        return render.t(lang, error.key, **{k: render.esc(v) for k, v in error.values.items()})
    log.warning("provider error: %s", error)
    return render.provider_error(lang, error)


def page_row(
    svc: Services, chat_id: int, prefix: str, page: int, more: bool
) -> list[InlineKeyboardButton]:
    """◀ and ▶ under a paged list (``prefix:p:<page>``), each only where there is a page."""
    row = []
    if page > 0:
        row.append(svc.buttons.button("◀", chat_id, f"{prefix}:p:{page - 1}"))
    if more:
        row.append(svc.buttons.button("▶", chat_id, f"{prefix}:p:{page + 1}"))
    return row


def pager(key: str, show: Callable[..., Awaitable[None]]) -> Handler:
    """The ◀ ▶ buttons' handler: ``show(update, context, svc, caller, query, page)`` again with
    the query the list was made for (``user_data[key]``)."""

    async def on_page(
        update: Update, context: Context, svc: Services, caller: Caller, payload: str
    ) -> None:
        assert update.callback_query is not None
        await answer(update.callback_query)
        query = str((context.user_data or {}).get(key, ""))
        await show(update, context, svc, caller, query, int(payload.rsplit(":", 1)[1]))

    return button_handler("viewer")(on_page)


def manage_buttons(
    svc: Services, caller: Caller, prefix: str, key: str
) -> InlineKeyboardMarkup | None:
    """Edit and Delete under a phonebook entry or a saved text (``prefix:e:key``,
    ``prefix:d:key``), for an operator; nothing for a viewer."""
    if ROLES.index(caller.role) < ROLES.index("operator"):
        return None
    edit = render.t(caller.lang, "button.edit")
    delete = render.t(caller.lang, "button.delete")
    return InlineKeyboardMarkup(
        [
            [
                svc.buttons.button(edit, caller.chat_id, f"{prefix}:e:{key}"),
                svc.buttons.button(delete, caller.chat_id, f"{prefix}:d:{key}"),
            ]
        ]
    )


Ask = Callable[[Update, Services, Caller, str], Awaitable[object]]
Take = Callable[[Update, Services, Caller, Any, str], Awaitable[None]]


def answer_flow(name: str, pattern: str, ask: Ask, take: Take) -> ConversationHandler[Any]:
    """Edit by button: the button (``pattern``, an operator's) asks a question (``ask`` replies
    and returns what is being edited), and the person's next message answers it (``take``).
    What is being edited is kept in user_data, so a restart between the two loses nothing."""
    key = f"{name}_editing"

    async def on_press(update: Update, context: Context) -> int:
        svc = services(context)
        caller = await guard(update, svc, "operator")
        if caller is None or update.callback_query is None or context.user_data is None:
            return ConversationHandler.END
        await answer(update.callback_query)
        context.user_data[key] = await ask(update, svc, caller, pressed(update, svc))
        return 0

    async def on_answer(update: Update, context: Context) -> int:
        svc = services(context)
        caller = await guard(update, svc, "operator")
        data = context.user_data
        if caller is None or caller.message is None or data is None or key not in data:
            return ConversationHandler.END
        await take(update, svc, caller, data.pop(key), caller.message.text or "")
        return ConversationHandler.END

    with warnings.catch_warnings():  # the edit is tracked per chat and user, on purpose
        warnings.filterwarnings("ignore", message=".*per_message.*", category=PTBUserWarning)
        return ConversationHandler(
            entry_points=[CallbackQueryHandler(on_press, pattern=signed(pattern))],
            states={0: [MessageHandler(filters.TEXT & ~filters.COMMAND, on_answer)]},
            fallbacks=[CommandHandler("cancel", flow_cancel(key))],
            name=name,
            persistent=True,
            allow_reentry=True,
        )


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
