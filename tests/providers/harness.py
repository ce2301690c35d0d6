"""One harness per provider: its simulator on loopback, the real client, and the same verbs on both
(numbers the provider accepts, what the simulator received, faults, time passing)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from providers.amootsms import AmootSmsClient
from providers.base import DeliveryState, SmsProvider
from providers.payamsms import PayamSmsClient
from providers.smsir import SmsirClient
from sandbox._common import Clock
from sandbox._serve import serve
from sandbox.amootsms import DEFAULT_TOKEN, AmootSim
from sandbox.payamsms import DEFAULT_LOGIN, PayamSim
from sandbox.smsir import DEFAULT_API_KEY, DEFAULT_SECRET_KEY, SmsirSim

PROVIDERS = ("amootsms", "smsir", "payamsms")
AMOOT_CODES = {0: DeliveryState.QUEUED, 35: DeliveryState.SENT, 1: DeliveryState.DELIVERED,
               2: DeliveryState.FAILED}  # fmt: skip
GOOD, BAD = "989121111111", "989122222222"  # BAD is never delivered


@dataclass
class Harness:
    name: str
    sim: Any
    client: Any
    url: str
    clock: Clock
    line: str
    make: Callable[..., Any]  # another client on the same simulator, with overrides

    def accept(self, *numbers: str) -> tuple[str, ...]:
        """Make numbers sendable: sms.ir White SMS reaches only its phonebook contacts."""
        if self.name == "smsir":
            for number in numbers:
                if not any(c.mobile == number[2:] for c in self.sim.contacts):
                    self.sim.add_contact(number)
        return numbers

    def sent(self) -> list[tuple[str, str]]:
        """(canonical number, text) of every SMS the simulator sent."""
        if self.name == "amootsms":
            return [("98" + s.mobile, s.text) for s in self.sim.sent]
        if self.name == "smsir":
            return [("98" + n[1:], t) for n, t in self.sim.sent_to()]
        return [("98" + m.mobile, m.body) for m in self.sim.messages]

    def credit(self) -> float:
        return float(self.sim.credit)

    def fail_next(self, kind: str, method: str | None = None) -> None:
        self.sim.fail_next(kind, method=method)

    def advance(self, seconds: float) -> None:
        if self.name == "amootsms":
            self.sim.advance(seconds)
        else:
            self.clock.advance(seconds)

    @property
    def send_method(self) -> str:
        return {"amootsms": "SendSimple", "smsir": "Message/Send",
                "payamsms": "sendMultipleWithSrc"}[self.name]  # fmt: skip

    @property
    def balance_method(self) -> str:
        return {"amootsms": "AccountStatus", "smsir": "WhiteSms/GetUserInfo",
                "payamsms": "balance"}[self.name]  # fmt: skip


def _sim(name: str, clock: Clock, **options: Any) -> Any:
    common = {"undeliverable": ("0" + BAD[2:],), "hang_seconds": 3.0}
    if name == "amootsms":
        return AmootSim(**common, **options)
    if name == "smsir":
        return SmsirSim(clock=clock, **common, **options)
    return PayamSim(clock=clock, **common, **options)


def client_for(name: str, url: str, clock: Clock, **overrides: Any) -> SmsProvider:
    if name == "amootsms":
        options: dict[str, Any] = {"delivery_codes": AMOOT_CODES} | overrides
        return AmootSmsClient("amoot", url, options.pop("token", DEFAULT_TOKEN), **options)
    if name == "smsir":
        options = {"api_key": DEFAULT_API_KEY, "secret_key": DEFAULT_SECRET_KEY,
                   "clock": clock} | overrides  # fmt: skip
        return SmsirClient("smsir", url + "/users/v1", options.pop("api_key"),
                           options.pop("secret_key"), **options)  # fmt: skip
    login = {k: DEFAULT_LOGIN[k] for k in DEFAULT_LOGIN}
    options = login | {"lines": ("98200012345", "98200067890"), "clock": clock,
                       "recheck_delay": 0.05} | overrides  # fmt: skip
    return PayamSmsClient("payam", url, **options)


@contextlib.asynccontextmanager
async def harness(name: str, **sim_options: Any) -> AsyncIterator[Harness]:
    clock = Clock()
    sim = _sim(name, clock, **sim_options)
    line = {"amootsms": "public", "smsir": "", "payamsms": "98200012345"}[name]
    async with serve(sim.app) as url:
        clients: list[SmsProvider] = []

        def make(**overrides: Any) -> Any:
            client = client_for(name, url, clock, **overrides)
            clients.append(client)
            return client

        try:
            yield Harness(name, sim, make(), url, clock, line, make)
        finally:
            for client in clients:
                await client.aclose()
