"""A list sent as a file (CSV, XLSX, or a phone's vCard): to send SMS to, or to save as contacts
(asked by buttons when the caption does not say). Which column holds the numbers (asked when it is
not clear); to send: the text with ``{column}`` placeholders (the caption, or asked for), the
account (asked when there are several), then the usual preview → Confirm (twice for a bulk send);
to save: what the phonebook would gain, then Import."""

from __future__ import annotations

import asyncio
import functools
import logging
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram import InlineKeyboardMarkup, Update
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

from providers.base import Capability, ProviderError
from storage.uploads import Upload

from .. import contacts, render, sheets
from ..buttons import signed
from ..sending import UserError, split_target
from .common import (
    Caller,
    Context,
    Services,
    answer,
    error_text,
    flow_cancel,
    guard,
    pressed,
    reply,
    services,
)
from .send import show_preview
from .templates import template_buttons

log = logging.getLogger("smsbridge.bot")

PURPOSE, COLUMN, TEXT, ACCOUNT, IMPORT = range(5)
END = ConversationHandler.END
FLOW = "file_flow"  # the flow's answers so far, in the person's user_data (persisted)
KINDS = ("csv", "txt", "tsv", "xlsx", "xls", "vcf")
SHOWN_COLUMNS = 12  # column buttons offered at most
SAVE_WORDS = ("contacts", "مخاطبان", "مخاطبین")  # a caption that says: save this list


async def on_file(update: Update, context: Context) -> int:
    """A CSV or XLSX file: read it, keep its table for the flow, and ask what is missing. Its
    caption, when there is one, is the text (``account:line`` first to choose the account)."""
    svc = services(context)
    caller = await guard(update, svc, "operator")
    message = caller.message if caller is not None else None
    if caller is None or message is None or message.document is None:
        return END
    document = message.document
    name = document.file_name or "file"
    if name.lower().endswith(".xls"):
        raise UserError("file.old_excel", name=name)
    if document.file_size and document.file_size > sheets.MAX_BYTES:
        raise UserError("file.too_big", most=sheets.MAX_BYTES // (1024 * 1024))
    try:
        file = await document.get_file()
        data = bytes(await file.download_as_bytearray())
    except TelegramError as exc:  # "file is too big" past Telegram's 20 MB, or a lost download
        log.info("a file could not be downloaded: %s", exc)
        raise UserError("file.download_failed", why=exc.message) from exc
    vcard = name.lower().endswith(".vcf")
    # Reading a large XLSX takes a second or two: off the event loop, so relays never wait.
    read = contacts.vcard_table if vcard else functools.partial(sheets.read_table, name)
    table = await asyncio.to_thread(read, data)
    upload_id = await svc.uploads.create(
        user_id=caller.user_id,
        chat_id=caller.chat_id,
        file_name=name,
        header=table.header,
        rows=table.rows,
        first_row=table.first_row,
    )
    caption = message.caption or ""
    save = vcard or caption.strip().lstrip("/").lower() in SAVE_WORDS
    target, text = split_target("" if save else caption, (a.name for a in svc.config.accounts))
    if target:
        svc.sends.resolve(target)  # an unknown line is refused now, not after the questions
    columns = await asyncio.to_thread(sheets.number_columns, table)
    if not columns:
        await svc.uploads.delete(upload_id)
        raise UserError("file.no_number_column", columns=", ".join(table.header))
    flow = {
        "upload": upload_id,
        "purpose": "save" if save else "send" if text or target else None,
        "column": columns[0] if len(columns) == 1 else None,
        "candidates": columns,
        "text": text or None,
        "target": target,
    }
    _user_data(context)[FLOW] = flow
    return await _next_or_stay(update, context, caller, flow)


def _user_data(context: Context) -> dict[str, Any]:
    data = context.user_data
    assert data is not None
    return data


async def _upload(svc: Services, flow: dict[str, Any]) -> Upload:
    upload = await svc.uploads.get(int(flow["upload"]))
    if upload is None:
        raise UserError("file.gone")
    return upload


async def _ask_next(update: Update, svc: Services, caller: Caller, flow: dict[str, Any]) -> int:
    upload = await _upload(svc, flow)
    lang = caller.lang
    rows = render.number(lang, len(upload.rows))
    name = render.esc(upload.file_name)
    if flow["purpose"] is None:
        buttons = [
            [svc.buttons.button(render.t(lang, f"file.do_{do}"), caller.chat_id, f"file:do:{do}")]
            for do in ("send", "save")
        ]
        text = render.t(lang, "file.purpose", name=name, rows=rows)
        await reply(update, text, InlineKeyboardMarkup(buttons))
        return PURPOSE
    if flow["column"] is None:
        buttons = [
            [svc.buttons.button(_column_label(upload, index), caller.chat_id, f"file:col:{index}")]
            for index in flow["candidates"][:SHOWN_COLUMNS]
        ]
        text = render.t(lang, "file.column", name=name, rows=rows)
        await reply(update, text, InlineKeyboardMarkup(buttons))
        return COLUMN
    if flow["purpose"] == "save":
        return await _import_preview(update, svc, caller, upload, int(flow["column"]))
    if flow["text"] is None:
        others = [h for i, h in enumerate(upload.header) if i != flow["column"]]
        text = render.t(
            lang,
            "file.text",
            name=name,
            rows=rows,
            column=render.esc(upload.header[flow["column"]]),
            example=render.esc("{" + (others[0] if others else upload.header[0]) + "}"),
            columns=render.esc(", ".join(upload.header)),
        )
        saved = await svc.templates.listing()
        markup = InlineKeyboardMarkup(template_buttons(svc, caller.chat_id, saved, "file:tpl"))
        await reply(update, text, markup if saved else None)
        return TEXT
    table = _table(upload)
    sheets.fields_of(table, flow["text"])  # a placeholder that names no column: refused now
    if flow["target"] is None and len(svc.config.accounts) > 1:
        return await _ask_account(update, svc, caller, bool(sheets.placeholders(flow["text"])))
    plan = await asyncio.to_thread(sheets.plan, table, int(flow["column"]), flow["text"])
    row = await svc.sends.prepare_file(
        user_id=caller.user_id,
        chat_id=caller.chat_id,
        target=flow["target"],
        plan=plan,
        text=flow["text"],
        file_name=upload.file_name,
    )
    await show_preview(update, svc, caller, row)
    await svc.uploads.delete(upload.id)
    return END


async def _ask_account(update: Update, svc: Services, caller: Caller, personal: bool) -> int:
    """The accounts that can send this list; those that cannot are named under the question."""
    need = Capability.SEND_P2P if personal else Capability.SEND
    can = [a for a in svc.config.accounts if need in svc.providers[a.name].capabilities]
    cannot = [a.name for a in svc.config.accounts if a not in can]
    if not can:  # nothing to choose from: the flow ends here, saying why
        raise UserError("file.no_account", capability=render.capability(caller.lang, need))
    buttons = [
        [svc.buttons.button(f"{a.name} ({a.provider})", caller.chat_id, f"file:acc:{a.name}")]
        for a in can
    ]
    text = render.t(caller.lang, "flow.account")
    if cannot:
        capability = render.capability(caller.lang, need)
        names = render.esc(", ".join(cannot))
        text += "\n" + render.t(caller.lang, "file.cannot", accounts=names, capability=capability)
    await reply(update, text, InlineKeyboardMarkup(buttons))
    return ACCOUNT


async def _import_preview(
    update: Update, svc: Services, caller: Caller, upload: Upload, column: int
) -> int:
    """What the phonebook would gain from the list: new contacts, contacts it would update,
    invalid rows by row number, repeats; and Import / Cancel."""
    found = await asyncio.to_thread(contacts.from_table, _table(upload), column)
    if not found.contacts:
        raise UserError("file.nobody", rows=found.rows, invalid=len(found.invalid))
    known = await svc.phonebook.names(c.number for c in found.contacts)
    lang = caller.lang
    lines = [
        render.t(lang, "file.name", name=render.esc(upload.file_name)),
        render.t(
            lang,
            "contacts.import",
            rows=render.number(lang, found.rows),
            new=render.number(lang, len(found.contacts) - len(known)),
            known=render.number(lang, len(known)),
        ),
        *render.invalid_rows(lang, found.invalid, len(found.invalid)),
    ]
    if found.duplicates:
        lines.append(render.t(lang, "file.duplicates", count=render.number(lang, found.duplicates)))
    for c in found.contacts[:3]:
        lines.append("• " + render.who(lang, c.number, {c.number: c.name}))
    buttons = [
        svc.buttons.button(render.t(lang, "button.import"), caller.chat_id, "file:imp"),
        svc.buttons.button(render.t(lang, "button.cancel"), caller.chat_id, "file:no"),
    ]
    await reply(update, "\n".join(lines), InlineKeyboardMarkup([buttons]))
    return IMPORT


def _table(upload: Upload) -> sheets.Table:
    return sheets.Table(upload.header, upload.rows, upload.first_row)


def _column_label(upload: Upload, index: int) -> str:
    """A column button: its name and its first value, so that the right one is easy to see."""
    first = next((r[index] for r in upload.rows if r[index]), "")
    label = upload.header[index] + (f" — {first}" if first else "")
    return label[:60]


async def _step(
    update: Update, context: Context, press: bool
) -> tuple[Caller, dict[str, Any]] | None:
    """The caller and the flow, for a step of it (a press is answered first)."""
    svc = services(context)
    caller = await guard(update, svc, "operator")
    flow = _user_data(context).get(FLOW)
    if caller is None or flow is None:
        return None
    if press and update.callback_query is not None:
        await answer(update.callback_query)
    return caller, flow


def _on_press(
    field: str, read: Callable[[Services, str], Awaitable[object]]
) -> Callable[[Update, Context], Coroutine[Any, Any, int]]:
    """A button that answers one of the flow's questions: ``read`` makes the answer of its
    payload, then the next question (or the preview) follows."""

    async def on_press(update: Update, context: Context) -> int:
        step = await _step(update, context, press=True)
        if step is None:
            return END
        caller, flow = step
        svc = services(context)
        flow[field] = await read(svc, pressed(update, svc).rsplit(":", 1)[1])
        return await _next_or_stay(update, context, caller, flow)

    return on_press


async def _word(_svc: Services, value: str) -> str:
    return value


async def _index(_svc: Services, value: str) -> int:
    return int(value)


async def _account(_svc: Services, value: str) -> str:
    return value + ":"


async def _template_text(svc: Services, value: str) -> str:
    template = await svc.templates.get(int(value))
    if template is None:
        raise UserError("templates.gone")
    return template.text


async def on_import(update: Update, context: Context) -> int:
    """Import or Cancel under an import's preview (the list is read again: what was shown)."""
    step = await _step(update, context, press=True)
    if step is None:
        return END
    caller, flow = step
    svc = services(context)
    _user_data(context).pop(FLOW, None)
    upload = await _upload(svc, flow)
    await svc.uploads.delete(upload.id)
    if pressed(update, svc) == "file:no":
        await reply(update, render.t(caller.lang, "cancel.done"))
        return END
    found = await asyncio.to_thread(contacts.from_table, _table(upload), int(flow["column"]))
    added, updated = await svc.phonebook.save(
        found.contacts, user_id=caller.user_id, chat_id=caller.chat_id, action="contacts.import"
    )
    lang = caller.lang
    done = render.t(
        lang,
        "contacts.imported",
        new=render.number(lang, added),
        known=render.number(lang, updated),
    )
    await reply(update, done)
    return END


async def on_text(update: Update, context: Context) -> int:
    step = await _step(update, context, press=False)
    if step is None or step[0].message is None:
        return END
    caller, flow = step
    text = (caller.message.text or "").strip() if caller.message else ""
    if not text:
        return await _ask_next(update, services(context), caller, flow)
    target, rest = split_target(text, (a.name for a in services(context).config.accounts))
    flow["text"] = rest or None
    if target:
        flow["target"] = target
    return await _next_or_stay(update, context, caller, flow)


async def _next_or_stay(
    update: Update, context: Context, caller: Caller, flow: dict[str, Any]
) -> int:
    """The next question, or the preview that ends the flow. A refusal says why and asks again
    for the answer it refused (a placeholder that names no column → the text; an account that
    cannot send a text per number → the account; a column without a valid number → the
    column); any other ends the flow."""
    svc = services(context)
    try:
        state = await _ask_next(update, svc, caller, flow)
    except (UserError, ProviderError) as exc:
        culprit = _culprit(exc, flow, len(svc.config.accounts))
        if culprit is None:
            _user_data(context).pop(FLOW, None)
            raise
        flow[culprit] = None
        await reply(update, error_text(caller.lang, exc))
        state = await _ask_next(update, svc, caller, flow)
    if state == END:
        _user_data(context).pop(FLOW, None)
    return state


_TEXT_PROBLEMS = ("file.unknown_column", "send.too_long")
_ACCOUNT_PROBLEMS = ("send.unknown_account", "send.unknown_line", "send.no_line", "send.opted_out")


def _culprit(exc: UserError | ProviderError, flow: dict[str, Any], accounts: int) -> str | None:
    """Which answer of the flow a refusal is about, when it can be asked again."""
    if isinstance(exc, ProviderError) or exc.key in _ACCOUNT_PROBLEMS:
        return "target" if accounts > 1 else None
    if exc.key in _TEXT_PROBLEMS:
        return "text"
    if exc.key == "file.nobody" and len(flow["candidates"]) > 1:
        return "column"
    return None


def file_flow() -> ConversationHandler[Any]:
    kinds: filters.BaseFilter = filters.Document.FileExtension(KINDS[0])
    for kind in KINDS[1:]:
        kinds = kinds | filters.Document.FileExtension(kind)
    text = filters.TEXT & ~filters.COMMAND
    with warnings.catch_warnings():  # the buttons are tracked per chat and user, on purpose
        warnings.filterwarnings("ignore", message=".*per_message.*", category=PTBUserWarning)
        return ConversationHandler(
            entry_points=[MessageHandler(kinds, on_file)],
            states={
                PURPOSE: [
                    CallbackQueryHandler(
                        _on_press("purpose", _word), pattern=signed(r"file:do:(send|save)")
                    )
                ],
                IMPORT: [CallbackQueryHandler(on_import, pattern=signed(r"file:(imp|no)"))],
                COLUMN: [
                    CallbackQueryHandler(
                        _on_press("column", _index), pattern=signed(r"file:col:\d+")
                    )
                ],
                TEXT: [
                    MessageHandler(text, on_text),
                    CallbackQueryHandler(
                        _on_press("text", _template_text), pattern=signed(r"file:tpl:\d+")
                    ),
                ],
                ACCOUNT: [
                    CallbackQueryHandler(
                        _on_press("target", _account), pattern=signed(r"file:acc:[a-z0-9_-]+")
                    )
                ],
            },
            fallbacks=[CommandHandler("cancel", flow_cancel(FLOW))],
            name="file",
            persistent=True,
            allow_reentry=True,
        )


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(file_flow())
