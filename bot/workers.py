"""Long-running work that never dies quietly: pollers, reconcilers, the credit watch, the outbox,
delivery follow-up and unknown-send look-ups each run as a named worker. Whatever a step raises
(a provider fault, ``database is locked``, a full disk, a bug) is logged, the worker backs off and
goes on; ``/healthz`` shows each worker's last success and turns ``degraded`` when one has not
succeeded for three of its intervals.

A worker started ``once=True`` runs on one replica at a time: while another replica holds its
lease (bot/leases.py) it stands by, healthy, and takes over when that lease is free."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .aio import wait_set
from .leases import Leases

log = logging.getLogger("smsbridge.workers")
MAX_BACKOFF = 300.0
STALE_AFTER = 3  # intervals without a success (while failing) before /healthz says degraded

# One pass of a worker's work; returns the seconds to wait before the next pass, or None when
# the worker has nothing more to do ever (a provider without that capability).
Step = Callable[["Worker"], Awaitable[float | None]]


@dataclass
class Worker:
    name: str
    interval: float  # the pace of its work: /healthz judges by it
    retry: float  # the first wait after a failure (doubling, at most MAX_BACKOFF)
    clock: Callable[[], float] = time.time
    last_ok: float = field(default=0.0)
    failing_since: float | None = None
    last_error: str = ""
    failures: int = 0
    ended: bool = False  # it has nothing more to do, ever (a provider without that capability)
    standby: bool = False  # another replica runs it now
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.last_ok = self.clock()  # a new worker has a clean slate

    def succeeded(self) -> None:
        self.last_ok, self.failing_since, self.failures = self.clock(), None, 0

    def failed(self, error: BaseException | str) -> None:
        self.failures += 1
        self.failing_since = self.failing_since or self.clock()
        self.last_error = error if isinstance(error, str) else f"{type(error).__name__}: {error}"

    def wake(self) -> None:
        """Run the next pass now instead of after the wait."""
        self._wake.set()

    async def sleep(self, seconds: float) -> None:
        await wait_set(self._wake, seconds)
        self._wake.clear()

    def backoff(self) -> float:
        """Doubling from ``retry`` up to ``MAX_BACKOFF``, give or take a fifth at random: many
        bridges (or endpoints) that failed together do not come back all at once."""
        wait = min(MAX_BACKOFF, self.retry * 2.0 ** min(self.failures - 1, 8))
        return wait * random.uniform(0.8, 1.2)

    def check(self) -> str:
        """``ok``, or why this worker is unhealthy (with its last success)."""
        if self.failing_since is None or self.clock() - self.last_ok < STALE_AFTER * self.interval:
            return "ok"
        return f"no success since {_iso(self.last_ok)}: {self.last_error}"[:300]


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")


class Workers:
    """Starts workers, restarts their steps after any failure, and reports on them."""

    def __init__(self, leases: Leases | None = None) -> None:
        self.workers: dict[str, Worker] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.leases = leases or Leases(None)

    def waker(self, name: str) -> Callable[[], None]:
        """Wakes the worker ``name`` (once it is started): for what must happen soon."""

        def wake() -> None:
            worker = self.workers.get(name)
            if worker is not None:
                worker.wake()

        return wake

    def start(
        self,
        name: str,
        interval: float,
        step: Step,
        retry: float | None = None,
        *,
        once: bool = False,
        lease: str = "",
    ) -> Worker:
        """Run ``step`` again and again; after a failure wait ``retry`` (default: ``interval``)
        seconds, doubling while it keeps failing. ``once``: on one replica at a time, under the
        lease ``lease`` (default: the worker's name; workers sharing one move together)."""
        worker = self.workers[name] = Worker(name, interval, interval if retry is None else retry)
        if once and self.leases.shared:
            run = self._run_leased(worker, step, lease or name)
        else:
            run = self._run(worker, step)
        self.tasks[name] = asyncio.create_task(run, name=name)
        return worker

    def loop(
        self,
        name: str,
        interval: float,
        body: Callable[[Worker], Awaitable[None]],
        retry: float,
        *,
        once: bool = False,
    ) -> Worker:
        """A worker whose body loops by itself (and reports through ``worker``): restarted after
        a failure like any step."""

        async def step(worker: Worker) -> float:
            await body(worker)
            return 0.0  # the body returned: start it again

        return self.start(name, interval, step, retry, once=once)

    async def _run_leased(self, worker: Worker, step: Step, lease: str) -> None:
        """Stand by until this replica holds the worker's lease, run it while the lease lasts,
        stop it (cancelled mid-step) the moment the lease is lost, and stand by again."""
        while True:
            worker.standby = True
            worker.succeeded()  # ready to take over is healthy
            await self.leases.acquired(lease)
            worker.standby = False
            worker.succeeded()
            body = asyncio.create_task(self._run(worker, step))
            lost = asyncio.create_task(self.leases.lost(lease))
            try:
                await asyncio.wait({body, lost}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (body, lost):
                    task.cancel()
                await asyncio.gather(body, lost, return_exceptions=True)
            if worker.ended:
                return
            log.warning("%s stopped here: another replica may run it now", worker.name)

    async def _run(self, worker: Worker, step: Step) -> None:
        while True:
            try:
                wait = await step(worker)
            except Exception as exc:  # anything at all: log it, back off, go on
                worker.failed(exc)
                log.warning(
                    "%s failed (%d in a row): %s",
                    worker.name,
                    worker.failures,
                    worker.last_error,
                    exc_info=worker.failures == 1,
                    extra={"worker": worker.name},
                )
                wait = worker.backoff()
            else:
                if wait is None:
                    worker.ended = True
                    return
                worker.succeeded()
            await worker.sleep(wait)

    def health(self) -> dict[str, str]:
        return {name: w.check() for name, w in self.workers.items()}

    def times(self) -> dict[str, tuple[float, float]]:
        """Each running worker's last success (unix time) and interval, for /metrics; one that
        stands by for another replica is as fresh as now."""
        return {
            name: (w.clock() if w.standby else w.last_ok, w.interval)
            for name, w in self.workers.items()
            if not w.ended
        }

    def standing_by(self) -> list[str]:
        """The workers another replica runs now."""
        return sorted(name for name, w in self.workers.items() if w.standby)

    def last_success(self) -> dict[str, str]:
        return {name: _iso(w.last_ok) for name, w in self.workers.items()}

    async def stop(self, *names: str) -> None:
        """Stop the workers named (none named: every one)."""
        tasks = [self.tasks[n] for n in names if n in self.tasks] if names else self.tasks.values()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
