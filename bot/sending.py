"""Sending SMS: a draft with its preview, one confirmation (or two for bulk), then the provider."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from providers import numbers
from providers.base import (
    GROUP_PREFIX,
    Capability,
    OutcomeUnknown,
    OutgoingSms,
    ProviderError,
    RecipientResult,
    SmsProvider,
)
from providers.timeutil import TEHRAN
from storage.sends import Claim, Recipient, SendRow, SendsRepo

from .config import Config, SmsirAccount
from .metrics import Metrics

log = logging.getLogger("smsbridge.send")
_TARGET = re.compile(r"([a-z0-9_-]+):(\S*)")


def _item_state(item: RecipientResult) -> str:
    if item.ok:
        return "queued"
    return "unknown" if item.error == "unknown" else "failed"


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


def _is_recipient(token: str) -> bool:
    first = numbers.to_ascii_digits(token[:1])
    return first.isdigit() or token.startswith("+") or token.startswith("group:")


def parse_send(args: str) -> ParsedSend:
    """SPEC §8: ``[account:line] <recipients…> <text>``; the text starts at the first token that
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
    recipients: list[str] = []
    while tokens and _is_recipient(tokens[0].group()):
        recipients.extend(p for p in re.split(r"[,،]+", tokens.pop(0).group()) if p)
    text = head[tokens[0].start() :] if tokens else ""
    if newline:
        text = f"{text}\n{tail}" if text else tail
    return ParsedSend(target, tuple(_merge_split_numbers(recipients)), text.strip())


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
            if entry.startswith(GROUP_PREFIX) and group.isdigit():
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
    ) -> None:
        self.config = config
        self.providers = providers
        self.repo = repo
        self.metrics = metrics

    def resolve(self, target: str | None) -> tuple[str, str]:
        """(account, line) for an optional ``account:line``; the first account is the default."""
        name, _, line = (target or "").partition(":")
        account = self.config.account(name) if name else self.config.accounts[0]
        if account is None:
            raise UserError(
                "send.unknown_account", account=name,
                accounts=", ".join(a.name for a in self.config.accounts),
            )  # fmt: skip
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
    ) -> SendRow:
        account, line = self.resolve(target)
        if not text.strip():
            raise UserError("send.no_text")
        valid, invalid = split_recipients(recipients)
        if not valid:
            raise UserError("send.no_valid", invalid=", ".join(invalid) or "—")
        provider = self.providers[account]
        audience = await provider.audience(valid)
        if not audience.accepted:
            raise NothingSendable(account, list(audience.refused))
        estimate = None
        if Capability.PRICE in provider.capabilities:
            try:
                estimate = await provider.estimate_price(OutgoingSms(line, audience.accepted, text))
            except ProviderError as exc:  # an estimate is a nicety; the send decides
                log.info("no price estimate for %s: %s", account, exc)
        send_id = await self.repo.create_draft(
            user_id=user_id, chat_id=chat_id, account=account, line=line, text=text,
            recipients=audience.accepted, invalid=invalid, price_estimate=estimate,
            reply_to_message_id=reply_to_message_id, inbound_id=inbound_id,
            audience=audience.count, refused=audience.refused,
        )  # fmt: skip
        row = await self.repo.get(send_id)
        assert row is not None
        return row

    async def claim(self, send_id: int, user_id: int, count: int) -> Claim:
        return await self.repo.claim(
            send_id,
            user_id,
            quota=self.config.access.daily_quota,
            day_start=tehran_day_start(),
            needs_second_confirm=count > self.config.access.bulk_confirm_threshold,
        )

    async def execute(self, row: SendRow) -> tuple[SendRow, ProviderError | None]:
        """Call the provider once. After a possible arrival the send is never repeated."""
        provider = self.providers[row.account]
        sms = OutgoingSms(
            row.line, tuple(r.number for r in row.recipients), row.text, reference=row.reference
        )
        error: ProviderError | None = None
        try:
            result = await provider.send(sms)
        except OutcomeUnknown as exc:
            error = exc
            await self.repo.record_result(
                row.id, state="unknown", error=exc.code,
                results=[Recipient(r.number, None, "unknown") for r in row.recipients],
            )  # fmt: skip
        except ProviderError as exc:
            error = exc
            await self.repo.record_result(
                row.id, state="failed", error=exc.code,
                results=[Recipient(r.number, None, "failed", error=exc.code) for r in row.recipients],
            )  # fmt: skip
        else:
            ok = sum(1 for i in result.items if i.ok)
            unknown = sum(1 for i in result.items if i.error == "unknown")
            state = "sent" if ok == len(result.items) else ("partial" if ok else "failed")
            if unknown and not ok and unknown == len(result.items):
                state = "unknown"
            await self.repo.record_result(
                row.id, state=state, campaign_id=result.campaign_id, price=result.price,
                results=[Recipient(i.number, i.message_id, _item_state(i), error=i.error)
                         for i in result.items],
            )  # fmt: skip
        final = await self.repo.get(row.id)
        assert final is not None
        if self.metrics is not None:
            for r in final.recipients:
                outcome = "accepted" if r.message_id else r.state
                self.metrics.outbound.inc(account=row.account, result=outcome)
        return final, error
