"""What a Telegram reply answers: a forwarded SMS (its message, or its number inside a digest), or
the correspondent whose forum topic it was typed in — and the line to answer from."""

from __future__ import annotations

import re
from dataclasses import dataclass

from providers.numbers import to_ascii_digits
from storage.inbound import InboundRepo, InboundRow
from storage.outbox import Link, OutboxRepo

from .outbox import Outbox
from .polling import Polling

_DIGEST_PICK = re.compile(r"\s*#?\s*([0-9۰-۹٠-٩]+)[\s:.)\-]+(.+)", re.S)
LINK_WAIT = 1.0  # seconds to wait for the link of a message the outbox has just posted


@dataclass(frozen=True, slots=True)
class Answer:
    """A reply that answers someone: its SMS goes from ``account:line`` to ``counterparty``."""

    account: str
    counterparty: str
    line: str | None
    line_known: bool  # False: the line the SMS came to is unknown; ``line`` can receive
    text: str  # what to send (a digest reply without its "#n")
    inbound_id: int | None = None


class PickFromDigest:
    """A reply to a digest that does not start with the number of one of its SMS."""


class TooOld:
    """A reply to an SMS that retention has pruned (``[storage] keep_days``)."""


class Replies:
    def __init__(
        self, inbound: InboundRepo, outbox_repo: OutboxRepo, outbox: Outbox, polling: Polling
    ) -> None:
        self.inbound = inbound
        self.outbox_repo = outbox_repo
        self.outbox = outbox
        self.polling = polling

    async def answers(
        self, chat_id: int, text: str, *, replied: int | None, ours: bool, thread: int | None
    ) -> Answer | PickFromDigest | TooOld | None:
        """What a message answers: ``replied`` the message it replies to (``ours``: the bot's),
        ``thread`` its forum topic. None: people talking among themselves."""
        if thread is not None and replied in (None, thread):
            # typed in a topic (Telegram makes it a reply to the topic's first message)
            topic = await self.inbound.topic_owner(chat_id, thread)
            if topic is None:
                return None  # a topic that is not a correspondent's
            account, counterparty, line = topic
            return Answer(account, counterparty, line, True, text)
        if replied is None:
            return None
        # The person may answer before the outbox has recorded what it just posted: for a
        # message of ours, wait for its link a moment.
        wait = LINK_WAIT if ours else 0.0
        link = await self.outbox.linked(chat_id, replied, wait)
        if link is not None and not link.counterparty:  # retention left only this much
            return TooOld()
        inbound_id = link.inbound_id if link is not None else None
        if inbound_id is None:
            digest = await self.outbox_repo.digest(chat_id, replied)
            if not digest:
                return None
            picked = _DIGEST_PICK.match(text)
            number = int(to_ascii_digits(picked.group(1))) if picked else 0
            if picked is None or number not in digest:
                return PickFromDigest()
            text, inbound_id = picked.group(2), digest[number]
        sms = await self.inbound.get(inbound_id)
        if sms is None:
            return None
        line, known = await self.polling.reply_line(sms)
        return Answer(sms.account, sms.sender, line, known, text, inbound_id)

    async def sms(self, inbound_id: int) -> InboundRow | None:
        return await self.inbound.get(inbound_id)

    async def answerable(self, chat_id: int, message_id: int, sms: InboundRow) -> None:
        """A message the bot posted outside the outbox shows ``sms``: replying to it answers."""
        link = Link(chat_id, message_id, sms.account, sms.line, sms.sender, sms.id, None)
        await self.outbox_repo.add_link(link)
