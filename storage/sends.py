"""Outbound sends: drafts awaiting confirmation, their per-recipient results and delivery states."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .access import insert_audit
from .db import Connection, Database, Dialect, Row, now_iso
from .events import Recorder
from .search import index_send

_COLUMNS = (
    "id, created_at, user_id, chat_id, account, line, text, send_at, state, invalid, "
    "price_estimate, price, campaign_id, error, chat_message_id, reply_to_message_id, inbound_id, "
    "reference, audience, refused, confirmed_at, lookups, optout_override, file_info"
)


# How many people a send reaches: the provider's count, else one per recipient row.
_REACH = "coalesce(audience, (SELECT count(*) FROM send_recipients r WHERE r.send_id = sends.id))"


class SendState(StrEnum):
    """Where a send is: a preview (``draft``; ``armed`` after the first of a bulk send's two
    confirmations), ``sending`` during the provider call, then what the call did — ``sent``,
    ``partial``, ``failed`` or ``unknown`` (the outcome rule: ``providers/outcome.py``) — or
    ``cancelled`` from its preview."""

    DRAFT = "draft"
    ARMED = "armed"
    SENDING = "sending"
    SENT = "sent"
    PARTIAL = "partial"
    FAILED = "failed"
    UNKNOWN = "unknown"
    CANCELLED = "cancelled"


PREVIEWS = (SendState.DRAFT, SendState.ARMED, SendState.CANCELLED)  # never went to a provider


class ClaimStatus(StrEnum):
    """What pressing Confirm did."""

    OK = "ok"  # the send is the presser's to execute now
    ARMED = "armed"  # the first of a bulk send's two confirmations
    GONE = "gone"  # sent or cancelled already
    NOT_OWNER = "not_owner"  # someone else's preview, or another chat's
    QUOTA = "quota"  # the presser's daily quota would be exceeded
    NEEDS_SECOND = "needs_second"  # a bulk send's first Confirm pressed again
    NEEDS_FIRST = "needs_first"  # a second confirmation of a send never armed


@dataclass(frozen=True, slots=True)
class Recipient:
    """One recipient of a send. ``state`` is ``draft`` until its request goes, ``sending`` while
    it is out (a restart makes it ``unknown``, never sends it again), then its outcome and its
    delivery. ``text``: its own text in a personalised send (None: the send's text)."""

    number: str
    message_id: str | None
    state: str
    raw_status: str | None = None
    error: str | None = None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class SendRow:
    id: int
    created_at: str
    user_id: int
    chat_id: int
    account: str
    line: str
    text: str
    send_at: str | None
    state: SendState
    invalid: list[str]
    price_estimate: float | None
    price: float | None
    campaign_id: str | None
    error: str | None
    chat_message_id: int | None
    reply_to_message_id: int | None
    inbound_id: int | None
    reference: str
    audience: int | None  # the provider's count of who it reaches (a group is many numbers)
    refused: list[tuple[str, str]]  # (recipient, reason key) the provider will not reach
    confirmed_at: str | None = None
    lookups: int = 0  # times an unknown outcome was looked up at the provider
    optout_override: str | None = None  # the opted-out number an admin chose to send to
    file_info: dict[str, Any] | None = None  # a send from a file: its name, rows read, duplicates
    recipients: list[Recipient] = field(default_factory=list)

    @property
    def personalised(self) -> bool:
        """A text per recipient (from a file with placeholders)."""
        return any(r.text is not None for r in self.recipients)

    @property
    def reach(self) -> int:
        """How many people the send reaches: the provider's count, else one per recipient."""
        return self.audience if self.audience is not None else len(self.recipients)


@dataclass(frozen=True, slots=True)
class Claim:
    """The outcome of pressing Confirm: ``ok``, or why the send may not go out."""

    status: ClaimStatus
    row: SendRow | None = None
    used_today: int = 0


def _row(r: Row, recipients: list[Recipient]) -> SendRow:
    return SendRow(
        id=r["id"],
        created_at=r["created_at"],
        user_id=r["user_id"],
        chat_id=r["chat_id"],
        account=r["account"],
        line=r["line"],
        text=r["text"],
        send_at=r["send_at"],
        state=SendState(r["state"]),
        invalid=json.loads(r["invalid"]),
        price_estimate=r["price_estimate"],
        price=r["price"],
        campaign_id=r["campaign_id"],
        error=r["error"],
        chat_message_id=r["chat_message_id"],
        reply_to_message_id=r["reply_to_message_id"],
        inbound_id=r["inbound_id"],
        reference=r["reference"] or "",
        audience=r["audience"],
        refused=[(a, b) for a, b in json.loads(r["refused"])],
        confirmed_at=r["confirmed_at"],
        lookups=r["lookups"],
        optout_override=r["optout_override"],
        file_info=json.loads(r["file_info"]) if r["file_info"] else None,
        recipients=recipients,
    )


class SendsRepo:
    def __init__(self, db: Database, events: Recorder | None = None, runner: str = "") -> None:
        self.db = db
        self.events = events or Recorder()
        # This replica's name (bot/leases.py): a send it claims or takes over is its to run,
        # and it stops running one another replica took over (its heartbeat looked dead).
        self.runner = runner or None

    async def _tell_outcome(self, conn: Connection, send_id: int) -> None:
        """A ``send`` event: the send's state and its recipients' counts (docs/webhooks.md)."""
        if not self.events.on:
            return
        rows = await conn.execute_fetchall(
            "SELECT account, line, state, text, (SELECT count(*) FROM send_recipients r WHERE "
            "r.send_id = sends.id), (SELECT count(*) FROM send_recipients r WHERE r.send_id = "
            "sends.id AND r.message_id IS NOT NULL) FROM sends WHERE id = ?",
            (send_id,),
        )
        for account, line, state, text, count, accepted in rows:
            data = {"send_id": send_id, "state": state, "text": text}
            data |= {"recipients": count, "accepted": accepted}
            await self.events.add(conn, [("send", account, line, data)])

    async def create_draft(
        self,
        *,
        user_id: int,
        chat_id: int,
        account: str,
        line: str,
        text: str,
        recipients: Sequence[str],
        invalid: Sequence[str],
        send_at: str | None = None,
        price_estimate: float | None = None,
        reply_to_message_id: int | None = None,
        inbound_id: int | None = None,
        audience: int | None = None,
        refused: Sequence[tuple[str, str]] = (),
        optout_override: str | None = None,
        texts: Sequence[str] | None = None,
        file_info: dict[str, Any] | None = None,
    ) -> int:
        """A preview's send; ``texts``: one per recipient, in the same order (personalised)."""
        reference = uuid.uuid4().hex[:16]
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO sends (created_at, user_id, chat_id, account, line, text, send_at, "
                "state, invalid, price_estimate, reply_to_message_id, inbound_id, reference, "
                "audience, refused, optout_override, file_info) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 'draft', ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    now_iso(),
                    user_id,
                    chat_id,
                    account,
                    line,
                    text,
                    send_at,
                    json.dumps(list(invalid), ensure_ascii=False),
                    price_estimate,
                    reply_to_message_id,
                    inbound_id,
                    reference,
                    audience,
                    json.dumps([list(r) for r in refused], ensure_ascii=False),
                    optout_override,
                    json.dumps(file_info, ensure_ascii=False) if file_info else None,
                ),
            )
            send_id = int((await cursor.fetchone())[0])
            each = texts if texts is not None else [None] * len(recipients)
            await conn.executemany(
                "INSERT INTO send_recipients (send_id, number, state, text) "
                "VALUES (?, ?, 'draft', ?)",
                [(send_id, n, t) for n, t in zip(recipients, each, strict=True)],
            )
        return send_id

    async def set_chat_message(self, send_id: int, message_id: int) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE sends SET chat_message_id = ? WHERE id = ?", (message_id, send_id)
            )

    async def get(self, send_id: int) -> SendRow | None:
        found = await self._select("id = ?", (send_id,))
        return found[0] if found else None

    async def _select(
        self, where: str, params: tuple[object, ...], tail: str = ""
    ) -> list[SendRow]:
        """Sends matching ``where`` with their recipients: two queries however many sends."""
        rows = await self.db.fetchall(f"SELECT {_COLUMNS} FROM sends WHERE {where} {tail}", params)
        if not rows:
            return []
        ids = [int(r["id"]) for r in rows]
        recipients: dict[int, list[Recipient]] = {i: [] for i in ids}
        for r in await self.db.fetchall(
            "SELECT send_id, number, message_id, state, raw_status, error, text "
            "FROM send_recipients "
            f"WHERE send_id IN ({', '.join('?' * len(ids))}) ORDER BY rowid",
            tuple(ids),
        ):
            recipients[int(r[0])].append(Recipient(*tuple(r)[1:]))
        return [_row(r, recipients[int(r["id"])]) for r in rows]

    async def claim(
        self,
        send_id: int,
        user_id: int,
        *,
        quota: int,
        day_start: str,
        needs_second_confirm: bool,
        second: bool = False,
        chat_id: int | None = None,
    ) -> Claim:
        """Confirm a draft exactly once: quota check, state change and audit row in one commit.
        A bulk send takes two steps: the first Confirm arms it, and only the second Confirm
        (``second``, a button of its own) sends it."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                f"SELECT state, user_id, account, chat_id, text, {_REACH} AS n FROM sends "
                "WHERE id = ?",
                (send_id,),
            )
            row = await cursor.fetchone()
            if row is None or row["state"] not in ("draft", "armed"):
                return Claim(ClaimStatus.GONE)
            if row["user_id"] != user_id or (chat_id is not None and row["chat_id"] != chat_id):
                return Claim(ClaimStatus.NOT_OWNER)
            if needs_second_confirm and row["state"] == "armed" and not second:
                return Claim(ClaimStatus.NEEDS_SECOND)
            if second and row["state"] != "armed":
                return Claim(ClaimStatus.NEEDS_FIRST)
            cursor = await conn.execute(
                f"SELECT coalesce(sum({_REACH}), 0) FROM sends WHERE user_id = ? "
                "AND confirmed_at >= ? AND state NOT IN ('draft', 'armed', 'cancelled')",
                (user_id, day_start),
            )
            used = int((await cursor.fetchone() or (0,))[0])
            if used + int(row["n"]) > quota:
                return Claim(ClaimStatus.QUOTA, used_today=used)
            if needs_second_confirm and row["state"] == "draft":
                await conn.execute("UPDATE sends SET state = 'armed' WHERE id = ?", (send_id,))
                return Claim(ClaimStatus.ARMED)
            await conn.execute(
                "UPDATE sends SET state = 'sending', confirmed_at = ?, runner = ? WHERE id = ?",
                (now_iso(), self.runner, send_id),
            )
            await index_send(conn, self.db.dialect, send_id, row["text"])
            await insert_audit(
                conn,
                "send",
                user_id,
                row["chat_id"],
                row["account"],
                int(row["n"]),
                f"send #{send_id}",
            )
        return Claim(ClaimStatus.OK, await self.get(send_id), used)

    async def cancel(self, send_id: int, user_id: int) -> bool:
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE sends SET state = 'cancelled' WHERE id = ? AND user_id = ? "
                "AND state IN ('draft', 'armed')",
                (send_id, user_id),
            )
            return bool(cursor.rowcount > 0)

    async def mark_sending(self, send_id: int, numbers: Sequence[str]) -> bool:
        """These recipients' request is about to go: from now on a restart makes them unknown.
        False (nothing marked) when another replica took the send over: it is not ours to go on
        with."""
        async with self.db.transaction() as conn:
            return await self._mark_sending(conn, send_id, numbers)

    async def _mark_sending(self, conn: Connection, send_id: int, numbers: Sequence[str]) -> bool:
        if self.runner is not None and numbers:
            cursor = await conn.execute("SELECT runner FROM sends WHERE id = ?", (send_id,))
            row = await cursor.fetchone()
            if row is None or row[0] not in (None, self.runner):
                return False
        await conn.executemany(
            "UPDATE send_recipients SET state = 'sending', updated_at = ? "
            "WHERE send_id = ? AND number = ? AND state = 'draft'",
            [(now_iso(), send_id, n) for n in numbers],
        )
        return True

    async def record_result(
        self,
        send_id: int,
        *,
        results: Iterable[Recipient],
        state: str | None = None,
        campaign_id: str | None = None,
        price: float | None = None,
        error: str | None = None,
        announce: bool = False,
        sending_next: Sequence[str] = (),
    ) -> bool:
        """What one request did to its recipients; its campaign and price join the send's.
        ``state``: the send's state once every request is done (None: more to go). ``announce``:
        queue an edit of the send's chat message in the same commit. ``sending_next``: the next
        request's recipients, marked as ``mark_sending`` does, in the same commit (one commit
        per request, not two); False when they were not, the send being another replica's now
        (what this request did is recorded all the same: it is what the provider said)."""
        async with self.db.transaction() as conn:
            ours = await self._mark_sending(conn, send_id, sending_next)
            await conn.execute(
                "UPDATE sends SET state = coalesce(?, state), error = coalesce(?, error), "
                "price = CASE WHEN ? IS NULL THEN price ELSE coalesce(price, 0) + ? END, "
                "campaign_id = CASE WHEN ? IS NULL THEN campaign_id WHEN campaign_id IS NULL "
                "THEN ? ELSE campaign_id || ',' || ? END WHERE id = ?",
                (state, error, price, price, campaign_id, campaign_id, campaign_id, send_id),
            )
            await conn.executemany(
                "UPDATE send_recipients SET message_id = ?, state = ?, error = ?, updated_at = ? "
                "WHERE send_id = ? AND number = ?",
                [(r.message_id, r.state, r.error, now_iso(), send_id, r.number) for r in results],
            )
            if announce:
                await _queue_edits(conn, self.db.dialect, [send_id])
            if state is not None:
                await self._tell_outcome(conn, send_id)
        return ours

    async def queue_edit(self, send_id: int) -> None:
        """Queue an edit of the send's chat message to what it shows now (its progress)."""
        async with self.db.transaction() as conn:
            await _queue_edits(conn, self.db.dialect, [send_id])

    async def settle(
        self,
        send_id: int,
        state: str,
        updates: Iterable[Recipient],
        campaign_id: str | None,
        announce: bool,
    ) -> None:
        """A look-up of an unknown send: the recipients it settled, the send's state now, one
        more look-up counted; a campaign found joins the send's. ``announce``: queue an edit of
        the send's chat message in the same commit."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE sends SET state = ?, lookups = lookups + 1, campaign_id = CASE "
                "WHEN ? IS NULL THEN campaign_id WHEN campaign_id IS NULL THEN ? "
                "ELSE campaign_id || ',' || ? END WHERE id = ?",
                (state, campaign_id, campaign_id, campaign_id, send_id),
            )
            await conn.executemany(
                "UPDATE send_recipients SET message_id = ?, state = ?, raw_status = ?, error = ?, "
                "updated_at = ? WHERE send_id = ? AND number = ?",
                [
                    (r.message_id, r.state, r.raw_status, r.error, now_iso(), send_id, r.number)
                    for r in updates
                ],
            )
            if announce:
                await _queue_edits(conn, self.db.dialect, [send_id])
                await self._tell_outcome(conn, send_id)

    async def count_unknown(self) -> int:
        row = await self.db.fetchone("SELECT count(*) FROM sends WHERE state = 'unknown'")
        return int(row[0]) if row else 0

    async def unknown(self, max_lookups: int) -> list[tuple[int, str, int]]:
        """(id, confirmed at, look-ups so far) of unknown sends still to be looked up."""
        rows = await self.db.fetchall(
            "SELECT id, coalesce(confirmed_at, created_at), lookups FROM sends "
            "WHERE state = 'unknown' AND lookups < ? ORDER BY id",
            (max_lookups,),
        )
        return [(int(r[0]), str(r[1]), int(r[2])) for r in rows]

    async def interrupted(self, grace: float = 0.0) -> list[int]:
        """Sends a stopped process left ``sending``: the recipients whose request was out become
        unknown (they may have gone), and the ids of those sends are returned — their other
        recipients, still ``draft``, never left and are the caller's to send or settle.

        With replicas (a ``runner``), only the sends of a replica whose heartbeat lease ran out
        more than ``grace`` seconds ago, taken over by this one in the same commit."""
        alone = self.runner is None
        dead = (
            "runner IS NULL OR NOT EXISTS (SELECT 1 FROM leases WHERE name = 'replica:' || "
            f"runner AND expires_at >= {self.db.dialect.epoch} - ?)"
        )
        async with self.db.transaction() as conn:
            rows = await conn.execute_fetchall(
                "SELECT id FROM sends WHERE state = 'sending'"
                + ("" if alone else f" AND ({dead})"),
                () if alone else (grace,),
            )
            ids = [int(r[0]) for r in rows]
            if ids and not alone:
                await conn.execute(
                    f"UPDATE sends SET runner = ? WHERE id IN ({', '.join('?' * len(ids))})",
                    (self.runner, *ids),
                )
            if ids:
                await conn.execute(
                    f"UPDATE send_recipients SET state = 'unknown', error = 'interrupted', "
                    f"updated_at = ? WHERE state = 'sending' AND send_id IN "
                    f"({', '.join('?' * len(ids))})",
                    [now_iso(), *ids],
                )
        return ids

    async def update_delivery(
        self, account: str, updates: Iterable[tuple[str, str, str]]
    ) -> list[int]:
        """Apply (message_id, state, raw) reports of one account; returns the sends that changed,
        whose chat messages are queued for an edit in the same commit."""
        changed: set[int] = set()
        told: list[tuple[str, str | None, str | None, dict[str, Any]]] = []
        async with self.db.transaction() as conn:
            for message_id, state, raw in updates:
                rows = await conn.execute_fetchall(
                    "UPDATE send_recipients SET state = ?, raw_status = ?, updated_at = ? "
                    "WHERE message_id = ? AND (state != ? OR raw_status IS DISTINCT FROM ?) AND send_id IN "
                    "(SELECT id FROM sends WHERE account = ?) RETURNING send_id, number",
                    (state, raw, now_iso(), message_id, state, raw, account),
                )
                changed.update(int(r[0]) for r in rows)
                told += [
                    (
                        "delivery",
                        account,
                        None,
                        _delivered(int(r[0]), str(r[1]), message_id, state, raw),
                    )
                    for r in rows
                ]
            await _queue_edits(conn, self.db.dialect, sorted(changed))
            await self.events.add(conn, told)
        return sorted(changed)

    async def awaiting_delivery(self, since: str) -> list[int]:
        """Sends confirmed since ``since`` whose accepted recipients are not all final."""
        rows = await self.db.fetchall(
            "SELECT id FROM sends WHERE state IN ('sent', 'partial', 'unknown') AND confirmed_at >= ? "
            "AND EXISTS (SELECT 1 FROM send_recipients r WHERE r.send_id = sends.id "
            "AND r.message_id IS NOT NULL AND r.state NOT IN ('delivered', 'failed')) ORDER BY id",
            (since,),
        )
        return [int(r["id"]) for r in rows]

    async def owner_of(self, account: str, message_id: str) -> tuple[int, int] | None:
        """(user, chat) of the send of ``account`` that holds this provider message id."""
        row = await self.db.fetchone(
            "SELECT s.user_id, s.chat_id FROM send_recipients r JOIN sends s ON s.id = r.send_id "
            "WHERE s.account = ? AND r.message_id = ? LIMIT 1",
            (account, message_id),
        )
        return (int(row[0]), int(row[1])) if row else None

    async def sends_with_messages(self, account: str, message_ids: Sequence[str]) -> list[int]:
        """The sends of ``account`` that own any of these provider message ids."""
        if not message_ids:
            return []
        marks = ", ".join("?" * len(message_ids))
        rows = await self.db.fetchall(
            f"SELECT DISTINCT r.send_id FROM send_recipients r JOIN sends s ON s.id = r.send_id "
            f"WHERE s.account = ? AND r.message_id IN ({marks}) ORDER BY r.send_id",
            (account, *message_ids),
        )
        return [int(r[0]) for r in rows]

    async def recent(self, limit: int) -> list[SendRow]:
        """The latest sends that were confirmed (drafts and cancelled previews left out)."""
        return await self._select(
            "state NOT IN ('draft', 'armed', 'cancelled')",
            (),
            f"ORDER BY id DESC LIMIT {int(limit)}",
        )

    async def scheduled(self, account: str, after: str) -> list[SendRow]:
        """Sends of ``account`` accepted for a time after ``after`` (ISO), soonest first."""
        return await self._select(
            "account = ? AND send_at IS NOT NULL AND send_at > ? AND state IN ('sent', 'partial')",
            (account, after),
            "ORDER BY send_at",
        )


def _delivered(send_id: int, number: str, message_id: str, state: str, raw: str) -> dict[str, Any]:
    """A ``delivery`` event's data (docs/webhooks.md)."""
    return {
        "send_id": send_id,
        "number": number,
        "message_id": message_id,
        "state": state,
        "raw": raw,
    }


async def _queue_edits(conn: Connection, dialect: Dialect, send_ids: Sequence[int]) -> None:
    """Outbox rows that edit these sends' chat messages to their state once committed (the
    outbox renders at delivery time, so one row carries every change queued before it)."""
    if not send_ids:
        return
    marks = ", ".join("?" * len(send_ids))
    await conn.execute(
        "INSERT INTO outbox (chat_id, send_id, payload, created_at) "
        f"SELECT chat_id, id, {dialect.send_payload('id')}, ? FROM sends "
        f"WHERE chat_message_id IS NOT NULL AND id IN ({marks})",
        (time.time(), *send_ids),
    )
