"""/contacts: the phonebook — list and search with paging buttons (viewer); add by command or by
replying to a forwarded SMS, edit and delete by button (operator), each change audited."""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
)

from providers import numbers
from storage.access import ROLES
from storage.contacts import Contact

from .. import render
from ..buttons import signed
from ..contacts import new_contact, parse_add
from ..replies import Answer
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
    page_row,
    pager,
    reply,
)

PAGE = 8
QUERY = "contacts_query"  # the search the paging buttons page through, in user_data


def _operator(caller: Caller) -> None:
    if ROLES.index(caller.role) < ROLES.index("operator"):
        raise UserError("forbidden", role="operator", have=caller.role)


@command("viewer")
async def contacts(update: Update, context: Context, svc: Services, caller: Caller) -> None:
    text = caller.message.text or "" if caller.message else ""
    args = text.split(maxsplit=2)[1:]
    action = args[0].lower() if args else ""
    if action == "add":
        _operator(caller)
        await _add(update, context, svc, caller, args[1] if len(args) > 1 else "")
    elif action == "del":
        _operator(caller)
        raw = args[1] if len(args) > 1 else ""
        if not numbers.is_valid(raw):
            raise UserError("contacts.usage")
        await _delete(update, svc, caller, numbers.normalize(raw))
    else:
        query = text.split(maxsplit=1)[1] if len(text.split(maxsplit=1)) > 1 else ""
        if context.user_data is not None:
            context.user_data[QUERY] = query
        await _page(update, context, svc, caller, query, 0)


async def _add(update: Update, context: Context, svc: Services, caller: Caller, args: str) -> None:
    """``add <number> <name> [#label…] [-- note]``; as a reply to a forwarded SMS the number may
    be left out: the SMS's sender is saved."""
    raw, name, labels, note = parse_add(args)
    if raw is None:
        sender = await _replied_sender(update, svc, caller)
        if sender is None:
            raise UserError("contacts.usage")
        raw = sender
    contact = new_contact(raw, name, labels, note)
    added, _updated = await svc.phonebook.save(
        [contact], user_id=caller.user_id, chat_id=caller.chat_id, action="contacts.add"
    )
    key = "contacts.added" if added else "contacts.updated"
    await reply(update, render.t(caller.lang, key, who=_who(caller, contact.number, contact.name)))


async def _replied_sender(update: Update, svc: Services, caller: Caller) -> str | None:
    """The sender of the forwarded SMS (or digest entry) the command replies to."""
    message = caller.message
    replied = message.reply_to_message if message else None
    if message is None or replied is None:
        return None
    found = await svc.replies.answers(
        caller.chat_id, "", replied=replied.message_id, ours=True, thread=None
    )
    return found.counterparty if isinstance(found, Answer) else None


def _who(caller: Caller, number: str, name: str) -> str:
    return render.who(caller.lang, number, {number: name})


async def _delete(update: Update, svc: Services, caller: Caller, number: str) -> None:
    contact = await svc.phonebook.repo.get(number)
    gone = await svc.phonebook.repo.delete(number, user_id=caller.user_id, chat_id=caller.chat_id)
    if not gone or contact is None:
        raise UserError("contacts.not_found", number=render.local_form(number))
    await reply(
        update, render.t(caller.lang, "contacts.deleted", who=_who(caller, number, contact.name))
    )


async def _page(
    update: Update, context: Context, svc: Services, caller: Caller, query: str, page: int
) -> None:
    found, total = await svc.phonebook.search(query, page, PAGE)
    lang = caller.lang
    if not total:
        key = "contacts.none_found" if query else "contacts.empty"
        await reply(update, render.t(lang, key, query=render.esc(query)))
        return
    pages = (total + PAGE - 1) // PAGE
    title = render.t(
        lang,
        "contacts.title",
        count=render.number(lang, total),
        page=render.number(lang, page + 1),
        pages=render.number(lang, pages),
    )
    rows = [[svc.buttons.button(_label(c), caller.chat_id, f"ct:o:{c.number}")] for c in found]
    paging = page_row(svc, caller.chat_id, "ct", page, page + 1 < pages)
    if paging:
        rows.append(paging)
    lines = [title] + [_line(lang, c) for c in found] + ["", render.t(lang, "contacts.usage")]
    await reply(update, "\n".join(lines), InlineKeyboardMarkup(rows))


def _label(contact: Contact) -> str:
    return f"{contact.name} · {render.local_form(contact.number)}"[:60]


def _line(lang: str, contact: Contact) -> str:
    labels = " ".join(f"#{render.esc(x)}" for x in contact.labels)
    return (
        "• "
        + render.who(lang, contact.number, {contact.number: contact.name})
        + (f" {labels}" if labels else "")
    )


@button_handler("viewer")
async def on_open(
    update: Update, context: Context, svc: Services, caller: Caller, payload: str
) -> None:
    """A contact's card: name, number, labels, note; Edit and Delete for an operator."""
    assert update.callback_query is not None
    await answer(update.callback_query)
    number = payload.rsplit(":", 1)[1]
    contact = await svc.phonebook.repo.get(number)
    if contact is None:
        raise UserError("contacts.not_found", number=render.local_form(number))
    lang = caller.lang
    card = render.t(
        lang,
        "contacts.card",
        who=_who(caller, contact.number, contact.name),
        labels=" ".join(f"#{render.esc(x)}" for x in contact.labels) or "—",
        note=render.esc(contact.note) or "—",
    )
    await reply(update, card, manage_buttons(svc, caller, "ct", number))


@button_handler("operator")
async def on_delete(
    update: Update, context: Context, svc: Services, caller: Caller, payload: str
) -> None:
    assert update.callback_query is not None
    await answer(update.callback_query)
    await _delete(update, svc, caller, payload.rsplit(":", 1)[1])


async def _ask_name(update: Update, svc: Services, caller: Caller, payload: str) -> str:
    """Edit by button: the next message is the contact's new name, labels and note."""
    number = payload.rsplit(":", 1)[1]
    contact = await svc.phonebook.repo.get(number)
    if contact is None:
        raise UserError("contacts.not_found", number=render.local_form(number))
    now = " ".join([contact.name, *(f"#{x}" for x in contact.labels)])
    if contact.note:
        now += f" -- {contact.note}"
    who = _who(caller, number, contact.name)
    await reply(update, render.t(caller.lang, "contacts.edit", who=who, now=render.esc(now)))
    return number


async def _take_name(update: Update, svc: Services, caller: Caller, number: Any, text: str) -> None:
    _raw, name, labels, note = parse_add(text)
    contact = new_contact(str(number), name, labels, note)
    await svc.phonebook.save(
        [contact], user_id=caller.user_id, chat_id=caller.chat_id, action="contacts.edit"
    )
    who = _who(caller, contact.number, contact.name)
    await reply(update, render.t(caller.lang, "contacts.updated", who=who))


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(answer_flow("contact_edit", r"ct:e:\d+", _ask_name, _take_name))
    app.add_handler(CommandHandler("contacts", contacts))
    app.add_handler(CallbackQueryHandler(pager(QUERY, _page), pattern=signed(r"ct:p:\d+")))
    app.add_handler(CallbackQueryHandler(on_open, pattern=signed(r"ct:o:\d+")))
    app.add_handler(CallbackQueryHandler(on_delete, pattern=signed(r"ct:d:\d+")))
