"""A list sent as a file (CSV or XLSX): which column holds the numbers (asked by buttons when it is
not clear), the text with ``{column}`` placeholders (the caption, or asked for), the account (asked
when there are several), then the usual preview → Confirm (twice for a bulk send)."""

from __future__ import annotations

import logging
import warnings
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

from providers.base import ProviderError
from storage.uploads import Upload

from .. import render, sheets
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

log = logging.getLogger("smsbridge.bot")

COLUMN, TEXT, ACCOUNT = range(3)
END = ConversationHandler.END
FLOW = "file_flow"  # the flow's answers so far, in the person's user_data (persisted)
KINDS = ("csv", "txt", "tsv", "xlsx", "xls")
SHOWN_COLUMNS = 12  # column buttons offered at most


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
    table = sheets.read_table(name, data)
    upload_id = await svc.uploads.create(
        user_id=caller.user_id,
        chat_id=caller.chat_id,
        file_name=name,
        header=table.header,
        rows=table.rows,
        first_row=table.first_row,
    )
    target, text = split_target(message.caption or "", (a.name for a in svc.config.accounts))
    if target:
        svc.sends.resolve(target)  # an unknown line is refused now, not after the questions
    columns = sheets.number_columns(table)
    if not columns:
        await svc.uploads.delete(upload_id)
        raise UserError("file.no_number_column", columns=", ".join(table.header))
    flow = {
        "upload": upload_id,
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
    if flow["column"] is None:
        buttons = [
            [svc.buttons.button(_column_label(upload, index), caller.chat_id, f"file:col:{index}")]
            for index in flow["candidates"][:SHOWN_COLUMNS]
        ]
        text = render.t(lang, "file.column", name=name, rows=rows)
        await reply(update, text, InlineKeyboardMarkup(buttons))
        return COLUMN
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
        await reply(update, text)
        return TEXT
    table = sheets.Table(upload.header, upload.rows, upload.first_row)
    sheets.fields_of(table, flow["text"])  # a placeholder that names no column: refused now
    if flow["target"] is None and len(svc.config.accounts) > 1:
        buttons = [
            [svc.buttons.button(f"{a.name} ({a.provider})", caller.chat_id, f"file:acc:{a.name}")]
            for a in svc.config.accounts
        ]
        await reply(update, render.t(lang, "flow.account"), InlineKeyboardMarkup(buttons))
        return ACCOUNT
    plan = sheets.plan(table, int(flow["column"]), flow["text"])
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


async def on_column(update: Update, context: Context) -> int:
    step = await _step(update, context, press=True)
    if step is None:
        return END
    caller, flow = step
    svc = services(context)
    flow["column"] = int(pressed(update, svc).rsplit(":", 1)[1])
    return await _next_or_stay(update, context, caller, flow)


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


async def on_account(update: Update, context: Context) -> int:
    step = await _step(update, context, press=True)
    if step is None:
        return END
    caller, flow = step
    flow["target"] = pressed(update, services(context)).split(":", 2)[2] + ":"
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
                COLUMN: [CallbackQueryHandler(on_column, pattern=signed(r"file:col:\d+"))],
                TEXT: [MessageHandler(text, on_text)],
                ACCOUNT: [
                    CallbackQueryHandler(on_account, pattern=signed(r"file:acc:[a-z0-9_-]+"))
                ],
            },
            fallbacks=[CommandHandler("cancel", flow_cancel(FLOW))],
            name="file",
            persistent=True,
            allow_reentry=True,
        )


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(file_flow())
