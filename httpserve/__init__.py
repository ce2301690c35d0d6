"""Serving an ASGI app with uvicorn inside the running event loop, on a socket of our own: for the
bridge's HTTP server and for the stand-ins alike (it imports nothing of either).

What it adds to uvicorn: ``TCP_NODELAY`` (an answer is not held back ~40 ms for the client's
delayed ACK), a deadline for each whole request (uvicorn only times out idle connections after a
response, so a client that never finishes its request would hold a connection for ever), logging
left to the process (``log_config=None``: every line goes through the application's handlers),
and stopping several servers together.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections.abc import AsyncIterator, Generator, Sequence
from pathlib import Path
from typing import Any, Literal

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

REQUEST_DEADLINE = 10.0  # seconds a client has to send a whole request


class _Server(uvicorn.Server):
    # The process owner (the bridge's CLI, tests, the demo) handles signals and stops in order.
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, closing a connection that has not sent a whole request within
    ``deadline`` seconds of starting one (of connecting, or of its first byte after a response)."""

    deadline = REQUEST_DEADLINE
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._deadline is None and (self.cycle is None or self.cycle.response_complete):
            self._arm()  # the first bytes of the next request on a kept-alive connection
        super().data_received(data)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.deadline, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()


def _socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    return sock


@contextlib.asynccontextmanager
async def serving_all(
    apps: Sequence[Any],
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    deadline: float = REQUEST_DEADLINE,
    max_connections: int | None = None,
    lifespan: Literal["auto", "on", "off"] = "auto",
    graceful: float = 1.0,
) -> AsyncIterator[list[str]]:
    """Serve each app (``port`` 0: a free port each) until the block ends; yields their base
    URLs. They are stopped together, each given ``graceful`` seconds for requests in flight."""
    protocol = type("DeadlineProtocol", (DeadlineProtocol,), {"deadline": deadline})
    servers: list[tuple[_Server, asyncio.Task[None], socket.socket]] = []
    try:
        for app in apps:
            sock = _socket(host, port)
            config = uvicorn.Config(
                app,
                http=protocol,
                log_config=None,
                log_level="warning",
                access_log=False,
                lifespan=lifespan,
                timeout_graceful_shutdown=max(1, round(graceful)),
                limit_concurrency=max_connections,
            )
            server = _Server(config)
            servers.append((server, asyncio.create_task(server.serve(sockets=[sock])), sock))
        for server, task, _sock in servers:
            while not server.started:
                if task.done():
                    task.result()
                    raise RuntimeError("the HTTP server stopped before it started")
                await asyncio.sleep(0.005)
        yield [_url(host, sock) for _server, _task, sock in servers]
    finally:
        for server, _task, _sock in servers:
            server.should_exit = True
        for _server, task, sock in servers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
            sock.close()


@contextlib.asynccontextmanager
async def serving(
    app: Any, host: str = "127.0.0.1", port: int = 0, **options: Any
) -> AsyncIterator[str]:
    """Serve one app; yields its base URL, e.g. ``http://127.0.0.1:41234``."""
    async with serving_all([app], host, port, **options) as urls:
        yield urls[0]


def free_port() -> int:
    """A loopback port nobody listens on right now (for a server that must know it in advance:
    a process of its own, a database server).

    Drawn below the kernel's ephemeral range, from which ``bind(0)`` and outgoing connections
    take theirs: a port freed between two starts of a process (a restart after a kill) is not
    handed meanwhile to another server started with port 0, or to a client. A port from
    ``bind(0)`` could be: the likely cause of a replica in a run of tests that ended with exit
    code 1 when restarted on its port."""
    low = _ephemeral_low()
    below = range(max(1024, low - 16384), low)
    if len(below) >= 1024:  # room to draw in (the range may start low on a tuned machine)
        for _ in range(100):
            port = _random.choice(below)
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    continue  # in use (or closing): draw again
                return port
    with socket.socket() as sock:  # no room, or all taken: the kernel's choice, as before
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_random = random.SystemRandom()  # not the seeded global one: every process draws its own


def _ephemeral_low() -> int:
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text(encoding="ascii")
        return int(text.split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default range starts here; IANA's at 49152


def _url(host: str, sock: socket.socket) -> str:
    bound = sock.getsockname()[1]
    return f"http://{'[' + host + ']' if ':' in host else host}:{bound}"
