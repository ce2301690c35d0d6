"""Hypothesis against the real relay endpoint over HTTP: any body, any headers — never a 5xx, and
a request's items are stored all together or not at all."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import RELAY_SECRET, world


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The whole bridge on loopback in a thread of its own, for synchronous Hypothesis tests."""
    ready: dict[str, object] = {}
    started, stop = threading.Event(), threading.Event()

    async def main() -> None:
        async with world(tmp_path_factory.mktemp("fuzz")) as w:
            assert w.bridge is not None
            ready["url"], ready["db"] = w.bridge.web_url, Path(w.bridge.db.path)
            started.set()
            await asyncio.to_thread(stop.wait)

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    assert started.wait(30)
    try:
        yield str(ready["url"]), Path(str(ready["db"]))
    finally:
        stop.set()
        thread.join(30)


def _rows(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return int(conn.execute("SELECT count(*) FROM inbound").fetchone()[0])


ITEM = st.fixed_dictionaries(
    {},
    optional={
        "MessageID": st.integers(1, 10**9) | st.text(max_size=8),
        "mobile": st.sampled_from(["09121234567", "9121234567", "+98 912 123 4567", "abc", ""]),
        "MESSAGETEXT": st.text(max_size=30),
        "ReceiveDateTime": st.sampled_from(["2026-11-22T10:00:00", "garbage", "", "0001-01-01"]),
        "LineNumber": st.text(max_size=12),
    },
)
BODY = st.one_of(
    st.binary(max_size=300),
    st.lists(ITEM, max_size=4).map(lambda items: json.dumps(items).encode()),
    ITEM.map(lambda item: json.dumps(item).encode()),
)
HEADERS = st.dictionaries(
    st.sampled_from(
        ["Content-Type", "X-Forwarded-For", "User-Agent", "Content-Encoding", "Accept"]
    ),
    st.from_regex(r"[!-~]([ -~]{0,38}[!-~])?", fullmatch=True),  # what HTTP allows in a value
    max_size=3,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(BODY, HEADERS, st.sampled_from(["inbound", "delivery"]))
def test_any_relay_request_is_answered_below_500_and_stored_whole(
    live: tuple[str, Path], body: bytes, headers: dict[str, str], kind: str
) -> None:
    url, db = live
    before = _rows(db)
    response = httpx.post(
        f"{url}/relay/amoot/{RELAY_SECRET}/{kind}", content=body, headers=headers, timeout=10
    )
    assert response.status_code < 500, response.text
    added = _rows(db) - before
    if response.status_code >= 400 or kind == "delivery":
        assert added == 0
    else:
        stored = response.json()
        assert added == stored["stored"]
