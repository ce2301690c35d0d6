"""Sending SMS: a draft with its preview, one confirmation (or two for bulk), then the provider."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import jdatetime

from providers import numbers
from providers.base import (
    GROUP_PREFIX,
    Capability,
    InvalidRecipient,
    NotSupported,
    Outcome,
    OutgoingSms,
    ProviderError,
    RecipientResult,
    SendResult,
    SmsProvider,
)
from providers.outcome import outcome_of, results_for
from providers.text import analyze
from providers.timeutil import TEHRAN
from storage.inbound import InboundRepo
from storage.optouts import OptOut, OptoutsRepo
from storage.sends import Claim, ClaimStatus, Recipient, SendRow, SendsRepo, SendState

from .config import Config, SmsirAccount
from .metrics import Metrics

if TYPE_CHECKING:
    from .sheets import Plan

log = logging.getLogger("smsbridge.send")
CANCELLATION_CHECKS = 20  # numbers a preview looks up on the operator's cancellation list
FILE_INVALID_SHOWN = 10  # a file's invalid rows named in its preview; the rest are counted
PROGRESS_EVERY = 3.0  # seconds between edits of a long send's progress
_TARGET = re.compile(r"([a-z0-9_-]+):(\S*)")


_STATE = {Outcome.ACCEPTED: "queued", Outcome.FAILED: "failed", Outcome.UNKNOWN: "unknown"}


def recipient_row(item: RecipientResult) -> Recipient:
    """How a recipient's outcome is stored: accepted ones start ``queued`` for delivery."""
    return Recipient(
        item.number, item.message_id, _STATE[item.outcome], error=None if item.ok else item.error
    )


def outcome(recipient: Recipient) -> Outcome:
    """A stored recipient's outcome: a message id means accepted, whatever its delivery since."""
    if recipient.message_id:
        return Outcome.ACCEPTED
    return Outcome.UNKNOWN if recipient.state == "unknown" else Outcome.FAILED


def send_state(outcomes: Iterable[Outcome]) -> SendState:
    """A send's state from its recipients' outcomes: ``unknown`` while any is unknown, ``sent``
    when all were accepted, ``failed`` when none was, else ``partial``."""
    found = list(outcomes)
    if not found:
        return SendState.FAILED
    if Outcome.UNKNOWN in found:
        return SendState.UNKNOWN
    accepted = found.count(Outcome.ACCEPTED)
    if accepted == len(found):
        return SendState.SENT
    return SendState.PARTIAL if accepted else SendState.FAILED


def _ends_send(exc: ProviderError) -> bool:
    """A refusal every later request of the send would meet too (credit, credentials, line)."""
    return outcome_of(exc) is Outcome.FAILED and not isinstance(exc, InvalidRecipient)


def sms_of(row: SendRow) -> OutgoingSms:
    """The send as it went (or goes) to the provider, recipients in their stored order."""
    return OutgoingSms(
        row.line,
        tuple(r.number for r in row.recipients),
        row.text,
        send_at=datetime.fromisoformat(row.send_at) if row.send_at else None,
        reference=row.reference,
    )


class UserError(Exception):
    """Bad input from a person: ``key`` and ``values`` make the sentence shown to them."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


class NothingSendable(UserError):
    """The provider refuses every recipient; ``refused`` holds (recipient, reason key)."""

    def __init__(self, account: str, refused: list[tuple[str, str]]) -> None:
        super().__init__("send.none_accepted")
        self.account = account
        self.refused = refused


@dataclass(frozen=True, slots=True)
class ParsedSend:
    target: str | None
    recipients: tuple[str, ...]
    text: str
    send_at: datetime | None = None


_TIME = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[T_ ](\d{1,2}):(\d{2}))?")


def parse_time(value: str) -> datetime:
    """``2026-12-01 14:30`` (Gregorian) or ``1405/09/10 14:30`` (Jalali: years before 1700), in
    Tehran time, in any digit script; a date alone means 09:00."""
    match = _TIME.fullmatch(numbers.to_ascii_digits(value.strip()))
    if match is None:
        raise UserError("send.bad_time", value=value)
    year, month, day = (int(match.group(i)) for i in (1, 2, 3))
    hour, minute = int(match.group(4) or 9), int(match.group(5) or 0)
    try:
        if year < 1700:
            moment: datetime = jdatetime.datetime(year, month, day, hour, minute).togregorian()
        else:
            moment = datetime(year, month, day, hour, minute)
    except ValueError as exc:
        raise UserError("send.bad_time", value=value) from exc
    return moment.replace(tzinfo=TEHRAN)


def split_target(text: str, accounts: Iterable[str]) -> tuple[str | None, str]:
    """An optional ``account:line`` before a text (a file's caption): (target, the rest). Only
    an account's name counts, so that a text that starts with "note:" stays a text."""
    head, _, rest = text.strip().partition(" ")
    match = _TARGET.fullmatch(head.lower())
    if match is not None and match.group(1) in set(accounts):
        return head.lower(), rest.strip()
    return None, text.strip()


def _is_recipient(token: str) -> bool:
    """A number, ``group:<id>``, or ``@label`` / ``@name`` from the phonebook."""
    first = numbers.to_ascii_digits(token[:1])
    if token.startswith("@"):
        return len(token) > 1 and not numbers.to_ascii_digits(token[1]).isdecimal()
    return first.isdecimal() or token.startswith("+") or token.startswith("group:")


def parse_send(args: str) -> ParsedSend:
    """docs/spec.md §8: ``[account:line] <recipients…> <text>``; the text starts at the first token that
    does not look like a recipient, or after the first newline."""
    head, newline, tail = args.strip().partition("\n")
    tokens = list(re.finditer(r"\S+", head))
    target = None
    if (
        tokens
        and _TARGET.fullmatch(tokens[0].group())
        and not tokens[0].group().startswith("group:")
    ):
        target = tokens.pop(0).group()
    send_at = None
    if tokens and re.match(r"@[0-9۰-۹٠-٩]", tokens[0].group()):  # @2026-12-01 14:30: a time
        when = tokens.pop(0).group()[1:]
        if tokens and re.fullmatch(r"[0-9۰-۹٠-٩]{1,2}:[0-9۰-۹٠-٩]{2}", tokens[0].group()):
            when += " " + tokens.pop(0).group()
        send_at = parse_time(when)
    recipients: list[str] = []
    while tokens and _is_recipient(tokens[0].group()):
        recipients.extend(p for p in re.split(r"[,،]+", tokens.pop(0).group()) if p)
    text = head[tokens[0].start() :] if tokens else ""
    if newline:
        text = f"{text}\n{tail}" if text else tail
    return ParsedSend(target, tuple(_merge_split_numbers(recipients)), text.strip(), send_at)


def _merge_split_numbers(tokens: Sequence[str]) -> list[str]:
    """``+98 912 123 4567`` arrives as four tokens: join neighbours that only make sense together."""
    merged: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.startswith("group:") or numbers.is_valid(token):
            merged.append(token)
            index += 1
            continue
        for end in range(index + 2, min(len(tokens), index + 4) + 1):
            joined = "".join(tokens[index:end])
            if numbers.is_valid(joined):
                merged.append(joined)
                index = end
                break
        else:
            merged.append(token)
            index += 1
    return merged


def split_recipients(raw: Sequence[str]) -> tuple[list[str], list[str]]:
    """(canonical numbers and ``group:<id>`` without duplicates, in order; the invalid entries
    as typed)."""
    valid: list[str] = []
    invalid: list[str] = []
    for entry in raw:
        group = numbers.to_ascii_digits(entry).removeprefix(GROUP_PREFIX)
        try:
            if entry.startswith(GROUP_PREFIX) and group.isdecimal():
                canonical = GROUP_PREFIX + str(int(group))
            else:
                canonical = numbers.normalize(entry)
        except numbers.InvalidNumber:
            if entry not in invalid:
                invalid.append(entry)
            continue
        if canonical not in valid:
            valid.append(canonical)
    return valid, invalid


def tehran_day_start(now: datetime | None = None) -> str:
    """The start of today in Tehran, as the UTC ISO string the sends table uses."""
    local = (now or datetime.now(UTC)).astimezone(TEHRAN)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return start.astimezone(UTC).isoformat(timespec="seconds")


class SendService:
    def __init__(
        self,
        config: Config,
        providers: Mapping[str, SmsProvider],
        repo: SendsRepo,
        metrics: Metrics | None = None,
        inbound: InboundRepo | None = None,
        on_sent: Callable[[SendRow], None] = lambda row: None,
        optouts: OptoutsRepo | None = None,
        on_progress: Callable[[], None] = lambda: None,
    ) -> None:
        self.config = config
        self.providers = providers
        self.repo = repo
        self.metrics = metrics
        self.inbound = inbound
        self.optouts = optouts
        self.on_sent = on_sent  # after a provider call: follow delivery, check credit…
        self.on_progress = on_progress  # an edit of a send's chat message was queued
        self._progress_at: dict[int, float] = {}

    # --- the sends a person looks at: the services own the bookkeeping, handlers only ask

    async def get(self, send_id: int) -> SendRow | None:
        return await self.repo.get(send_id)

    async def recent(self, limit: int) -> list[SendRow]:
        """The latest sends that went to a provider (previews left out), newest first."""
        return await self.repo.recent(limit)

    async def scheduled(self, account: str) -> list[SendRow]:
        """The bridge's sends of ``account`` still waiting for their time, soonest first."""
        return await self.repo.scheduled(account, datetime.now(UTC).isoformat())

    async def owner_of(self, account: str, message_id: str) -> tuple[int, int] | None:
        """(user, chat) of the bridge's send that holds this provider message id."""
        return await self.repo.owner_of(account, message_id)

    async def shown_as(self, send_id: int, message_id: int) -> None:
        """The chat message that shows this send (its preview, later its result)."""
        await self.repo.set_chat_message(send_id, message_id)

    async def cancel(self, send_id: int, user_id: int) -> bool:
        """Cancel a preview (only its author's, only before it went out)."""
        return await self.repo.cancel(send_id, user_id)

    async def reply_to(self, row: SendRow) -> str | None:
        """The customer a send answers, when it is a reply to a forwarded SMS."""
        if self.inbound is None or row.inbound_id is None:
            return None
        sms = await self.inbound.get(row.inbound_id)
        return sms.sender if sms else None

    async def set_optout(
        self, account: str, number: str, out: bool, *, user_id: int, chat_id: int
    ) -> bool:
        """/optout add|del: True when it changed anything (audited)."""
        assert self.optouts is not None
        return await self.optouts.set(account, number, out, user_id=user_id, chat_id=chat_id)

    async def optout_listing(self, limit: int) -> list[OptOut]:
        assert self.optouts is not None
        return await self.optouts.listing(None, limit)

    async def optout_count(self) -> int:
        return await self.optouts.count() if self.optouts else 0

    async def opted_out(self, account: str, numbers: Sequence[str]) -> set[str]:
        """Which of ``numbers`` asked ``account`` not to text them."""
        return await self.optouts.among(account, numbers) if self.optouts else set()

    async def _consent(
        self,
        account: str,
        numbers: list[str],
        *,
        override: bool,
        user_id: int,
        chat_id: int,
    ) -> tuple[list[str], list[tuple[str, str]], str | None]:
        """The numbers a send may go to, those it skips because they opted out, and the one
        opted-out number it goes to by an admin's override (audited, and stored with the draft
        so that its confirmation sends to that number and to no other opted-out one). In a send
        to several, opted-out numbers are always skipped."""
        opted = await self.opted_out(account, numbers)
        if not opted:
            return numbers, [], None
        if override and len(numbers) == 1 and self.optouts is not None:
            await self.optouts.overridden(account, numbers[0], user_id=user_id, chat_id=chat_id)
            return numbers, [], numbers[0]
        kept = [n for n in numbers if n not in opted]
        if not kept:
            raise UserError("send.opted_out", account=account, count=len(opted))
        return kept, [(n, "opted_out") for n in numbers if n in opted], None

    async def _cancellations(
        self, provider: SmsProvider, line: str, numbers_: list[str]
    ) -> tuple[list[str], list[tuple[str, str]]]:
        """The numbers on the operator's cancellation list of ``line`` (where the provider has
        one) are skipped, each named in the preview. The provider answers one number per
        request, so only a send to at most ``CANCELLATION_CHECKS`` numbers is checked; a failed
        check leaves the send as it was (the provider refuses such a number itself)."""
        phones = [n for n in numbers_ if not n.startswith(GROUP_PREFIX)]
        wanted = Capability.CANCELLATIONS in provider.capabilities
        if not wanted or not phones or len(phones) > CANCELLATION_CHECKS:
            return numbers_, []
        try:
            listed = await provider.cancelled(line, phones)
        except ProviderError as exc:
            log.info("the cancellation list of %s could not be read: %s", provider.account, exc)
            return numbers_, []
        kept = [n for n in numbers_ if not listed.get(n)]
        if not kept:
            raise UserError("send.cancelled_line", account=provider.account, line=line)
        return kept, [(n, "cancelled_line") for n in numbers_ if listed.get(n)]

    def resolve(self, target: str | None) -> tuple[str, str]:
        """(account, line) for an optional ``account:line``; the first account is the default."""
        name, _, line = (target or "").partition(":")
        account = self.config.account(name) if name else self.config.accounts[0]
        if account is None:
            raise UserError(
                "send.unknown_account",
                account=name,
                accounts=", ".join(a.name for a in self.config.accounts),
            )
        chosen = line or account.line
        if chosen is None and isinstance(account, SmsirAccount):
            return account.name, ""  # White SMS sends from the product's own line
        if chosen is None:
            raise UserError("send.no_line", account=account.name)
        known = {ln.lower(): ln for ln in account.lines}
        if account.lines and chosen.lower() not in known:
            raise UserError(
                "send.unknown_line",
                line=chosen,
                account=account.name,
                lines=", ".join(account.lines),
            )
        return account.name, known.get(chosen.lower(), chosen)

    async def prepare(
        self,
        *,
        user_id: int,
        chat_id: int,
        target: str | None,
        recipients: Sequence[str],
        text: str,
        reply_to_message_id: int | None = None,
        inbound_id: int | None = None,
        send_at: datetime | None = None,
        override_optout: bool = False,
    ) -> SendRow:
        """A draft and its preview. ``override_optout``: the caller is an admin, who may send to
        one number that opted out (the preview says so; confirming is the override)."""
        account, line = self.resolve(target)
        if not text.strip():
            raise UserError("send.no_text")
        if send_at is not None:
            if Capability.SCHEDULE not in self.providers[account].capabilities:
                raise UserError("send.no_schedule", account=account)
            if send_at <= datetime.now(UTC) + timedelta(minutes=1):
                raise UserError("send.past_time")
        provider = self.providers[account]
        parts = analyze(text).parts
        if provider.max_parts is not None and parts > provider.max_parts:
            raise UserError("send.too_long", account=account, parts=parts, most=provider.max_parts)
        valid, invalid = split_recipients(recipients)
        if not valid:
            raise UserError("send.no_valid", invalid=", ".join(invalid) or "—")
        valid, skipped, overridden = await self._consent(
            account, valid, override=override_optout, user_id=user_id, chat_id=chat_id
        )
        valid, cancelled = await self._cancellations(provider, line, valid)
        skipped += cancelled
        audience = await provider.audience(valid)
        if not audience.accepted:
            raise NothingSendable(account, list(audience.refused))
        if audience.count == 0:  # contacts that are not reachable yet (sms.ir's waiting period)
            raise UserError("send.nobody_reachable", account=account)
        estimate = None
        if Capability.PRICE in provider.capabilities:
            try:
                estimate = await provider.estimate_price(OutgoingSms(line, audience.accepted, text))
            except ProviderError as exc:  # an estimate is a nicety; the send decides
                log.info("no price estimate for %s: %s", account, exc)
        send_id = await self.repo.create_draft(
            user_id=user_id,
            chat_id=chat_id,
            account=account,
            line=line,
            text=text,
            recipients=audience.accepted,
            invalid=invalid,
            price_estimate=estimate,
            reply_to_message_id=reply_to_message_id,
            inbound_id=inbound_id,
            audience=audience.count,
            refused=[*audience.refused, *skipped],
            optout_override=overridden,
            send_at=send_at.astimezone(UTC).isoformat() if send_at else None,
        )
        row = await self.repo.get(send_id)
        assert row is not None
        return row

    async def prepare_file(
        self,
        *,
        user_id: int,
        chat_id: int,
        target: str | None,
        plan: Plan,
        text: str,
        file_name: str,
    ) -> SendRow:
        """A draft from a file: one text for all, or a text per row (the provider's per-recipient
        method: an account without it is refused by name). Opted-out numbers are skipped — no
        override in a send to many. The preview's figures are kept with the draft."""
        account, line = self.resolve(target)
        provider = self.providers[account]
        texts = plan.texts
        need = Capability.SEND_P2P if texts is not None else Capability.SEND
        if need not in provider.capabilities:
            raise NotSupported(account, need)
        if not plan.numbers:
            raise UserError("file.nobody", rows=plan.rows, invalid=len(plan.invalid))
        each = texts if texts is not None else [text]
        infos = await asyncio.to_thread(lambda: [analyze(t) for t in each])  # 50,000 texts
        widest = max(range(len(infos)), key=lambda i: (infos[i].parts, infos[i].length))
        longest = infos[widest]
        if provider.max_parts is not None and longest.parts > provider.max_parts:
            raise UserError(
                "send.too_long", account=account, parts=longest.parts, most=provider.max_parts
            )
        opted = await self.opted_out(account, plan.numbers)
        keep = [i for i, n in enumerate(plan.numbers) if n not in opted]
        if not keep:
            raise UserError("send.opted_out", account=account, count=len(opted))
        # The provider's own refusals (sms.ir's White SMS reaches its phonebook only).
        audience = await provider.audience([plan.numbers[i] for i in keep])
        if not audience.accepted:
            raise NothingSendable(account, list(audience.refused))
        reachable = set(audience.accepted)
        keep = [i for i in keep if plan.numbers[i] in reachable]
        recipients = [plan.numbers[i] for i in keep]
        kept_texts = [texts[i] for i in keep] if texts is not None else None
        parts = (
            sum(infos[i].parts for i in keep) if texts is not None else len(keep) * longest.parts
        )
        estimate = await self._estimate(provider, line, recipients[0], each[widest], parts)
        send_id = await self.repo.create_draft(
            user_id=user_id,
            chat_id=chat_id,
            account=account,
            line=line,
            text=text,
            recipients=recipients,
            texts=kept_texts,
            invalid=[],
            price_estimate=estimate,
            refused=[*((n, "opted_out") for n in plan.numbers if n in opted), *audience.refused],
            file_info={
                "name": file_name,
                "rows": plan.rows,
                "duplicates": plan.duplicates,
                "invalid": [[i.row, i.value, i.reason] for i in plan.invalid[:FILE_INVALID_SHOWN]],
                "invalid_count": len(plan.invalid),
                "parts": parts,
                "longest_parts": longest.parts,
                "longest_length": longest.length,
            },
        )
        row = await self.repo.get(send_id)
        assert row is not None
        return row

    async def _estimate(
        self, provider: SmsProvider, line: str, number: str, longest: str, parts: int
    ) -> float | None:
        """What a file send may cost: the provider's price for the longest text to one number,
        per part, times every part (texts differ in length; the provider prices by part)."""
        if Capability.PRICE not in provider.capabilities:
            return None
        try:
            one = await provider.estimate_price(OutgoingSms(line, (number,), longest))
        except ProviderError as exc:
            log.info("no price estimate for %s: %s", provider.account, exc)
            return None
        return None if one is None else one / max(1, analyze(longest).parts) * parts

    async def claim(
        self,
        send_id: int,
        user_id: int,
        count: int,
        *,
        second: bool = False,
        chat_id: int | None = None,
    ) -> Claim:
        """Confirm a draft (``second``: the bulk send's second confirmation, its own step)."""
        return await self.repo.claim(
            send_id,
            user_id,
            quota=self.config.access.daily_quota,
            day_start=tehran_day_start(),
            needs_second_confirm=count > self.config.access.bulk_confirm_threshold,
            second=second,
            chat_id=chat_id,
        )

    async def direct(
        self,
        *,
        user_id: int,
        chat_id: int,
        account: str,
        number: str,
        label: str,
        capability: Capability,
        call: Callable[[SmsProvider, str], Awaitable[str | None]],
        override_optout: bool = False,
    ) -> str | None:
        """A one-recipient send with no preview (an OTP, a pattern): quota, audit and the
        stored record as for /send; ``call(provider, reference)`` talks to the provider and
        returns the message id.
        ``label`` is what is stored as the text (never the code itself). An account without
        ``capability`` is refused before anything is recorded or counted."""
        provider = self.providers[account]
        if capability not in provider.capabilities:
            raise NotSupported(account, capability)
        valid, invalid = split_recipients([number])
        if not valid:
            raise UserError("send.no_valid", invalid=", ".join(invalid) or "—")
        valid, _, overridden = await self._consent(
            account, valid, override=override_optout, user_id=user_id, chat_id=chat_id
        )
        cfg = self.config.account(account)
        line = cfg.line if cfg is not None else None
        send_id = await self.repo.create_draft(
            user_id=user_id,
            chat_id=chat_id,
            account=account,
            line=line or "",
            text=label,
            recipients=valid,
            invalid=[],
            optout_override=overridden,
        )
        claim = await self.claim(send_id, user_id, 1)
        if claim.status is ClaimStatus.QUOTA:
            await self.repo.cancel(send_id, user_id)
            raise UserError(
                "confirm.quota", quota=self.config.access.daily_quota, used=claim.used_today
            )
        draft = await self.repo.get(send_id)
        assert draft is not None
        try:
            message_id = await call(provider, draft.reference)
        except ProviderError as exc:
            await self._record(send_id, account, results_for(valid, exc), error=exc.code)
            raise
        result = (
            RecipientResult.accepted(valid[0], message_id)
            if message_id
            else RecipientResult.unknown(valid[0], "no_id")
        )
        await self._record(send_id, account, [result])
        return message_id

    async def _record(
        self,
        send_id: int,
        account: str,
        results: Sequence[RecipientResult],
        *,
        error: str | None = None,
    ) -> SendRow:
        """Store a one-request send's outcome and its state from it (``direct``)."""
        await self.repo.record_result(send_id, results=[recipient_row(r) for r in results])
        self._count(account, results)
        return await self._finish(send_id, error)

    def _count(self, account: str, results: Sequence[RecipientResult]) -> None:
        if self.metrics is not None:
            for r in results:
                self.metrics.outbound.labels(account=account, result=r.outcome.value).inc()

    async def _finish(self, send_id: int, error: str | None, *, announce: bool = False) -> SendRow:
        """Every request of the send is done: its state from its recipients' outcomes; then its
        follow-up (delivery, credit, look-ups) is set going."""
        row = await self.repo.get(send_id)
        assert row is not None
        state = send_state(outcome(r) for r in row.recipients)
        await self.repo.record_result(
            send_id,
            results=[],
            state=state,
            error=error if state is not SendState.SENT else None,
            announce=announce,
        )
        row = await self.repo.get(send_id)
        assert row is not None
        log.info(
            "send %s on %s: %s (%d recipient(s))",
            send_id,
            row.account,
            row.state.value,
            len(row.recipients),
            extra={"send_id": send_id, "account": row.account},
        )
        self.on_sent(row)
        return row

    async def execute(
        self, row: SendRow, *, announce: bool = False
    ) -> tuple[SendRow, ProviderError | None]:
        """Send what is still to go, one request per ``provider.batch`` recipients, and record
        each recipient by the outcome rule (``providers/outcome.py``). Each request's recipients
        are marked before it leaves and recorded when it answers, so a restart resumes with the
        recipients that never left and never repeats one that may have. A refusal that is the
        account's (credit, credentials, line) fails the recipients still to go without asking
        again. ``announce``: the outcome reaches the chat through the outbox (no handler is there
        to edit the message: a send resumed after a restart). Returns the send and the first
        provider error."""
        provider = self.providers[row.account]
        pending = [r for r in row.recipients if r.state == "draft"]
        # A number that opted out after the preview was shown is skipped still; only the number
        # an admin overrode for at the preview goes.
        late = await self.opted_out(row.account, [r.number for r in pending])
        late.discard(row.optout_override or "")
        if late:
            skipped = [
                RecipientResult.refused(r.number, "opted_out") for r in pending if r.number in late
            ]
            await self.repo.record_result(row.id, results=[recipient_row(r) for r in skipped])
            self._count(row.account, skipped)
            pending = [r for r in pending if r.number not in late]
        first_error: ProviderError | None = None
        size = provider.batch or len(pending) or 1
        requests = [pending[i : i + size] for i in range(0, len(pending), size)]
        if requests and not await self.repo.mark_sending(row.id, [r.number for r in requests[0]]):
            return await self._taken_over(row.id), None
        for index, chunk in enumerate(requests):
            numbers_ = [r.number for r in chunk]
            campaign, price = None, None
            if first_error is not None and _ends_send(first_error):
                results = results_for(numbers_, first_error)  # never asked: they did not leave
            else:
                try:
                    result = await self._request(provider, row, chunk)
                except ProviderError as exc:
                    first_error = first_error or exc
                    results = results_for(numbers_, exc)
                else:
                    results, campaign, price = list(result.items), result.campaign_id, result.price
            following = requests[index + 1] if index + 1 < len(requests) else []
            stopping = first_error is not None and _ends_send(first_error)
            ours = await self.repo.record_result(
                row.id,
                results=[recipient_row(r) for r in results],
                campaign_id=campaign,
                price=price,
                sending_next=[] if stopping else [r.number for r in following],
            )
            self._count(row.account, results)
            if not ours:
                return await self._taken_over(row.id), first_error
            if following:
                await self._progress(row.id)
        # A progress edit the outbox renders late must not be the last word: queue the final one.
        progressed = self._progress_at.pop(row.id, None) is not None
        error = first_error.code if first_error else "opted_out" if late and not pending else None
        final = await self._finish(row.id, error, announce=announce or progressed)
        return final, first_error

    async def _taken_over(self, send_id: int) -> SendRow:
        """Another replica took this send over (ours looked dead to it): it goes on with it."""
        log.warning("send %s was taken over by another replica, which finishes it", send_id)
        row = await self.repo.get(send_id)
        assert row is not None
        return row

    async def _request(
        self, provider: SmsProvider, row: SendRow, chunk: Sequence[Recipient]
    ) -> SendResult:
        """One send request: a text per recipient where the send has them, else one text."""
        send_at = datetime.fromisoformat(row.send_at) if row.send_at else None
        if row.personalised:
            items = [(r.number, r.text or row.text) for r in chunk]
            return await provider.send_p2p(row.line, items, send_at, reference=row.reference)
        sms = OutgoingSms(
            row.line, tuple(r.number for r in chunk), row.text, send_at, reference=row.reference
        )
        return await provider.send(sms)

    async def _progress(self, send_id: int) -> None:
        """Between requests of a send of many: its chat message shows how far it got, edited at
        most every ``PROGRESS_EVERY`` seconds (the outbox paces the edits as Telegram allows)."""
        now = time.monotonic()
        if now - self._progress_at.get(send_id, 0.0) < PROGRESS_EVERY:
            return
        self._progress_at[send_id] = now
        await self.repo.queue_edit(send_id)
        self.on_progress()

    async def recover(self, grace: float = 0.0) -> list[SendRow]:
        """At start (and, with replicas, whenever one dies), for the sends a stopped process
        left ``sending``: the recipients whose request was out are unknown now; a send with
        recipients that never left is returned to be resumed (``execute``); the others get
        their state, and their chat messages an edit."""
        resumable: list[SendRow] = []
        for send_id in await self.repo.interrupted(grace):
            row = await self.repo.get(send_id)
            assert row is not None
            if any(r.state == "draft" for r in row.recipients):
                log.warning(
                    "send %s was interrupted: resuming with the recipients still to go", send_id
                )
                resumable.append(row)
            else:
                log.warning(
                    "send %s was interrupted during the provider call: outcome unknown", send_id
                )
                await self._finish(send_id, "interrupted", announce=True)
        return resumable
