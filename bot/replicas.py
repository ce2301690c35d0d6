"""What a replica does that a lone bridge need not, when several share one PostgreSQL
(docs/operations.md, "Several replicas"). Leases (bot/leases.py) decide who runs the once-only
jobs; this module holds the rest: flows that continue on whichever replica the next update
reaches, and Telegram's ``getUpdates`` on one replica at a time.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import Update
from telegram.ext import Application, ContextTypes, ConversationHandler, TypeHandler

from storage.persistence import DatabasePersistence

from .workers import Worker

log = logging.getLogger("smsbridge.replicas")


def share_flows(application: Application, persistence: DatabasePersistence) -> None:  # type: ignore[type-arg]
    """Before each update: what this replica changed and has not written yet is written, then
    the update's conversation states and its user's and chat's data are read as stored now (a
    flow begun on another replica goes on here). After it: its changes are written at once
    (the next update may reach another replica)."""

    async def refresh(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await application.update_persistence()  # nothing of ours is newer than the database
        for handlers in application.handlers.values():
            for handler in handlers:
                if isinstance(handler, ConversationHandler) and handler.persistent:
                    await _refresh(handler, update, persistence)
        for kind, key, data in (
            ("user", update.effective_user, context.user_data),
            ("chat", update.effective_chat, context.chat_data),
        ):
            if key is not None and data is not None:
                stored = await persistence.data(kind, key.id)
                data.clear()
                data.update(stored)

    async def flush(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        user, chat = update.effective_user, update.effective_chat
        application.mark_data_for_update_persistence(
            chat_ids=chat.id if chat else None, user_ids=user.id if user else None
        )
        await application.update_persistence()

    application.add_handler(TypeHandler(Update, refresh), group=-100)
    application.add_handler(TypeHandler(Update, flush), group=100)


async def _refresh(
    handler: ConversationHandler[Any], update: Update, persistence: DatabasePersistence
) -> None:
    assert handler.name is not None  # a persistent conversation has one
    try:
        key = handler._get_key(update)  # PTB's key: the only way to know which state is read
    except RuntimeError:  # an update this conversation cannot be about
        return
    state = await persistence.conversation(handler.name, key)
    conversations = handler._conversations  # a TrackingDict: a refresh is not a change
    if state is None:
        conversations.data.pop(key, None)  # type: ignore[attr-defined]
    else:
        conversations.update_no_track({key: state})  # type: ignore[attr-defined]


async def take_updates(application: Application, worker: Worker) -> None:  # type: ignore[type-arg]
    """``getUpdates`` while this replica holds the lease (Telegram answers 409 to a second
    consumer); stopped when the lease moves. Updates fetched and not yet confirmed when a
    replica dies are fetched again by the next: a Confirm among them is still claimed once."""
    updater = application.updater
    assert updater is not None
    await updater.start_polling(timeout=30, drop_pending_updates=False)
    log.info("this replica takes Telegram's updates")
    try:
        while updater.running:
            worker.succeeded()
            await asyncio.sleep(worker.interval)
    finally:
        if updater.running:
            await updater.stop()
