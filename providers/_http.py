"""The one place that makes an HTTP call to a provider and maps transport failures onto the error
tree, and the one place that keeps a session token (``TokenAuth``, for the providers that log in)."""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from .base import ProviderProtocolError, ProviderUnavailable, RateLimited, Unreachable

log = logging.getLogger("smsbridge.providers")

# Observer of every call: (account, method, seconds, error kind or "").
CallObserver = Callable[[str, str, float, str], None]

# Failures that prove the request never reached the server: safe to retry, even a send.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)

DEFAULT_TIMEOUT = 20.0  # seconds; connecting gets at most 10


@functools.cache
def tls() -> ssl.SSLContext:
    """The process's one TLS context, for every HTTP client it makes (providers, Telegram,
    webhooks): httpx otherwise reads the CA bundle into a context of each client's own, which
    cost ~60 ms of the start and ~1.3 MB each (bench/README.md)."""
    return httpx.create_ssl_context()


class Transport:
    """One ``httpx.AsyncClient`` per account: its own base URL, proxy, timeouts and headers.

    Headers may carry credentials; they are never logged. Error messages name the method, not
    the URL, so a secret in a URL cannot leak through an exception either.
    """

    def __init__(
        self,
        account: str,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        proxy: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        observer: CallObserver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        auth: httpx.Auth | None = None,
    ) -> None:
        """``transport`` replaces the network (tests answer with recorded bodies); ``auth`` puts
        a session token in every request (``TokenAuth``)."""
        self.account = account
        self.base_url = base_url.rstrip("/") + "/"
        self._observer = observer
        self._client = httpx.AsyncClient(
            auth=auth,
            base_url=self.base_url,
            headers=dict(headers or {}),
            proxy=None if transport is not None else proxy or None,
            transport=transport,
            verify=tls(),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            follow_redirects=False,
        )

    async def request(
        self,
        verb: str,
        path: str,
        *,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        params: Any = None,
        headers: Mapping[str, str] | None = None,
        ok_statuses: tuple[int, ...] = (),
        sends: bool = False,
    ) -> httpx.Response:
        """Make the call. A request that never left is ``Unreachable``; a timeout, a broken
        connection or a 5xx is ``ProviderUnavailable`` (a send request's caller reads these with
        ``outcome.send_request``). Statuses in ``ok_statuses`` are returned to the caller instead of
        being mapped. ``sends``: the request may send SMS (``TokenAuth`` repeats it only when it
        was turned away at the door)."""
        started = time.perf_counter()
        kind = ""
        try:
            response = await self._client.request(
                verb,
                path.lstrip("/"),
                json=json,
                data=data,
                params=params,
                headers=headers,
                extensions={"smsbridge_sends": sends},
            )
        except _NOT_SENT as exc:
            kind = "connect"
            raise Unreachable(
                self.account, "connect", f"could not reach the provider ({type(exc).__name__})"
            ) from exc
        except httpx.TimeoutException as exc:
            kind = "timeout"
            raise ProviderUnavailable(
                self.account, "timeout", "the provider did not answer in time"
            ) from exc
        except httpx.HTTPError as exc:
            kind = "transport"
            raise ProviderUnavailable(
                self.account,
                "transport",
                f"connection to the provider failed ({type(exc).__name__})",
            ) from exc
        finally:
            if self._observer is not None:
                self._observer(self.account, path, time.perf_counter() - started, kind)
        status = response.status_code
        if status in ok_statuses or 200 <= status < 300:
            return response
        if self._observer is not None:
            self._observer(self.account, path, 0.0, f"http_{status}")
        if status == 429:
            raise RateLimited(
                self.account,
                "http_429",
                "the provider is rate limiting requests",
                retry_after=_retry_after(response),
            )
        if status >= 500:
            raise ProviderUnavailable(
                self.account, f"http_{status}", f"the provider answered HTTP {status}"
            )
        raise ProviderProtocolError(
            self.account, f"http_{status}", f"unexpected HTTP {status} from the provider"
        )

    async def aclose(self) -> None:
        await self._client.aclose()


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("retry-after", "0")))
    except ValueError:
        return 0.0


@dataclass(frozen=True, slots=True)
class Session:
    """A session token: used until ``until``, valid until ``expires`` (``clock()`` seconds)."""

    token: str
    until: float
    expires: float


class TokenAuth(httpx.Auth):
    """The session token of an account that logs in (sms.ir, PayamSMS), in every request.

    A token is fetched when there is none or it is past its ``until``; concurrent requests share
    one login. A request turned away because of its token gets one new token and is repeated
    once, never in a loop — a send only when it was turned away at the door (HTTP 401/403):
    a refusal in the body of a send may follow a partial send (``providers/outcome.py``).
    What differs per provider is given: how to log in and read the answer, where the token
    goes, and what "turned away" looks like.
    """

    def __init__(
        self,
        *,
        login: Callable[[], httpx.Request],
        read: Callable[[httpx.Response, Session | None], Session],
        apply: Callable[[httpx.Request, str], None],
        turned_away: Callable[[httpx.Response, bool], bool],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.login, self.read, self.apply, self.turned_away = login, read, apply, turned_away
        self.clock = clock
        self.session: Session | None = None
        self._lock = asyncio.Lock()

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        sends = bool(request.extensions.get("smsbridge_sends"))
        stale: str | None = None
        for attempt in (1, 2):
            async with self._lock:
                session = self.session
                if session is None or session.token == stale or self.clock() >= session.until:
                    answer = yield self.login()
                    await answer.aread()
                    session = self.session = self.read(answer, self.session)
            self.apply(request, session.token)
            response = yield request
            await response.aread()
            if attempt == 2 or not self.turned_away(response, sends):
                return
            stale = session.token

    def expiry(self) -> float | None:
        """When the current token expires (``clock()`` seconds), if there is one."""
        return self.session.expires if self.session is not None else None
