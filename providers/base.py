"""What every SMS provider client offers: capabilities, domain models and the error tree.

Error tree (every provider outcome is mapped onto it before it leaves a provider module)::

    ProviderError                 any failure; ``account`` names the account, ``code`` the raw value
    ├── ProviderUnavailable       transport failure, timeout, 5xx, "server down" inside a 200; retryable
    │   ├── Unreachable           the request never left: no connection was made (safe to retry)
    │   └── OutcomeUnknown        a send whose request may have reached the provider: never resend
    ├── ProviderRejected          the provider understood and said no
    │   ├── AuthFailed            token, credentials, IP or permission
    │   ├── InsufficientCredit
    │   ├── InvalidRecipient
    │   ├── RateLimited           ``retry_after`` seconds when known
    │   └── NotSupported          the provider has no such capability (``capability``)
    └── ProviderProtocolError     a body we cannot decode or that has an unexpected shape

Whether a failed send went out is decided by one rule, in ``providers/outcome.py``.

Each error carries ``detail``: a short human sentence in Persian and English (``detail_fa``) taken
from the provider's own code table, so the bot can tell a person what went wrong.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple, Protocol, runtime_checkable


class Capability(enum.Enum):
    BALANCE = "balance"
    SEND = "send"
    SEND_P2P = "send_p2p"
    OTP = "otp"
    PATTERN = "pattern"
    SCHEDULE = "schedule"
    CANCEL_SCHEDULED = "cancel_scheduled"
    DELIVERY = "delivery"
    INBOUND_POLL = "inbound_poll"
    RELAY = "relay"
    PRICE = "price"
    CONTACT_GROUPS = "contact_groups"
    DRAFTS = "drafts"
    FIND_SENT = "find_sent"  # look a send up in the provider's records after a lost answer
    CANCELLATIONS = "cancellations"  # the operator's list of numbers that cancelled a line


class DeliveryState(enum.StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    UNKNOWN = "unknown"

    @property
    def final(self) -> bool:
        return self in (DeliveryState.DELIVERED, DeliveryState.FAILED)


# ---------------------------------------------------------------------------------------- errors


class ProviderError(Exception):
    """A provider call failed; ``str()`` never contains a credential."""

    def __init__(
        self,
        account: str,
        code: str = "",
        detail: str = "",
        detail_fa: str = "",
    ) -> None:
        self.account = account
        self.code = code
        self.detail = detail or code
        self.detail_fa = detail_fa or self.detail
        super().__init__(
            f"{account}: {self.detail}" + (f" ({code})" if code and code != detail else "")
        )


class ProviderUnavailable(ProviderError):
    pass


class Unreachable(ProviderUnavailable):
    """The connection was never made, so the request cannot have reached the provider."""


class OutcomeUnknown(ProviderUnavailable):
    """A send whose request may have reached the provider: its recipients are unknown."""


class ProviderRejected(ProviderError):
    pass


class AuthFailed(ProviderRejected):
    pass


class InsufficientCredit(ProviderRejected):
    pass


class InvalidRecipient(ProviderRejected):
    pass


class RateLimited(ProviderRejected):
    def __init__(self, account: str, code: str = "", detail: str = "", retry_after: float = 0):
        super().__init__(account, code, detail)
        self.retry_after = retry_after


class NotSupported(ProviderRejected):
    def __init__(self, account: str, capability: Capability) -> None:
        self.capability = capability
        super().__init__(account, "not_supported", f"cannot {capability.value}")


class ProviderProtocolError(ProviderError):
    pass


class ErrorCode(NamedTuple):
    """One row of a provider's code table: the error it is, in English and in Persian."""

    kind: type[ProviderError]
    en: str
    fa: str

    def error(self, account: str, code: str) -> ProviderError:
        return self.kind(account, code, self.en, self.fa)


# ---------------------------------------------------------------------------------- domain models


@dataclass(frozen=True, slots=True)
class Balance:
    """Credit in ``currency`` ("rial", "toman" or "" when the provider does not say)."""

    credit: float
    currency: str
    tariffs: dict[str, float] = field(default_factory=dict)
    lines: tuple[str, ...] = ()
    expires: datetime | None = None
    account_name: str = ""


@dataclass(frozen=True, slots=True)
class OutgoingSms:
    """One text from one line to recipients; ``send_at`` (Tehran time) schedules it.

    Recipients are canonical numbers, or ``group:<id>`` for providers with contact groups.
    ``reference`` is the bridge's unique name for this send, stored before the provider is called:
    a provider that accepts a caller id (PayamSMS ``customerId``) derives its ids from it, so that
    after a timeout it can ask whether the send happened instead of sending twice.
    """

    line: str
    recipients: tuple[str, ...]
    text: str
    send_at: datetime | None = None
    reference: str = ""


GROUP_PREFIX = "group:"


@dataclass(frozen=True, slots=True)
class Audience:
    """Who a send would reach: recipients the provider accepts, those it refuses with a reason
    key (``not_contact``, ``unknown_group``, ``groups_unsupported``), and the distinct count when
    the provider can tell (groups expand to many numbers)."""

    accepted: tuple[str, ...]
    refused: tuple[tuple[str, str], ...] = ()
    count: int | None = None


class Outcome(enum.StrEnum):
    """What became of one recipient of a send call (the rule: ``providers/outcome.py``)."""

    ACCEPTED = "accepted"  # the provider took it and named it (a message id)
    FAILED = "failed"  # the provider said no before doing anything
    UNKNOWN = "unknown"  # it may have gone out: never resent, looked up later


@dataclass(frozen=True, slots=True)
class RecipientResult:
    """One recipient's outcome; ``error`` is the provider's code (or the reason it is unknown)."""

    number: str
    message_id: str | None
    outcome: Outcome
    error: str | None = None

    @classmethod
    def accepted(cls, number: str, message_id: str) -> RecipientResult:
        return cls(number, message_id, Outcome.ACCEPTED)

    @classmethod
    def refused(cls, number: str, code: str) -> RecipientResult:
        return cls(number, None, Outcome.FAILED, code or "failed")

    @classmethod
    def unknown(cls, number: str, reason: str) -> RecipientResult:
        return cls(number, None, Outcome.UNKNOWN, reason or "unknown")

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.ACCEPTED


@dataclass(frozen=True, slots=True)
class SendResult:
    items: tuple[RecipientResult, ...]
    campaign_id: str | None = None
    price: float | None = None
    parts: int | None = None


@dataclass(frozen=True, slots=True)
class OtpResult:
    number: str
    code: str | None
    message_id: str | None


@dataclass(frozen=True, slots=True)
class Pattern:
    id: str
    text: str
    variables: tuple[str, ...]
    is_otp: bool
    status: int


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    message_id: str
    state: DeliveryState
    raw: str
    number: str | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class InboundSms:
    """An SMS a customer sent to one of the account's lines (``line`` is None when unknown)."""

    provider_id: str
    sender: str
    text: str
    received_at: datetime
    line: str | None = None


@dataclass(frozen=True, slots=True)
class InboundPage:
    """One poll: the SMS, the cursor to store with them (None: the provider keeps no cursor) and
    whether more are waiting right now."""

    messages: tuple[InboundSms, ...]
    cursor: str | None = None
    more: bool = False


@dataclass(frozen=True, slots=True)
class ScheduledSms:
    message_id: str
    number: str
    text: str
    send_at: datetime | None
    price: float | None = None
    parts: int | None = None


@dataclass(frozen=True, slots=True)
class RelayHook:
    id: str
    url: str
    active: bool


class RelayKind(enum.StrEnum):
    INBOUND = "inbound"
    DELIVERY = "delivery"


# ------------------------------------------------------------------------------------- protocol


@runtime_checkable
class SmsProvider(Protocol):
    """The client of one provider account. Every method raises a ``ProviderError`` on failure."""

    account: str
    capabilities: frozenset[Capability]
    max_parts: int | None  # the most SMS parts one text may take (None: not documented)
    batch: int | None  # the most recipients one send request carries (None: one request for all)

    async def balance(self) -> Balance: ...
    async def send(self, sms: OutgoingSms) -> SendResult: ...
    async def send_p2p(
        self,
        line: str,
        items: Sequence[tuple[str, str]],
        send_at: datetime | None = None,
        reference: str = "",
    ) -> SendResult: ...
    async def send_otp(
        self, number: str, code: str | None, length: int = 5, reference: str = ""
    ) -> OtpResult: ...
    async def send_pattern(
        self, pattern_id: str, number: str, values: Sequence[str], line: str | None = None
    ) -> SendResult: ...
    async def patterns(self) -> list[Pattern]: ...
    async def drafts(self) -> list[str]: ...
    async def audience(self, recipients: Sequence[str]) -> Audience: ...
    async def estimate_price(self, sms: OutgoingSms) -> float | None: ...
    async def deliveries(
        self, message_ids: Sequence[str], campaign_id: str | None = None
    ) -> list[DeliveryReport]: ...
    async def find_sent(self, sms: OutgoingSms, since: datetime) -> SendResult | None: ...
    async def cancelled(self, line: str, numbers: Sequence[str]) -> dict[str, bool]: ...
    async def scheduled(self, start: datetime, end: datetime) -> list[ScheduledSms]: ...
    async def cancel_scheduled(self, message_id: str) -> bool: ...
    async def fetch_inbound(self, cursor: str | None = None) -> InboundPage: ...
    async def inbound_between(
        self, start: datetime, end: datetime, line: str | None = None
    ) -> list[InboundSms]: ...
    async def relay_register(self, kind: RelayKind, url: str) -> RelayHook: ...
    async def relay_list(self, kind: RelayKind) -> list[RelayHook]: ...
    def token_expiry(self) -> datetime | None: ...
    async def aclose(self) -> None: ...


class ProviderBase:
    """Default bodies: every capability a provider lacks raises ``NotSupported`` by name."""

    account: str
    capabilities: frozenset[Capability] = frozenset()
    max_parts: int | None = None
    batch: int | None = None

    def _unsupported(self, capability: Capability) -> NotSupported:
        return NotSupported(self.account, capability)

    async def balance(self) -> Balance:
        raise self._unsupported(Capability.BALANCE)

    async def send(self, sms: OutgoingSms) -> SendResult:
        raise self._unsupported(Capability.SEND)

    async def send_p2p(
        self,
        line: str,
        items: Sequence[tuple[str, str]],
        send_at: datetime | None = None,
        reference: str = "",
    ) -> SendResult:
        """A text per number (``items``: number, text); ``reference`` as in ``OutgoingSms``."""
        raise self._unsupported(Capability.SEND_P2P)

    async def send_otp(
        self, number: str, code: str | None, length: int = 5, reference: str = ""
    ) -> OtpResult:
        raise self._unsupported(Capability.OTP)

    async def send_pattern(
        self, pattern_id: str, number: str, values: Sequence[str], line: str | None = None
    ) -> SendResult:
        raise self._unsupported(Capability.PATTERN)

    async def patterns(self) -> list[Pattern]:
        raise self._unsupported(Capability.PATTERN)

    async def drafts(self) -> list[str]:
        raise self._unsupported(Capability.DRAFTS)

    async def audience(self, recipients: Sequence[str]) -> Audience:
        """Phone numbers are accepted as they are; contact groups only where supported."""
        groups = tuple(r for r in recipients if r.startswith(GROUP_PREFIX))
        accepted = tuple(r for r in recipients if not r.startswith(GROUP_PREFIX))
        return Audience(accepted, tuple((g, "groups_unsupported") for g in groups), len(accepted))

    async def estimate_price(self, sms: OutgoingSms) -> float | None:
        raise self._unsupported(Capability.PRICE)

    async def deliveries(
        self, message_ids: Sequence[str], campaign_id: str | None = None
    ) -> list[DeliveryReport]:
        raise self._unsupported(Capability.DELIVERY)

    async def find_sent(self, sms: OutgoingSms, since: datetime) -> SendResult | None:
        """After a send whose outcome is unknown, what the provider's records say of each of its
        recipients (``sms`` as it was sent, with its ``reference``; ``since`` when it started):
        accepted with an id, failed, or still unknown (``absent``: the records do not show it).
        None when the records cannot tell."""
        raise self._unsupported(Capability.FIND_SENT)

    async def cancelled(self, line: str, numbers: Sequence[str]) -> dict[str, bool]:
        """Whether each number cancelled reception from ``line`` (the operator's own list, kept
        apart from the bridge's opt-outs): a send from that line would not reach it."""
        raise self._unsupported(Capability.CANCELLATIONS)

    async def scheduled(self, start: datetime, end: datetime) -> list[ScheduledSms]:
        raise self._unsupported(Capability.CANCEL_SCHEDULED)

    async def cancel_scheduled(self, message_id: str) -> bool:
        raise self._unsupported(Capability.CANCEL_SCHEDULED)

    async def fetch_inbound(self, cursor: str | None = None) -> InboundPage:
        raise self._unsupported(Capability.INBOUND_POLL)

    async def inbound_between(
        self, start: datetime, end: datetime, line: str | None = None
    ) -> list[InboundSms]:
        raise self._unsupported(Capability.INBOUND_POLL)

    async def relay_register(self, kind: RelayKind, url: str) -> RelayHook:
        raise self._unsupported(Capability.RELAY)

    async def relay_list(self, kind: RelayKind) -> list[RelayHook]:
        raise self._unsupported(Capability.RELAY)

    def token_expiry(self) -> datetime | None:
        """When the cached session token expires (None: no token, or the provider has none)."""
        return None

    async def aclose(self) -> None:
        return None
