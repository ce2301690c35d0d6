"""/search <words or number>: inbound and sent SMS, newest first, ten a page with paging buttons;
a hit's button shows it again — an inbound SMS with an Answer button (a reply to it answers too),
a send as its report. Asked for when the command comes alone."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from telegram import ForceReply, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from providers import numbers
from storage.search import Hit

from .. import render
from ..buttons import signed
from ..sending import UserError
from .common import (
    Caller,
    Context,
    Services,
    answer,
    button_handler,
    flow_cancel,
    guard,
    page_row,
    pager,
    reply,
    services,
)
from .report import detail

PAGE = 10
QUERY = "search_query"  # what the paging buttons page through, in user_data
WORDS = 0


async def search(update: Update, context: Context) -> int:
    svc = services(context)
    caller = await guard(update, svc, "viewer")
    if caller is None or caller.message is None:
        return ConversationHandler.END
    text = caller.message.text or ""
    words = text.split(maxsplit=1)[1].strip() if len(text.split(maxsplit=1)) > 1 else ""
    if not words:
        await reply(update, render.t(caller.lang, "search.ask"))
        return WORDS
    await _results(update, context, svc, caller, words, 0)
    return ConversationHandler.END


async def on_words(update: Update, context: Context) -> int:
    svc = services(context)
    caller = await guard(update, svc, "viewer")
    if caller is None or caller.message is None:
        return ConversationHandler.END
    await _results(update, context, svc, caller, (caller.message.text or "").strip(), 0)
    return ConversationHandler.END


async def _results(
    update: Update, context: Context, svc: Services, caller: Caller, words: str, page: int
) -> None:
    if context.user_data is not None:
        context.user_data[QUERY] = words
    number = numbers.normalize(words) if numbers.is_valid(words) else None
    # An admin searches everything; anyone else what this chat was shown and sent.
    within = None if caller.role == "admin" else caller.chat_id
    hits = await svc.search.search(words, number, (page + 1) * PAGE + 1, within)
    lang = caller.lang
    shown = hits[page * PAGE : (page + 1) * PAGE]
    if not shown:
        await reply(update, render.t(lang, "search.none", words=render.esc(words)))
        return
    names = await svc.phonebook.names(h.number for h in shown)
    lines = [
        render.t(
            lang,
            "search.title",
            words=render.esc(words),
            page=render.number(lang, page + 1),
        )
    ]
    for position, hit in enumerate(shown, page * PAGE + 1):
        lines.append(_line(lang, position, hit, names))
    buttons = [
        svc.buttons.button(
            render.digits(lang, str(position)),
            caller.chat_id,
            f"sr:{'i' if hit.kind == 'inbound' else 's'}:{hit.id}",
        )
        for position, hit in enumerate(shown, page * PAGE + 1)
    ]
    rows = [buttons[i : i + 5] for i in range(0, len(buttons), 5)]
    paging = page_row(svc, caller.chat_id, "sr", page, len(hits) > (page + 1) * PAGE)
    if paging:
        rows.append(paging)
    await reply(update, "\n".join(lines), InlineKeyboardMarkup(rows))


def _line(lang: str, position: int, hit: Hit, names: render.Names) -> str:
    when = render.when(lang, datetime.fromisoformat(hit.at))[0]
    text = render.esc(hit.text[:120] + ("…" if len(hit.text) > 120 else ""))
    who = render.who(lang, hit.number, names) if hit.number else "—"
    key = "search.inbound" if hit.kind == "inbound" else "search.send"
    return render.t(
        lang,
        key,
        n=render.digits(lang, str(position)),
        when=when,
        who=who,
        more=f" (+{render.number(lang, hit.count - 1)})" if hit.count > 1 else "",
        account=render.esc(hit.account),
        id=render.digits(lang, str(hit.id)),
        text=text,
    )


@button_handler("viewer")
async def on_hit(
    update: Update, context: Context, svc: Services, caller: Caller, payload: str
) -> None:
    """A send: its report. An inbound SMS: shown again with an Answer button (a reply to the
    message answers its sender too)."""
    assert update.callback_query is not None
    await answer(update.callback_query)
    _prefix, kind, raw_id = payload.split(":")
    if kind == "s":
        await reply(update, await detail(svc, caller, raw_id))
        return
    sms = await svc.replies.sms(int(raw_id))
    if sms is None:
        raise UserError(
            "reply.too_old", days=render.number(caller.lang, svc.config.storage.keep_days)
        )
    button = svc.buttons.button(
        render.t(caller.lang, "button.answer"), caller.chat_id, f"sr:a:{sms.id}"
    )
    shown = await reply(
        update, render.inbound_sms(caller.lang, sms), InlineKeyboardMarkup([[button]])
    )
    if shown is not None:
        await svc.replies.answerable(caller.chat_id, shown.message_id, sms)


@button_handler("operator")
async def on_answer(
    update: Update, context: Context, svc: Services, caller: Caller, payload: str
) -> None:
    """Answer: a prompt the person replies to (Telegram opens the reply for them)."""
    assert update.callback_query is not None
    await answer(update.callback_query)
    sms = await svc.replies.sms(int(payload.rsplit(":", 1)[1]))
    if sms is None:
        raise UserError(
            "reply.too_old", days=render.number(caller.lang, svc.config.storage.keep_days)
        )
    message = update.effective_message
    if message is None:
        return
    prompt = await message.reply_text(
        render.t(caller.lang, "search.answer", who=render.sender(caller.lang, sms)),
        parse_mode=ParseMode.HTML,
        reply_markup=ForceReply(selective=True),
    )
    await svc.replies.answerable(caller.chat_id, prompt.message_id, sms)


def search_flow() -> ConversationHandler[Any]:
    return ConversationHandler(
        entry_points=[CommandHandler("search", search)],
        states={WORDS: [MessageHandler(filters.TEXT & ~filters.COMMAND, on_words)]},
        fallbacks=[CommandHandler("cancel", flow_cancel(QUERY))],
        name="search",
        persistent=True,
        allow_reentry=True,
    )


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(search_flow())
    app.add_handler(CallbackQueryHandler(pager(QUERY, _results), pattern=signed(r"sr:p:\d+")))
    app.add_handler(CallbackQueryHandler(on_hit, pattern=signed(r"sr:[is]:\d+")))
    app.add_handler(CallbackQueryHandler(on_answer, pattern=signed(r"sr:a:\d+")))
