"""One harness per provider: its simulator on loopback, the real client, and the same verbs on both
(numbers the provider accepts, what the simulator sent, faults, time passing) — the simulators share
them (``sandbox/_common.FaultySim``), so nothing here depends on which provider it is but the names
of its methods and credentials."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from httpserve import serving as serve
from providers.amootsms import AmootSmsClient
from providers.base import DeliveryState, SmsProvider
from providers.payamsms import PayamSmsClient
from providers.smsir import SmsirClient
from sandbox._common import Clock, FaultySim
from sandbox.amootsms import DEFAULT_TOKEN, AmootSim
from sandbox.payamsms import DEFAULT_LOGIN, PayamSim
from sandbox.smsir import DEFAULT_API_KEY, DEFAULT_SECRET_KEY, SmsirSim

AMOOT_CODES = {
    0: DeliveryState.QUEUED,
    35: DeliveryState.SENT,
    1: DeliveryState.DELIVERED,
    2: DeliveryState.FAILED,
}
GOOD, BAD = "989121111111", "989122222222"  # BAD is never delivered


@dataclass(frozen=True)
class Provider:
    """What a contract test needs to know of one provider."""

    sim: Callable[..., FaultySim]
    client: Callable[[str, Clock], dict[str, Any]]  # (url, clock) → the client's options
    make: Callable[..., SmsProvider]
    line: str
    send_method: str
    balance_method: str
    secret: str  # a credential to spoil


PROVIDERS: dict[str, Provider] = {
    "amootsms": Provider(
        AmootSim,
        lambda url, clock: {
            "account": "amoot",
            "base_url": url,
            "token": DEFAULT_TOKEN,
            "delivery_codes": AMOOT_CODES,
        },
        AmootSmsClient,
        "public",
        "SendSimple",
        "AccountStatus",
        "token",
    ),
    "smsir": Provider(
        SmsirSim,
        lambda url, clock: {
            "account": "smsir",
            "base_url": url + "/users/v1",
            "api_key": DEFAULT_API_KEY,
            "secret_key": DEFAULT_SECRET_KEY,
            "clock": clock,
        },
        SmsirClient,
        "",
        "Message/Send",
        "WhiteSms/GetUserInfo",
        "secret_key",
    ),
    "payamsms": Provider(
        PayamSim,
        lambda url, clock: {
            "account": "payam",
            "base_url": url,
            **DEFAULT_LOGIN,
            "lines": ("98200012345", "98200067890"),
            "clock": clock,
        },
        PayamSmsClient,
        "98200012345",
        "sendMultipleWithSrc",
        "balance",
        "password",
    ),
}


@dataclass
class Harness:
    name: str
    sim: Any
    client: Any
    url: str
    clock: Clock
    line: str
    make: Callable[..., Any]  # another client on the same simulator, with overrides
    provider: Provider

    def accept(self, *numbers: str) -> tuple[str, ...]:
        """Make numbers sendable: sms.ir White SMS reaches only its phonebook contacts."""
        self.sim.reachable(*numbers)
        return numbers

    def sent(self) -> list[tuple[str, str]]:
        """(canonical number, text) of every SMS the simulator sent."""
        return list(self.sim.sent())

    def credit(self) -> float:
        return float(self.sim.credit)

    def fail_next(self, kind: str, method: str | None = None, **options: Any) -> None:
        self.sim.fail_next(kind, method=method, **options)

    def advance(self, seconds: float) -> None:
        self.sim.advance(seconds)

    @property
    def send_method(self) -> str:
        return self.provider.send_method

    @property
    def balance_method(self) -> str:
        return self.provider.balance_method


@contextlib.asynccontextmanager
async def harness(name: str, **sim_options: Any) -> AsyncIterator[Harness]:
    provider = PROVIDERS[name]
    clock = Clock()
    options = {"undeliverable": ("0" + BAD[2:],), "hang_seconds": 3.0, "clock": clock}
    sim = provider.sim(**(options | sim_options))
    async with serve(sim.app) as url:
        clients: list[SmsProvider] = []

        def make(**overrides: Any) -> Any:
            client = provider.make(**(provider.client(url, clock) | overrides))
            clients.append(client)
            return client

        try:
            yield Harness(name, sim, make(), url, clock, provider.line, make, provider)
        finally:
            for client in clients:
                await client.aclose()
