"""Which replica runs each job that must run once at a time (docs/operations.md §9): each
account's poller and reconciler (under one lease), the credit watch, unknown-send look-ups, the
sends a dead replica left, retention, each webhook endpoint, the outbox and Telegram's
``getUpdates``.

Each replica renews every lease it wants in one statement every ``ttl / 3`` seconds: the ones
free, expired or already its own become (stay) its own for ``ttl`` seconds by the database's
clock. A replica that dies stops renewing, and another takes its jobs within ``ttl + ttl / 3``.
A holder that cannot renew (the database unreachable) stops its jobs before its leases can
expire, so two replicas never run one job together. On SQLite there is one bridge per file
(``storage.files.exclusive``): every lease is held, and nothing is written.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid

from storage.cluster import REPLICA, ClusterRepo

from .aio import wait_set

log = logging.getLogger("smsbridge.leases")


def replica_name() -> str:
    """This process among the replicas: host, process id and a random part (a restarted
    process is a new replica; the old one's leases expire)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Leases:
    def __init__(self, repo: ClusterRepo | None, ttl: float = 6.0, name: str = "") -> None:
        self.repo = repo  # None: this bridge is alone (SQLite)
        self.ttl = ttl
        self.me = name or replica_name()
        self._wanted: list[str] = []
        self._held_until: dict[str, float] = {}  # monotonic time a lease surely lasts until
        self._changed = asyncio.Event()  # set (and replaced) at each renewal
        self._asked = asyncio.Event()  # a job wants a lease it has not asked for yet

    @property
    def shared(self) -> bool:
        return self.repo is not None

    def want(self, name: str) -> None:
        if name not in self._wanted:
            self._wanted.append(name)
            self._asked.set()  # try for it now, not at the next renewal

    def holds(self, name: str) -> bool:
        if self.repo is None:
            return True
        return self._held_until.get(name, 0.0) > time.monotonic()

    async def acquired(self, name: str) -> None:
        """Return once this replica holds ``name``."""
        self.want(name)
        while not self.holds(name):
            await self._changed.wait()

    async def lost(self, name: str) -> None:
        """Return once this replica no longer holds ``name`` (or might not: a renewal failed
        for longer than the lease is sure to last)."""
        while self.holds(name):
            await wait_set(self._changed, self._held_until.get(name, 0.0) - time.monotonic())

    def _tell(self) -> None:
        """Wake whoever waits for a change, and give the next waiters a fresh event."""
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def renew(self) -> None:
        """One renewal of every lease wanted, and this replica's heartbeat."""
        assert self.repo is not None
        started = time.monotonic()
        names = [REPLICA + self.me, *self._wanted]
        held = await self.repo.hold(self.me, names, self.ttl)
        # The database counted ``ttl`` from some moment after ``started``: a lease surely lasts
        # until started + ttl, less a margin for the job to stop in.
        until = started + self.ttl * 0.9
        for name in self._wanted:
            before = self.holds(name)
            if name in held:
                self._held_until[name] = until
            else:
                self._held_until.pop(name, None)
            if before != (name in held):
                log.info("%s %s", "took" if name in held else "gave up", name)
        self._tell()

    async def run(self) -> None:
        """Renew until cancelled; on the way out, give every lease up."""
        assert self.repo is not None
        try:
            while True:
                try:
                    await self.renew()
                except Exception as exc:  # the database: jobs stop as their leases run out
                    log.warning("leases not renewed: %s", exc)
                    self._tell()
                await wait_set(self._asked, self.ttl / 3)
                self._asked.clear()
        finally:
            self._held_until.clear()
            try:
                await asyncio.shield(self.repo.release(self.me))
            except Exception as exc:
                log.info("leases not given up (they expire by themselves): %s", exc)
