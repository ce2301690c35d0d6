"""Shared fixtures: the simulators and the bridge on loopback, on real SQLite files."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import itertools
import os
import sys
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.app import Running, Timing, running
from bot.config import load_config
from bot.ratelimit import TelegramPacer, Window
from httpserve import free_port as free_port  # the tests import it from here
from httpserve import serving_all
from sandbox import postgres
from sandbox.amootsms import AmootSim
from sandbox.configs import PAYAM_LINE as PAYAM_LINE  # the tests name the PayamSMS line by it
from sandbox.configs import config
from sandbox.payamsms import PayamSim
from sandbox.smsir import SmsirSim
from sandbox.telegram import TelegramSim

# Telegram's rate limits run this many times faster in tests (the stand-in's and the pacer's
# alike); a test about pacing itself asks for real time: @pytest.mark.telegram_scale(1).
SCALE = 10.0

# Background work at test pace: an unknown send is looked up within a second, and again soon.
TIMING = Timing(unknown_lookups=(0.3, 1.0, 2.0, 4.0, 60.0), request_deadline=2.0, outbox_retry=0.2)

T = TypeVar("T")
ADMIN = 1001
OPERATOR = 1002
STRANGER = 4242
GROUP = -100555


RELAY_SECRET = "relaysecret0123456789"
ROOT = Path(__file__).resolve().parents[1]


async def eventually(
    check: Callable[[], Any], *, timeout: float = 10.0, every: float = 0.02, what: str = "it"
) -> Any:
    """Wait until ``check()`` (a function or a coroutine function) returns something truthy, and
    return that; fail, saying ``what`` never happened, after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        await asyncio.sleep(every)


async def scrape(w: World) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The bridge's /metrics as Prometheus reads it: (sample name, sorted labels) → value."""
    assert w.bridge is not None
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{w.bridge.web_url}/metrics")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


@contextlib.asynccontextmanager
async def bridge_process(config: Path, base: str) -> AsyncIterator[asyncio.subprocess.Process]:
    """``smsbridge run`` in a process of its own, answering /healthz at ``base``; what it writes
    to stderr goes to ``<config>.stderr`` (each start appended), shown when it fails to start."""
    stderr_path = process_log(config)
    with stderr_path.open("ab") as stderr:
        proc = await run_command(config, stdout=asyncio.subprocess.DEVNULL, stderr=stderr)
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(200):
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"{base}/healthz")).status_code == 200:
                        break
                if proc.returncode is not None:
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError(f"the bridge did not answer at {base}: {tail(stderr_path)}")
        if proc.returncode is not None:
            raise AssertionError(f"the bridge exited ({proc.returncode}): {tail(stderr_path)}")
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


async def run_command(config: Path, **pipes: Any) -> asyncio.subprocess.Process:
    """``smsbridge run --config config``, started as an operator would, from this checkout."""
    return await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bot", "run", "--config", str(config)),
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        **pipes,
    )


def process_log(config: Path) -> Path:
    """Where :func:`bridge_process` puts the stderr of the bridge run with ``config``."""
    return config.with_name(config.name + ".stderr")


def tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


async def preview_of(w: World, user: int, command: str) -> dict[str, Any]:
    """``user`` sends ``command`` in their chat; the bot's preview of it (the command's text in
    it, its buttons on it) — an earlier send's late edits do not count."""
    after = len(w.tg.events)
    await w.tg.send(user, user, command)
    text = command.split()[-1]  # the last word of the SMS text, shown verbatim
    event = await w.tg.wait_for(
        lambda e: (
            e.message.get("chat", {}).get("id") == user
            and "Send preview" in e.message.get("text", "")
            and text in e.message.get("text", "")
            and bool(e.message.get("reply_markup"))
        ),
        after=after,
    )
    return event.message


@pytest.fixture(autouse=True)
def _collected_after() -> Iterator[None]:
    """The garbage collector runs after each test (its event loop closed), so a socket or a
    transport the test left open is reported (``filterwarnings = error``) by that test, and not
    by whichever later test the collector happens to run in."""
    yield
    gc.collect()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[postgres.Cluster]:
    """One throwaway PostgreSQL server per test process (each test takes a database of its own)."""
    why = postgres.available()
    if why is not None:
        pytest.skip(f"PostgreSQL cannot be had here: {why}")
    with postgres.cluster() as found:
        yield found


Fresh = Callable[[str], str]  # a new, empty database of the backend under test, by a name


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Fresh:
    """The storage suite runs on both backends: ``fresh(name)`` is an SQLite file in the test's
    directory, or a new database on the session's PostgreSQL server."""
    if request.param == "sqlite":
        return lambda name: str(tmp_path / f"{name}.db")
    found: postgres.Cluster = request.getfixturevalue("pg_cluster")
    test = f"t{os.getpid()}_{next(_databases)}"
    return lambda name: found.create_database(f"{test}_{name}")


_databases = itertools.count()


@dataclass
class World:
    tg: TelegramSim
    amoot: AmootSim
    smsir: SmsirSim
    payam: PayamSim
    urls: dict[str, str]
    config_path: Path
    bridge: Running | None = None


def write_config(
    path: Path,
    urls: dict[str, str],
    tg_token: str,
    extra: str = "",
    storage: dict[str, Any] | None = None,
) -> Path:
    """The tests' bridge: every stand-in account, polled fast, routed to the admin and a group."""
    text = config(
        urls,
        tg_token,
        telegram={"language": "en"},
        logging={"level": "DEBUG"},
        storage=storage or {},
        access={"admins": [ADMIN], "bulk_confirm_threshold": 3, "daily_quota": 20},
        account_options={
            "amoot": {
                "poll_interval": 0.2,
                "relay_secret": RELAY_SECRET,
                "low_credit_alert": 100000,
            },
            "payam": {"poll_interval": 0.2},
        },
        routes=[
            {"account": "payam", "chat_id": ADMIN},
            {"account": "amoot", "line": "10001234", "chat_id": ADMIN},
            {"account": "amoot", "chat_id": GROUP},
        ],
    )
    path.write_text(text + extra, encoding="utf-8")
    return path


def telegram_pace(scale: float) -> tuple[TelegramSim, TelegramPacer]:
    """The Bot API stand-in and the bridge's pacer with Telegram's limits ``scale`` times faster."""
    private, group, overall = (3, 3.0 / scale), (20, 60.0 / scale), (30, 1.0 / scale)
    sim = TelegramSim(private_limit=private, group_limit=group, global_limit=overall)
    pacer = TelegramPacer(private=Window(*private), group=Window(*group), overall=Window(*overall))
    return sim, pacer


@contextlib.asynccontextmanager
async def world(
    tmp_path: Path,
    start_bridge: bool = True,
    scale: float = SCALE,
    storage: dict[str, Any] | None = None,
) -> AsyncIterator[World]:
    """The stand-ins on loopback and (``start_bridge``) the bridge against them; ``scale`` runs
    Telegram's rate limits that many times faster (the stand-in's and the pacer's alike);
    ``storage``: the keys of ``[storage]`` (a PostgreSQL ``url`` instead of an SQLite file)."""
    tg, pacer = telegram_pace(scale)
    amoot, smsir, payam = AmootSim(), SmsirSim(), PayamSim()
    async with serving_all([tg.app, amoot.app, smsir.app, payam.app]) as (
        tg_url,
        amoot_url,
        smsir_url,
        payam_url,
    ):
        tg.private_chat(ADMIN)
        tg.group(GROUP)
        urls = {"tg": tg_url, "amoot": amoot_url, "smsir": smsir_url, "payam": payam_url}
        path = write_config(tmp_path / "config.toml", urls, tg.token, storage=storage)
        w = World(tg, amoot, smsir, payam, urls, path)
        if not start_bridge:
            yield w
            return
        async with running(load_config(path), pacer=pacer, timing=TIMING) as bridge:
            w.bridge = bridge
            yield w


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test (or module) marked ``both_backends`` runs its bridge on SQLite and on PostgreSQL."""
    if "w" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_backends"):
        metafunc.parametrize("backend", ["sqlite", "postgresql"])


@pytest.fixture
def backend() -> str:
    return "sqlite"  # unless the test is marked both_backends


@pytest.fixture
async def w(tmp_path: Path, request: pytest.FixtureRequest, backend: str) -> AsyncIterator[World]:
    marker = request.node.get_closest_marker("telegram_scale")
    storage = {}
    if backend == "postgresql":
        found: postgres.Cluster = request.getfixturevalue("pg_cluster")
        storage["url"] = found.create_database(f"w{os.getpid()}_{next(_databases)}")
    async with world(tmp_path, scale=marker.args[0] if marker else SCALE, storage=storage) as value:
        yield value


@dataclass
class Live:
    """A bridge running in a thread of its own, for tests that are not coroutines (Hypothesis)."""

    w: World
    loop: asyncio.AbstractEventLoop

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
        """Run ``coro`` in the bridge's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


@contextlib.contextmanager
def live_world(tmp_path: Path, scale: float = SCALE) -> Iterator[Live]:
    ready, stop = threading.Event(), threading.Event()
    state: dict[str, Live] = {}

    async def main() -> None:
        async with world(tmp_path, scale=scale) as w:
            state["live"] = Live(w, asyncio.get_running_loop())
            ready.set()
            await asyncio.to_thread(stop.wait)

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    try:
        assert ready.wait(30), "the bridge did not start"
        yield state["live"]
    finally:
        stop.set()
        thread.join(30)
