"""Inline buttons whose data the bot signed for the chat it offered them in.

Telegram passes on whatever callback data a client sends, not only the data of a button on the
message. So every button the bot makes carries a MAC of (chat, data) under a key kept in the
database, and a press whose MAC does not match — made up, or copied from another chat — is
refused before any handler sees it. What a valid press may then touch (this chat's send, this
user's draft, an admin's choice) is each handler's own check.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from telegram import InlineKeyboardButton

MAX_DATA = 64  # bytes of callback data Telegram keeps
_MAC = 8  # characters of base64url (48 bits): far beyond guessing at Telegram's pace
SEPARATOR = "~"


def signed(pattern: str) -> str:
    """A handler pattern for the payload ``pattern`` of a signed button."""
    return rf"^(?:{pattern}){SEPARATOR}[A-Za-z0-9_-]{{{_MAC}}}$"


class Buttons:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, chat_id: int, payload: str) -> str:
        digest = hmac.new(self._key, f"{chat_id}:{payload}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode()[:_MAC]

    def data(self, chat_id: int, payload: str) -> str:
        """The callback data of a button offered in ``chat_id``."""
        if SEPARATOR in payload:
            raise ValueError(f"a button payload may not contain {SEPARATOR!r}: {payload!r}")
        data = f"{payload}{SEPARATOR}{self._mac(chat_id, payload)}"
        if len(data.encode()) > MAX_DATA:
            raise ValueError(f"button data longer than {MAX_DATA} bytes: {payload!r}")
        return data

    def button(self, text: str, chat_id: int, payload: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(text, callback_data=self.data(chat_id, payload))

    def fits(self, payload: str) -> bool:
        """Whether a payload can be a button (Telegram keeps 64 bytes of data)."""
        return SEPARATOR not in payload and len(payload.encode()) + 1 + _MAC <= MAX_DATA

    def open(self, chat_id: int, data: str) -> str | None:
        """The payload of a press in ``chat_id``, or None when the bot did not offer it there."""
        payload, separator, mac = data.rpartition(SEPARATOR)
        if not separator or not re.fullmatch(r"[A-Za-z0-9_-]+", mac):
            return None
        return payload if hmac.compare_digest(mac, self._mac(chat_id, payload)) else None
