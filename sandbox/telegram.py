"""A Bot API stand-in that PTB runs against through ``base_url``, with a user side for tests.

Bot side: getMe, getUpdates (long polling), sendMessage, sendDocument, sendPhoto, getFile and the
file download path (``/file/bot<token>/<file_path>``), editMessageText, editMessageReplyMarkup,
createForumTopic, editForumTopic, answerCallbackQuery, set/get/deleteMyCommands,
set/delete/getWebhookInfo, sendChatAction.
User side (Python): ``send`` a message as a user in a chat, reply to a message, ``send_document``,
``press`` an inline button, read what the bot sent (``bot_messages``, ``wait_for``).
Limits enforced as Telegram does: 4096 characters after entity parsing (1024 for a caption),
64-byte callback data, HTML that must parse, a bot downloads files of at most 20 MB (``getFile``
answers "file is too big" above), and 429 with ``retry_after`` past about 1 message/s per private
chat (3 in 3 s), 20/min per group, 30/s overall. Requests inside a retry window are counted in
``violations``. One consumer of updates at a time: a getUpdates while another waits ends the
waiting one with 409 ("terminated by other getUpdates request"), counted in ``conflicts``.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.parser
import email.policy
import itertools
import json
import math
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

DOWNLOAD_LIMIT = 20 * 1024 * 1024  # the most a bot may download through getFile
CAPTION_LIMIT = 1024

_JSON_FIELDS = {
    "reply_markup",
    "reply_parameters",
    "entities",
    "allowed_updates",
    "link_preview_options",
    "commands",
    "scope",
}
_INT_FIELDS = {
    "chat_id",
    "message_id",
    "offset",
    "limit",
    "timeout",
    "message_thread_id",
    "reply_to_message_id",
    "user_id",
}
_ALLOWED_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "a",
    "code",
    "pre",
    "tg-spoiler",
    "span",
    "blockquote",
    "tg-emoji",
}


def _multipart(content_type: str, body: bytes) -> dict[str, Any]:
    """A multipart/form-data body: text fields as strings, files as (file name, content)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True) or b""
        if not isinstance(name, str) or not isinstance(data, bytes):
            continue
        filename = part.get_filename()
        fields[name] = (filename, data) if filename is not None else data.decode("utf-8")
    return fields


class ApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        self.code = code
        self.description = description
        self.retry_after = retry_after


class _HtmlCheck(HTMLParser):
    """Telegram's HTML parse mode: only known tags, properly nested; text length after parsing."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []
        self.error: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _ALLOWED_TAGS:
            self.error = f'Unsupported start tag "{tag}"'
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.error = f'Can\'t find end tag corresponding to start tag "{tag}"'
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def plain_text(text: str, parse_mode: str | None) -> str:
    if (parse_mode or "").upper() != "HTML":
        return text
    checker = _HtmlCheck()
    checker.feed(text)
    checker.close()
    if checker.error is None and checker.stack:
        checker.error = f'Can\'t find end tag corresponding to start tag "{checker.stack[-1]}"'
    if checker.error:
        raise ApiError(400, f"Bad Request: can't parse entities: {checker.error}")
    return "".join(checker.text)  # character references were converted once, by the parser


@dataclass
class Window:
    count: int
    seconds: float
    stamps: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0


@dataclass
class Event:
    kind: str  # "send" | "edit"
    message: dict[str, Any]
    at: float = field(default_factory=time.perf_counter)  # when the stand-in received it


class TelegramSim:
    def __init__(
        self,
        token: str = "123456:SANDBOX-TOKEN",
        *,
        private_limit: tuple[int, float] = (3, 3.0),
        group_limit: tuple[int, float] = (20, 60.0),
        global_limit: tuple[int, float] = (30, 1.0),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        self.max_poll = 0.5
        self.bot_user = {
            "id": int(token.split(":")[0]),
            "is_bot": True,
            "first_name": "SMS Bridge",
            "username": "smsbridge_sandbox_bot",
        }
        self.private_limit, self.group_limit = private_limit, group_limit
        self.clock = clock
        self._global = Window(*global_limit)
        self._windows: dict[int, Window] = {}
        self.chats: dict[int, dict[str, Any]] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.markup: dict[tuple[int, int], str] = {}  # the text as the bot sent it, before parsing
        self.events: list[Event] = []
        self.callback_answers: list[dict[str, Any]] = []
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.webhook: dict[str, Any] = {"url": ""}
        self.topics: dict[tuple[int, int], dict[str, Any]] = {}  # (chat, thread id) → topic
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.violations = 0
        self.count_429 = 0
        self.conflicts = 0  # getUpdates requests that ended another's (two consumers)
        self._polling: asyncio.Event | None = None  # set to end the getUpdates that waits
        # HTTP statuses to answer the next bot calls with: a status for any method, or
        # (status, method[, description]) for the next call of that method only
        self.fail_next: list[int | tuple[int, str] | tuple[int, str, str]] = []
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._callback_ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id → (file name, content)
        self.other_markup: dict[tuple[int, int], dict[str, Any]] = {}  # ForceReply and the like
        self._file_ids = itertools.count(1)
        self.app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"]),
                Route("/file/bot{token}/{path:path}", self._download, methods=["GET"]),
            ]
        )

    # ------------------------------------------------------------------ user side

    def user(
        self, user_id: int, first_name: str = "User", username: str | None = None
    ) -> dict[str, Any]:
        self.users[user_id] = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            **({"username": username} if username else {}),
        }
        return self.users[user_id]

    def private_chat(self, user_id: int) -> dict[str, Any]:
        user = self.users.get(user_id) or self.user(user_id)
        chat = {"id": user_id, "type": "private", "first_name": user["first_name"]}
        self.chats[user_id] = chat
        return chat

    def group(self, chat_id: int, title: str = "Team", forum: bool = False) -> dict[str, Any]:
        chat = {
            "id": chat_id,
            "type": "supergroup",
            "title": title,
            **({"is_forum": True} if forum else {}),
        }
        self.chats[chat_id] = chat
        return chat

    def _new_message(
        self, chat_id: int, sender: dict[str, Any], text: str, **extra: Any
    ) -> dict[str, Any]:
        counter = self._message_ids.setdefault(chat_id, itertools.count(1))
        message = {
            "message_id": next(counter),
            "date": int(time.time()),
            "chat": self.chats[chat_id],
            "from": sender,
            "text": text,
            **extra,
        }
        self.messages[(chat_id, message["message_id"])] = message
        return message

    async def send(
        self,
        user_id: int,
        chat_id: int,
        text: str,
        reply_to: int | None = None,
        thread_id: int | None = None,
    ) -> dict[str, Any]:
        """The user types ``text`` in the chat (optionally as a reply to message ``reply_to``,
        or inside forum topic ``thread_id``: like Telegram, a topic message that replies to
        nothing else replies to the topic's first message)."""
        if chat_id not in self.chats:
            self.private_chat(user_id) if chat_id == user_id else self.group(chat_id)
        extra: dict[str, Any] = {}
        if thread_id is not None:
            if (chat_id, thread_id) not in self.topics:
                raise ValueError(f"no topic {thread_id} in chat {chat_id}")
            extra |= {"message_thread_id": thread_id, "is_topic_message": True}
            reply_to = reply_to or thread_id
        if text.startswith("/"):
            command = text.split()[0]
            extra["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        if reply_to is not None:
            replied = dict(self.messages[(chat_id, reply_to)])
            replied.pop("reply_to_message", None)
            extra["reply_to_message"] = replied
        message = self._new_message(
            chat_id, self.users.get(user_id) or self.user(user_id), text, **extra
        )
        await self._push_update({"message": message})
        return message

    def _store_file(self, name: str, data: bytes, mime: str) -> dict[str, Any]:
        number = next(self._file_ids)
        file_id = f"BQACAgQAAxkBAAI{number:06d}"
        self.files[file_id] = (name, data)
        return {
            "file_id": file_id,
            "file_unique_id": f"AgAD{number:06d}",
            "file_name": name,
            "mime_type": mime,
            "file_size": len(data),
        }

    async def send_document(
        self,
        user_id: int,
        chat_id: int,
        file_name: str,
        data: bytes,
        caption: str | None = None,
        mime: str = "application/octet-stream",
    ) -> dict[str, Any]:
        """The user sends a file (with an optional caption) in the chat."""
        if chat_id not in self.chats:
            self.private_chat(user_id) if chat_id == user_id else self.group(chat_id)
        message = self._new_message(chat_id, self.users.get(user_id) or self.user(user_id), "")
        del message["text"]
        message["document"] = self._store_file(file_name, data, mime)
        if caption:
            message["caption"] = caption
        await self._push_update({"message": message})
        return message

    async def send_sticker(self, user_id: int, chat_id: int) -> dict[str, Any]:
        """The user sends a sticker: a message with no text."""
        message = self._new_message(chat_id, self.users.get(user_id) or self.user(user_id), "")
        del message["text"]
        message["sticker"] = {
            "file_id": "sticker-1",
            "file_unique_id": "s1",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
        await self._push_update({"message": message})
        return message

    async def press(self, user_id: int, chat_id: int, message_id: int, index: int = 0) -> str:
        """The user presses inline button ``index`` (row by row) of a bot message."""
        return await self.press_data(
            user_id, chat_id, message_id, self.button(chat_id, message_id, index)
        )

    def button(self, chat_id: int, message_id: int, index: int = 0) -> str:
        """The callback data of inline button ``index`` of a bot message, as it is now."""
        message = self.messages[(chat_id, message_id)]
        buttons = [
            b for row in message.get("reply_markup", {}).get("inline_keyboard", []) for b in row
        ]
        return str(buttons[index]["callback_data"])

    async def press_data(self, user_id: int, chat_id: int, message_id: int, data: str) -> str:
        """A button press with any callback data: Telegram passes on what the client sends, so a
        tampered client can send data no button of the message carries."""
        message = self.messages[(chat_id, message_id)]
        query_id = str(next(self._callback_ids))
        await self._push_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": self.users.get(user_id) or self.user(user_id),
                    "message": message,
                    "chat_instance": str(chat_id),
                    "data": data,
                }
            }
        )
        return query_id

    def bot_messages(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Messages the bot sent, oldest first, in their current (possibly edited) state."""
        return [
            m
            for m in self.messages.values()
            if m["from"].get("is_bot") and (chat_id is None or m["chat"]["id"] == chat_id)
        ]

    async def wait_for(
        self, predicate: Callable[[Event], bool], timeout: float = 10.0, after: int = 0
    ) -> Event:
        """The first event (from index ``after``) that satisfies ``predicate``."""
        deadline = time.monotonic() + timeout
        async with self._changed:
            while True:
                for event in self.events[after:]:
                    if predicate(event):
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("the bot did not send what was expected")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), remaining)

    async def wait_text(
        self, chat_id: int, contains: str, timeout: float = 10.0, after: int = 0
    ) -> dict[str, Any]:
        event = await self.wait_for(
            lambda e: e.message["chat"]["id"] == chat_id and contains in e.message.get("text", ""),
            timeout,
            after,
        )
        return event.message

    # ------------------------------------------------------------------ bot side

    async def _push_update(self, body: dict[str, Any]) -> None:
        update = {"update_id": next(self._update_ids), **body}
        if self.webhook["url"]:
            headers = {}
            if self.webhook.get("secret_token"):
                headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook["secret_token"]
            async with httpx.AsyncClient(timeout=10) as client:
                await client.post(self.webhook["url"], json=update, headers=headers)
            return
        async with self._changed:
            self._updates.append(update)
            self._changed.notify_all()

    async def _params(self, request: Request) -> dict[str, Any]:
        content_type = request.headers.get("content-type", "")
        if request.method == "GET":
            raw: dict[str, Any] = dict(request.query_params)
        elif "application/json" in content_type:
            body = await request.body()
            return json.loads(body) if body else {}
        elif content_type.startswith("multipart/form-data"):
            raw = _multipart(content_type, await request.body())
        else:
            raw = dict(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True))
        params: dict[str, Any] = {}
        for key, value in raw.items():
            if isinstance(value, tuple):  # an uploaded file: (file name, content)
                params[key] = value
            elif key in _JSON_FIELDS or (key in _INT_FIELDS and value.lstrip("-").isdigit()):
                params[key] = json.loads(value)
            elif value in ("true", "false") and key not in ("text", "caption"):
                params[key] = value == "true"
            else:
                params[key] = value
        return params

    async def _endpoint(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return JSONResponse(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, 401
            )
        method = request.path_params["method"]
        params = await self._params(request)
        self.calls.append((method, params))
        failing = next((f for f in self.fail_next if isinstance(f, int) or f[1] == method), None)
        if failing is not None:
            self.fail_next.remove(failing)
            status = failing if isinstance(failing, int) else failing[0]
            description = (
                failing[2]
                if isinstance(failing, tuple) and len(failing) > 2
                else ("Bad Request: failed" if status == 400 else "Internal Server Error")
            )
            return JSONResponse(
                {"ok": False, "error_code": status, "description": description}, status
            )
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return JSONResponse(
                {"ok": False, "error_code": 404, "description": "Not Found: method not found"}, 404
            )
        try:
            result = await handler(params)
        except ApiError as exc:
            body: dict[str, Any] = {
                "ok": False,
                "error_code": exc.code,
                "description": exc.description,
            }
            if exc.retry_after is not None:
                body["parameters"] = {"retry_after": exc.retry_after}
            return JSONResponse(body, exc.code)
        return JSONResponse({"ok": True, "result": result})

    def _chat(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self.chats.get(params.get("chat_id"))  # type: ignore[arg-type]
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        return chat

    def _take(self, chat_id: int) -> None:
        now = self.clock()
        window = self._windows.get(chat_id)
        if window is None:
            window = self._windows[chat_id] = Window(
                *(self.group_limit if chat_id < 0 else self.private_limit)
            )
        for w in (window, self._global):
            if now < w.blocked_until:
                self.violations += 1
                self.count_429 += 1
                raise ApiError(
                    429,
                    f"Too Many Requests: retry after {math.ceil(w.blocked_until - now)}",
                    math.ceil(w.blocked_until - now),
                )
            while w.stamps and w.stamps[0] <= now - w.seconds:
                w.stamps.popleft()
        for w in (window, self._global):
            if len(w.stamps) >= w.count:
                retry = max(1, math.ceil(w.stamps[0] + w.seconds - now))
                w.blocked_until = now + retry
                self.count_429 += 1
                raise ApiError(429, f"Too Many Requests: retry after {retry}", retry)
        window.stamps.append(now)
        self._global.stamps.append(now)

    def _check_markup(self, markup: Any) -> None:
        if not markup:
            return
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= 64:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")

    async def _record(self, kind: str, message: dict[str, Any]) -> None:
        async with self._changed:
            self.events.append(Event(kind, dict(message)))
            self._changed.notify_all()

    def _check_text(self, params: dict[str, Any]) -> str:
        text = str(params.get("text", ""))
        shown = plain_text(text, params.get("parse_mode"))
        if not shown.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(shown) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        return shown

    async def _m_getMe(self, params: dict[str, Any]) -> Any:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _m_getUpdates(self, params: dict[str, Any]) -> Any:
        if self.webhook["url"]:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(params.get("offset") or 0)
        # Capped so that a stand-in shuts down within its grace period; Telegram may return early too.
        timeout = min(float(params.get("timeout") or 0), self.max_poll)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + timeout
        if self._polling is not None and not self._polling.is_set():
            self.conflicts += 1
            self._polling.set()
        ended = self._polling = asyncio.Event()
        async with self._changed:
            while True:
                if ended.is_set():
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; make sure that only "
                        "one bot instance is running",
                    )
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
                if self._updates or time.monotonic() >= deadline:
                    ended.set()
                    return self._updates[:limit]
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._changed.wait(), min(0.05, deadline - time.monotonic())
                    )

    async def _m_sendMessage(self, params: dict[str, Any]) -> Any:
        chat = self._chat(params)
        shown = self._check_text(params)
        self._check_markup(params.get("reply_markup"))
        self._take(chat["id"])
        extra: dict[str, Any] = {}
        markup = params.get("reply_markup")
        if markup and "inline_keyboard" in markup:  # a message carries its inline keyboard only
            extra["reply_markup"] = markup
        reply = params.get("reply_parameters") or {}
        reply_id = reply.get("message_id") or params.get("reply_to_message_id")
        if reply_id and (chat["id"], reply_id) in self.messages:
            extra["reply_to_message"] = self.messages[(chat["id"], reply_id)]
        thread = params.get("message_thread_id")
        if thread:
            if not chat.get("is_forum") or (chat["id"], thread) not in self.topics:
                raise ApiError(400, "Bad Request: message thread not found")
            extra |= {"message_thread_id": thread, "is_topic_message": True}
        message = self._new_message(
            chat["id"], self.bot_user, shown, html=params.get("text"), **extra
        )
        if markup and "inline_keyboard" not in markup:  # ForceReply and keyboards: for tests
            self.other_markup[(chat["id"], message["message_id"])] = markup
        await self._record("send", message)
        return message

    async def _m_sendDocument(self, params: dict[str, Any]) -> Any:
        chat = self._chat(params)
        caption = plain_text(str(params.get("caption", "")), params.get("parse_mode"))
        if len(caption) > CAPTION_LIMIT:
            raise ApiError(400, "Bad Request: message caption is too long")
        self._check_markup(params.get("reply_markup"))
        document = params.get("document")
        if isinstance(document, tuple):
            name, data = document
            stored = self._store_file(name, data, "application/octet-stream")
        elif isinstance(document, str) and document in self.files:
            name, data = self.files[document]
            stored = self._store_file(name, data, "application/octet-stream")
        else:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        if not data:
            raise ApiError(400, "Bad Request: file must be non-empty")
        self._take(chat["id"])
        message = self._new_message(chat["id"], self.bot_user, "", document=stored)
        del message["text"]
        if caption:
            message["caption"] = caption
        await self._record("send", message)
        return message

    async def _m_sendPhoto(self, params: dict[str, Any]) -> Any:
        """A photo upload: Telegram takes PNG or JPEG up to 10 MB, sides adding up to at most
        10,000 pixels; the message carries the photo's sizes."""
        chat = self._chat(params)
        caption = plain_text(str(params.get("caption", "")), params.get("parse_mode"))
        if len(caption) > CAPTION_LIMIT:
            raise ApiError(400, "Bad Request: message caption is too long")
        photo = params.get("photo")
        if not isinstance(photo, tuple):
            raise ApiError(400, "Bad Request: there is no photo in the request")
        name, data = photo
        if data[:8] == b"\x89PNG\r\n\x1a\n":
            width, height = struct.unpack(">II", data[16:24])
        elif data[:3] == b"\xff\xd8\xff":
            width, height = 0, 0  # not read: the bridge sends PNG
        else:
            raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
        if len(data) > 10 * 1024 * 1024 or width + height > 10_000:
            raise ApiError(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
        self._take(chat["id"])
        stored = self._store_file(name or "photo.png", data, "image/png")
        size = {k: stored[k] for k in ("file_id", "file_unique_id", "file_size")}
        message = self._new_message(
            chat["id"], self.bot_user, "", photo=[size | {"width": width, "height": height}]
        )
        del message["text"]
        if caption:
            message["caption"] = caption
        await self._record("send", message)
        return message

    async def _m_getFile(self, params: dict[str, Any]) -> Any:
        file_id = str(params.get("file_id", ""))
        if file_id not in self.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        name, data = self.files[file_id]
        if len(data) > DOWNLOAD_LIMIT:
            raise ApiError(400, "Bad Request: file is too big")
        suffix = name.rsplit(".", 1)[-1] if "." in name else "bin"
        return {
            "file_id": file_id,
            "file_unique_id": "AgAD" + file_id[-6:],
            "file_size": len(data),
            "file_path": f"documents/file_{file_id[-6:]}.{suffix}",
        }

    async def _download(self, request: Request) -> Response:
        """The file download path: ``file_path`` from getFile, behind the bot's token."""
        if request.path_params["token"] != self.token:
            return Response(status_code=401)
        path = request.path_params["path"]
        for file_id, (_name, data) in self.files.items():
            if path.startswith(f"documents/file_{file_id[-6:]}."):
                if len(data) > DOWNLOAD_LIMIT:
                    return Response(status_code=400)
                return Response(data, media_type="application/octet-stream")
        return Response(status_code=404)

    async def _m_createForumTopic(self, params: dict[str, Any]) -> Any:
        chat = self._chat(params)
        name = str(params.get("name", ""))
        if not chat.get("is_forum"):
            raise ApiError(400, "Bad Request: the chat is not a forum")
        if not 1 <= len(name) <= 128:
            raise ApiError(400, "Bad Request: invalid topic name")
        self._take(chat["id"])
        topic = {"name": name, "icon_color": 7322096}
        root = self._new_message(
            chat["id"], self.bot_user, "", forum_topic_created=topic, is_topic_message=True
        )
        root["message_thread_id"] = root["message_id"]
        self.topics[(chat["id"], root["message_id"])] = topic
        return {"message_thread_id": root["message_id"], **topic}

    async def _m_editForumTopic(self, params: dict[str, Any]) -> Any:
        chat = self._chat(params)
        topic = self.topics.get((chat["id"], params.get("message_thread_id")))  # type: ignore[arg-type]
        if topic is None:
            raise ApiError(400, "Bad Request: TOPIC_ID_INVALID")
        name = str(params.get("name", topic["name"]))
        if not 1 <= len(name) <= 128:
            raise ApiError(400, "Bad Request: invalid topic name")
        if name == topic["name"]:
            raise ApiError(400, "Bad Request: TOPIC_NOT_MODIFIED")
        topic["name"] = name
        return True

    async def _m_editMessageText(self, params: dict[str, Any]) -> Any:
        chat = self._chat(params)
        message = self.messages.get((chat["id"], params.get("message_id")))  # type: ignore[arg-type]
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        shown = self._check_text(params)
        self._check_markup(params.get("reply_markup"))
        if shown == message["text"] and params.get("reply_markup") == message.get("reply_markup"):
            raise ApiError(400, "Bad Request: message is not modified")
        message["text"] = shown
        self.markup[(chat["id"], message["message_id"])] = str(params.get("text"))
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        else:
            message.pop("reply_markup", None)
        message["edit_date"] = int(time.time())
        await self._record("edit", message)
        return message

    async def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        chat = self._chat(params)
        message = self.messages.get((chat["id"], params.get("message_id")))  # type: ignore[arg-type]
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        self._check_markup(params.get("reply_markup"))
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        else:
            message.pop("reply_markup", None)
        await self._record("edit", message)
        return message

    async def _m_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        self.callback_answers.append(params)
        return True

    async def _m_setMyCommands(self, params: dict[str, Any]) -> Any:
        self.commands[str(params.get("language_code", ""))] = params.get("commands", [])
        return True

    async def _m_deleteMyCommands(self, params: dict[str, Any]) -> Any:
        self.commands.pop(str(params.get("language_code", "")), None)
        return True

    async def _m_getMyCommands(self, params: dict[str, Any]) -> Any:
        return self.commands.get(str(params.get("language_code", "")), [])

    async def _m_setWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = {
            "url": params.get("url", ""),
            "secret_token": params.get("secret_token", ""),
        }
        return True

    async def _m_deleteWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = {"url": ""}
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _m_getWebhookInfo(self, params: dict[str, Any]) -> Any:
        return {
            "url": self.webhook["url"],
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    async def _m_sendChatAction(self, params: dict[str, Any]) -> Any:
        self._chat(params)
        return True

    async def _m_close(self, params: dict[str, Any]) -> Any:
        return True
