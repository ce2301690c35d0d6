"""Both backends, on real SQLite files and a real PostgreSQL server (``fresh``): migrations,
de-duplication, exactly-once confirmation, retention, search; and SQLite's own pragmas and plans."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import aiosqlite
import pytest

from bot.leases import Leases
from sandbox import postgres
from storage.cluster import ClusterRepo
from storage.contacts import ContactsRepo
from storage.db import Database, SqliteDatabase
from storage.events import EventsRepo, Recorder
from storage.export import ExportRepo
from storage.inbound import InboundRepo, NewInbound
from storage.migrations import STEPS, SchemaTooNew
from storage.outbox import OutboxRepo
from storage.retention import Retention
from storage.search import SearchRepo, fold, match_query
from storage.sends import SendsRepo
from tests.conftest import Fresh


async def test_pragmas_and_schema_version(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "a.db")
    try:
        assert (await db.fetchone("PRAGMA journal_mode"))[0] == "wal"  # type: ignore[index]
        assert (await db.fetchone("PRAGMA foreign_keys"))[0] == 1  # type: ignore[index]
        assert (await db.fetchone("PRAGMA synchronous"))[0] == 2  # type: ignore[index]  # FULL
        assert (await db.fetchone("PRAGMA user_version"))[0] == len(STEPS)  # type: ignore[index]
        assert await db.writable()
    finally:
        await db.close()


async def test_a_newer_database_is_refused(fresh: Fresh) -> None:
    target = fresh("new")
    db = await Database.open(target)  # today's schema, then a later version says it is newer
    try:
        async with db.transaction() as conn:
            if db.dialect.name == "sqlite":
                await conn.execute(f"PRAGMA user_version = {len(STEPS) + 1}")
            else:
                await conn.execute("UPDATE smsbridge_schema SET version = ?", (len(STEPS) + 1,))
    finally:
        await db.close()
    with pytest.raises(SchemaTooNew):
        await Database.open(target)


async def test_inbound_is_deduplicated_and_queued_once_per_chat(fresh: Fresh) -> None:
    target = fresh("b")
    db = await Database.open(target)
    try:
        repo, outbox = InboundRepo(db), OutboxRepo(db)
        sms = NewInbound("m1", "989121111111", "hi", "2026-01-01T10:00:00+03:30", None)
        assert len(await repo.store("amoot", [sms, sms], "poll", lambda line: [1, 2])) == 1
        assert await repo.store("amoot", [sms], "relay", lambda line: [1, 2]) == []
        heads = await outbox.heads(now=1e12)
        assert sorted(h.chat_id for h in heads) == [1, 2]
    finally:
        await db.close()
    # survives a reopen
    db = await Database.open(target)
    try:
        assert (await OutboxRepo(db).depth())[0] == 2
    finally:
        await db.close()


async def test_a_draft_is_claimed_exactly_once_and_audited(fresh: Fresh) -> None:
    db = await Database.open(fresh("c"))
    try:
        sends = SendsRepo(db)
        send_id = await sends.create_draft(
            user_id=7,
            chat_id=7,
            account="amoot",
            line="public",
            text="x",
            recipients=["989121111111", "989122222222"],
            invalid=["0912abc"],
        )
        args = {"quota": 10, "day_start": "2000-01-01", "needs_second_confirm": False}
        assert (await sends.claim(send_id, 8, **args)).status == "not_owner"  # type: ignore[arg-type]
        assert (await sends.claim(send_id, 7, **args)).status == "ok"  # type: ignore[arg-type]
        assert (await sends.claim(send_id, 7, **args)).status == "gone"  # type: ignore[arg-type]
        audit = await db.fetchall("SELECT action, recipients FROM audit")
        assert [(r[0], r[1]) for r in audit] == [("send", 2)]
        other = await sends.create_draft(
            user_id=7,
            chat_id=7,
            account="amoot",
            line="public",
            text="y",
            recipients=[f"98912000000{i}" for i in range(9)],
            invalid=[],
        )
        claim = await sends.claim(
            other, 7, quota=10, day_start="2000-01-01", needs_second_confirm=False
        )
        assert (claim.status, claim.used_today) == ("quota", 2)
    finally:
        await db.close()


async def test_retention_prunes_in_batches_and_the_file_shrinks(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    async with aiosqlite.connect(path) as conn:  # a file from before incremental vacuum
        await conn.execute("PRAGMA auto_vacuum = NONE")
        await conn.execute("CREATE TABLE t (x)")
        await conn.execute("DROP TABLE t")
    db = await Database.open(path)
    try:
        repo = InboundRepo(db)
        body = "x" * 2000
        for n in range(300):
            sms = NewInbound(f"m{n}", "989121111111", body, "2026-01-01T10:00:00+03:30", None)
            await repo.store("amoot", [sms], "poll", lambda line: [])
        async with db.transaction() as conn:
            await conn.execute("UPDATE inbound SET stored_at = '2020-01-01T00:00:00+00:00'")
            await conn.execute(
                "UPDATE inbound SET stored_at = '2099-01-01' WHERE provider_id = 'm7'"
            )
        size = _size(path)
        commits = db.commits
        pruned = await Retention(db, keep_days=30, batch=40).prune()
        assert pruned.inbound == 299 and pruned.vacuumed and pruned.freed_pages > 0
        # small transactions, never one long one: 8 for the SMS, 1 for each other table
        assert db.commits - commits == (299 // 40 + 1) + 4
        left = await db.fetchall("SELECT provider_id FROM inbound")
        assert [r[0] for r in left] == ["m7"]
        assert (await db.fetchone("PRAGMA auto_vacuum"))[0] == 2  # type: ignore[index]
        await db.fetchone("PRAGMA wal_checkpoint(TRUNCATE)")
        assert _size(path) < size / 4
        again = await Retention(db, keep_days=30).prune()
        assert (again.inbound, again.vacuumed) == (0, False)  # the switch happens once
    finally:
        await db.close()


def _size(path: Path) -> int:
    """The database's bytes on disk, its write-ahead log included."""
    wal = Path(f"{path}-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


# Tables that grow with use: a query on them must use an index, never read them whole.
GROWING = ("inbound", "message_links", "send_recipients", "digest_items", "audit", "contacts")


async def test_every_hot_query_uses_an_index(tmp_path: Path) -> None:
    """What relays, the outbox, /inbox, /report, /metrics and retention run, planned on a file
    without ANALYZE statistics (as in the field): no growing table is scanned whole."""
    db = await SqliteDatabase.open(tmp_path / "plans.db")
    try:
        inbound, outbox, sends = InboundRepo(db), OutboxRepo(db), SendsRepo(db)
        for n in range(50):
            sms = NewInbound(f"m{n}", "989121111111", "hi", "2026-01-01T10:00:00+03:30", None)
            await inbound.store("amoot", [sms], "relay", lambda line: [1])
        executed: list[str] = []
        await db.trace(executed.append)
        sms = NewInbound("m99", "989121111111", "hi", "2026-01-01T10:00:00+03:30", "L0")
        await inbound.store("amoot", [sms, sms], "relay", lambda line: [1, 2])
        await inbound.recent_for_chat(1, 10)
        await inbound.get(1)
        await outbox.heads(now=1e12)
        await outbox.next_due()
        await outbox.depth()
        await outbox.dead()
        await outbox.link(1, 1)
        await outbox.digest(1, 1)
        await sends.recent(10)
        await sends.get(1)
        await sends.count_unknown()
        await sends.unknown(5)
        found = SearchRepo(db)
        for within in (None, 1):
            await found.search("hi", None, 11, within)
            await found.search("", "989121111111", 11, within)
        await ContactsRepo(db).names(["989121111111"])
        exports = ExportRepo(db)
        for within in (None, 1):
            async for _batch in exports.sends("2000-01-01", "2100-01-01", within):
                pass
            async for _batch in exports.inbound("2000-01-01", "2100-01-01", within):
                pass
        await Retention(db, keep_days=30).prune()
        await db.trace(None)
        selects = {s for s in executed if s.lstrip().upper().startswith(("SELECT", "WITH"))}
        assert len(selects) >= 12
        for sql in selects:
            plan = await db.fetchall(f"EXPLAIN QUERY PLAN {sql}")
            for row in plan:
                detail = str(row[3])
                scanned = detail.split()[1] if detail.startswith("SCAN ") else None
                assert scanned not in GROWING, f"{detail} in: {sql}"
                # grouping reads every matching row before the LIMIT: /inbox did, a chat's whole
                # history, until it read the chat's newest links only
                assert "FOR GROUP BY" not in detail, f"{detail} in: {sql}"
    finally:
        await db.close()


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("كجاست", "کجاست"),  # Arabic kaf and Persian kaf
        ("علي", "علی"),  # Arabic yeh
        ("۱۲۳", "123"),
        ("١٢٣", "123"),
        ("می‌خواهم", "میخواهم"),  # with and without the zero-width non-joiner
        ("PARCEL", "parcel"),
    ],
)
def test_search_folds_what_people_type_differently(typed: str, stored: str) -> None:
    assert fold(typed) == fold(stored)


def test_a_search_query_asks_for_every_word_as_a_prefix() -> None:
    assert match_query('سفارش "۱۲۳"') == '"سفارش"* "123"*'
    assert match_query(" ?! ") is None


async def test_retention_keeps_every_event_an_endpoint_still_waits_for(fresh: Fresh) -> None:
    db = await Database.open(fresh("events"))
    try:
        recorder = Recorder()
        recorder.on = True
        events = EventsRepo(db)
        await events.cursor("https://a.example/hook")  # both start at the (empty) end
        await events.cursor("https://gone.example/hook")
        async with db.transaction() as conn:
            await recorder.add(conn, [("inbound", "amoot", None, {"n": n}) for n in range(10)])
            await conn.execute("UPDATE events SET at = '2000-01-01T00:00:00+00:00'")
        await events.delivered("https://a.example/hook", 6)
        pruned = await Retention(db, keep_days=30).prune()
        assert pruned.events == 0  # the removed endpoint still holds them
        assert await events.keep_only(["https://a.example/hook"]) == 1
        pruned = await Retention(db, keep_days=30).prune()
        assert pruned.events == 6 and [e.id for e in await events.after(0, 100)] == [7, 8, 9, 10]
    finally:
        await db.close()


async def test_a_lease_has_one_holder_until_it_expires_or_is_given_up(fresh: Fresh) -> None:
    db = await Database.open(fresh("leases"))
    try:
        leases = ClusterRepo(db)
        assert await leases.hold("a", ["poll", "outbox"], 0.5) == {"poll", "outbox"}
        assert await leases.hold("b", ["poll", "credit"], 0.5) == {"credit"}
        assert await leases.hold("a", ["poll"], 0.5) == {"poll"}  # renewed by its holder
        await asyncio.sleep(0.7)  # a stopped renewing: gone by the database's clock
        assert await leases.hold("b", ["poll"], 5.0) == {"poll"}
        assert await leases.hold("a", ["poll", "outbox"], 5.0) == {"outbox"}
        assert (await leases.holders())["poll"] == "b"
        await leases.release("b")
        assert await leases.hold("a", ["poll"], 5.0) == {"poll"}
    finally:
        await db.close()


async def test_telegram_calls_are_counted_for_the_whole_bot(fresh: Fresh) -> None:
    db = await Database.open(fresh("calls"))
    try:
        calls = ClusterRepo(db)
        group = [(0, 30, 1.0), (-100, 2, 60.0)]
        assert await calls.take_call(group) == 0
        assert await calls.take_call(group) == 0
        assert 59.0 < await calls.take_call(group) <= 60.0  # the group's minute is full
        assert await calls.take_call([(0, 30, 1.0), (7, 3, 3.0)]) == 0  # another chat is not
    finally:
        await db.close()


async def test_a_holder_that_cannot_renew_stops_its_job_before_the_lease_runs_out(
    pg_cluster: postgres.Cluster,
) -> None:
    """The database gone (here: this replica's pool closed): the job is told it lost its lease
    while the lease still stands in the database, so no other replica can be running it yet."""
    url = pg_cluster.create_database(f"lost_{os.getpid()}")
    db = await Database.open(url)
    leases = Leases(ClusterRepo(db), ttl=3.0, name="a")
    leases.want("poll")
    await leases.renew()
    assert leases.holds("poll")
    other = await Database.open(url)  # another replica, connected beforehand
    renewing = asyncio.create_task(leases.run())
    try:
        await db.close()  # every renewal from now on fails
        await asyncio.wait_for(leases.lost("poll"), 5.0)
        assert (await ClusterRepo(other).holders()).get("poll") == "a"  # not expired yet
        assert await ClusterRepo(other).hold("b", ["poll"], 3.0) == set()
    finally:
        renewing.cancel()
        await asyncio.gather(renewing, return_exceptions=True)
        await other.close()
