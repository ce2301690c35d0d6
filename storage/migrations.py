"""Numbered schema steps, the same numbers on both backends: SQLite keeps its version in
``PRAGMA user_version``, PostgreSQL in the table ``smsbridge_schema``. A database from a newer
smsbridge is refused."""

from __future__ import annotations

import aiosqlite

STEPS: tuple[str, ...] = (
    # 1: the walking skeleton
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta (key, value) VALUES ('created', datetime('now'));

    CREATE TABLE users (
        user_id  INTEGER PRIMARY KEY,
        role     TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
        added_by INTEGER,
        added_at TEXT NOT NULL
    );
    CREATE TABLE chats (
        chat_id  INTEGER PRIMARY KEY,
        language TEXT CHECK (language IN ('fa', 'en'))
    );
    CREATE TABLE audit (
        id         INTEGER PRIMARY KEY,
        at         TEXT NOT NULL,
        user_id    INTEGER,
        chat_id    INTEGER,
        action     TEXT NOT NULL,
        account    TEXT,
        recipients INTEGER NOT NULL DEFAULT 0,
        detail     TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE inbound (
        id          INTEGER PRIMARY KEY,
        account     TEXT NOT NULL,
        provider_id TEXT NOT NULL,
        sender      TEXT NOT NULL,
        line        TEXT,
        text        TEXT NOT NULL,
        received_at TEXT NOT NULL,
        stored_at   TEXT NOT NULL,
        source      TEXT NOT NULL,
        UNIQUE (account, provider_id)
    );
    CREATE TABLE sends (
        id             INTEGER PRIMARY KEY,
        created_at     TEXT NOT NULL,
        user_id        INTEGER NOT NULL,
        chat_id        INTEGER NOT NULL,
        account        TEXT NOT NULL,
        line           TEXT NOT NULL,
        text           TEXT NOT NULL,
        send_at        TEXT,
        state          TEXT NOT NULL CHECK (state IN
                         ('draft', 'armed', 'sending', 'sent', 'partial', 'failed', 'unknown',
                          'cancelled')),
        invalid        TEXT NOT NULL DEFAULT '[]',
        price_estimate REAL,
        price          REAL,
        campaign_id    TEXT,
        error          TEXT,
        chat_message_id INTEGER,
        reply_to_message_id INTEGER,
        inbound_id     INTEGER REFERENCES inbound (id),
        confirmed_at   TEXT
    );
    CREATE INDEX sends_user_day ON sends (user_id, confirmed_at);
    CREATE TABLE send_recipients (
        send_id    INTEGER NOT NULL REFERENCES sends (id) ON DELETE CASCADE,
        number     TEXT NOT NULL,
        message_id TEXT,
        state      TEXT NOT NULL,
        raw_status TEXT,
        error      TEXT,
        updated_at TEXT,
        PRIMARY KEY (send_id, number)
    );
    CREATE INDEX send_recipients_message ON send_recipients (message_id);
    CREATE TABLE outbox (
        id              INTEGER PRIMARY KEY,
        chat_id         INTEGER NOT NULL,
        thread_id       INTEGER,
        inbound_id      INTEGER REFERENCES inbound (id),
        payload         TEXT NOT NULL,
        created_at      REAL NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL DEFAULT 0,
        dead            INTEGER NOT NULL DEFAULT 0,
        last_error      TEXT
    );
    CREATE INDEX outbox_chat ON outbox (dead, chat_id, id);
    CREATE TABLE cursors (
        account TEXT NOT NULL,
        name    TEXT NOT NULL,
        value   TEXT NOT NULL,
        PRIMARY KEY (account, name)
    );
    CREATE TABLE message_links (
        chat_id      INTEGER NOT NULL,
        message_id   INTEGER NOT NULL,
        account      TEXT NOT NULL,
        line         TEXT,
        counterparty TEXT NOT NULL,
        inbound_id   INTEGER REFERENCES inbound (id),
        send_id      INTEGER REFERENCES sends (id),
        PRIMARY KEY (chat_id, message_id)
    );
    CREATE TABLE routes (
        account TEXT NOT NULL,
        line    TEXT NOT NULL DEFAULT '',
        chat_id INTEGER NOT NULL,
        PRIMARY KEY (account, line, chat_id)
    );
    CREATE TABLE ptb_state (
        kind  TEXT NOT NULL,
        key   TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (kind, key)
    );
    """,
    # 2: every provider — the send's own reference (PayamSMS customerIds derive from it), the
    # provider's recipient count (contact groups), recipients the provider refused and why
    """
    ALTER TABLE sends ADD COLUMN reference TEXT;
    ALTER TABLE sends ADD COLUMN audience INTEGER;
    ALTER TABLE sends ADD COLUMN refused TEXT NOT NULL DEFAULT '[]';
    """,
    # 3: digests — one Telegram message carrying many SMS, each still answerable by its number
    """
    CREATE TABLE digest_items (
        chat_id    INTEGER NOT NULL,
        message_id INTEGER NOT NULL,
        number     INTEGER NOT NULL,
        inbound_id INTEGER NOT NULL REFERENCES inbound (id),
        PRIMARY KEY (chat_id, message_id, number)
    );
    """,
    # 4: forum topics — one topic per correspondent in chats whose route asks for it
    """
    CREATE TABLE topics (
        chat_id      INTEGER NOT NULL,
        account      TEXT NOT NULL,
        counterparty TEXT NOT NULL,
        line         TEXT,
        thread_id    INTEGER NOT NULL,
        PRIMARY KEY (chat_id, account, counterparty)
    );
    CREATE UNIQUE INDEX topics_thread ON topics (chat_id, thread_id);
    """,
    # 5: trust at the edges — unknown sends are looked up a limited number of times; the outbox
    # also edits a send's chat message (its rows name the send, so repeated edits collapse)
    """
    ALTER TABLE sends ADD COLUMN lookups INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX sends_unknown ON sends (id) WHERE state = 'unknown';
    ALTER TABLE outbox ADD COLUMN send_id INTEGER;
    """,
    # 6: the low-credit alert that stands, per account, in a table of its own (was a cursor)
    """
    CREATE TABLE credit_alerts (account TEXT PRIMARY KEY, standing INTEGER NOT NULL);
    INSERT INTO credit_alerts (account, standing)
        SELECT account, value = '1' FROM cursors WHERE name = 'low_credit';
    DELETE FROM cursors WHERE name = 'low_credit';
    """,
    # 7: retention — what it selects by age, and what it follows from a pruned row
    """
    CREATE INDEX inbound_stored ON inbound (stored_at);
    CREATE INDEX sends_created ON sends (created_at);
    CREATE INDEX sends_inbound ON sends (inbound_id) WHERE inbound_id IS NOT NULL;
    CREATE INDEX audit_at ON audit (at);
    CREATE INDEX outbox_inbound ON outbox (inbound_id) WHERE inbound_id IS NOT NULL;
    CREATE INDEX outbox_send ON outbox (send_id) WHERE send_id IS NOT NULL;
    CREATE INDEX digest_items_inbound ON digest_items (inbound_id);
    CREATE INDEX message_links_inbound ON message_links (inbound_id) WHERE inbound_id IS NOT NULL;
    CREATE INDEX message_links_send ON message_links (send_id) WHERE send_id IS NOT NULL;
    """,
    # 8: opt-outs — numbers that asked an account not to text them (by SMS keyword or by hand),
    # and the one opted-out number a send goes to by an admin's explicit override
    """
    CREATE TABLE optouts (
        account    TEXT NOT NULL,
        number     TEXT NOT NULL,
        at         TEXT NOT NULL,
        source     TEXT NOT NULL CHECK (source IN ('sms', 'manual')),
        by_user    INTEGER,
        inbound_id INTEGER,
        PRIMARY KEY (account, number)
    );
    ALTER TABLE sends ADD COLUMN optout_override TEXT;
    """,
    # 9: bulk sends from a file — a text per recipient (NULL: the send's own text), the file a
    # send came from, recipients marked ``sending`` while their request is out (a restart resumes
    # the others and never these), and the files people sent the bot while their flow asks what
    # to do with them. A send an older version left mid-call has all its recipients in flight.
    """
    ALTER TABLE send_recipients ADD COLUMN text TEXT;
    ALTER TABLE sends ADD COLUMN file_info TEXT;
    UPDATE send_recipients SET state = 'sending'
        WHERE state = 'draft' AND send_id IN (SELECT id FROM sends WHERE state = 'sending');
    CREATE TABLE uploads (
        id         INTEGER PRIMARY KEY,
        created_at TEXT NOT NULL,
        user_id    INTEGER NOT NULL,
        chat_id    INTEGER NOT NULL,
        file_name  TEXT NOT NULL,
        header     TEXT NOT NULL,
        rows       TEXT NOT NULL,
        first_row  INTEGER NOT NULL
    );
    CREATE INDEX uploads_created ON uploads (created_at);
    """,
    # 10: the phonebook (a name per number, labels to send to, a note) and saved texts
    """
    CREATE TABLE contacts (
        number     TEXT PRIMARY KEY,
        name       TEXT NOT NULL,
        labels     TEXT NOT NULL DEFAULT '',
        note       TEXT NOT NULL DEFAULT '',
        folded     TEXT NOT NULL DEFAULT '',
        by_user    INTEGER,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX contacts_name ON contacts (name COLLATE NOCASE);
    CREATE TABLE templates (
        id         INTEGER PRIMARY KEY,
        name       TEXT NOT NULL UNIQUE COLLATE NOCASE,
        text       TEXT NOT NULL,
        by_user    INTEGER,
        updated_at TEXT NOT NULL
    );
    """,
    # 11: search — the folded text of every SMS and confirmed send (storage/search.py), and the
    # indexes that find a number's SMS
    """
    CREATE VIRTUAL TABLE inbound_fts USING fts5(body, tokenize = 'unicode61 remove_diacritics 2');
    CREATE VIRTUAL TABLE send_fts USING fts5(body, tokenize = 'unicode61 remove_diacritics 2');
    INSERT INTO inbound_fts (rowid, body) SELECT id, smsbridge_fold(text) FROM inbound;
    INSERT INTO send_fts (rowid, body)
        SELECT id, smsbridge_fold(text) FROM sends WHERE confirmed_at IS NOT NULL;
    CREATE INDEX inbound_sender ON inbound (sender);
    CREATE INDEX send_recipients_number ON send_recipients (number);
    """,
    # 12: SMS events for other systems (storage/events.py) — a log written in the transaction of
    # what it tells, and each webhook endpoint's place in it
    """
    CREATE TABLE events (
        id      INTEGER PRIMARY KEY,
        at      TEXT NOT NULL,
        type    TEXT NOT NULL,
        account TEXT,
        line    TEXT,
        data    TEXT NOT NULL
    );
    CREATE INDEX events_at ON events (at);
    CREATE TABLE webhook_cursors (
        url           TEXT PRIMARY KEY,
        last_id       INTEGER NOT NULL,
        failures      INTEGER NOT NULL DEFAULT 0,
        failing_since TEXT,
        last_error    TEXT
    );
    """,
    # 13: several replicas on one PostgreSQL (storage/cluster.py) — leases for the work that
    # must run once at a time, the replica that runs a send (a dead one's sends are recovered),
    # and the Bot API calls of the last minute (Telegram's limits are the bot's, not a replica's)
    """
    CREATE TABLE leases (
        name       TEXT PRIMARY KEY,
        holder     TEXT NOT NULL,
        expires_at REAL NOT NULL
    );
    ALTER TABLE sends ADD COLUMN runner TEXT;
    CREATE TABLE telegram_calls (
        chat_id INTEGER NOT NULL,
        at      REAL NOT NULL
    );
    CREATE INDEX telegram_calls_chat ON telegram_calls (chat_id, at);
    CREATE INDEX telegram_calls_at ON telegram_calls (at);
    """,
)


def _postgres(step: str) -> str:
    """A step's SQLite text in PostgreSQL's types: 64-bit integers (Telegram chat ids need
    them), identity keys, double precision."""
    for sqlite, postgres in (
        ("INTEGER PRIMARY KEY", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
        ("INTEGER", "BIGINT"),
        ("REAL", "DOUBLE PRECISION"),
        ("datetime('now')", "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')"),
    ):
        step = step.replace(sqlite, postgres)
    return step


def _edited(step: str, *edits: tuple[str, str]) -> str:
    for old, new in edits:
        assert old in step, old
        step = step.replace(old, new)
    return step


# PostgreSQL's steps are SQLite's in PostgreSQL's types, but where the two differ:
POSTGRES_STEPS: tuple[str, ...] = tuple(_postgres(step) for step in STEPS)
_P = list(POSTGRES_STEPS)
# 1: recipients keep their insertion order in a column of their own (SQLite has its rowid)
_P[0] = _edited(
    _P[0],
    (
        "CREATE TABLE send_recipients (",
        "CREATE TABLE send_recipients (\n        rowid BIGINT GENERATED ALWAYS AS IDENTITY,",
    ),
)
# 6: a comparison is a boolean, not a number
_P[5] = _edited(_P[5], ("SELECT account, value = '1'", "SELECT account, (value = '1')::int"))
# 10: case-insensitive names by lower(), as SQLite's NOCASE
_P[9] = _edited(
    _P[9],
    ("ON contacts (name COLLATE NOCASE)", "ON contacts (lower(name))"),
    ("name       TEXT NOT NULL UNIQUE COLLATE NOCASE,", "name       TEXT NOT NULL,"),
)
_P[9] += "CREATE UNIQUE INDEX templates_name ON templates (lower(name));\n"
# 11: search — words of the folded text in a trigram-indexed column (storage/search.py)
_P[10] = """
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE TABLE inbound_fts (rowid BIGINT PRIMARY KEY, body TEXT NOT NULL);
    CREATE TABLE send_fts (rowid BIGINT PRIMARY KEY, body TEXT NOT NULL);
    CREATE INDEX inbound_fts_body ON inbound_fts USING gin (body gin_trgm_ops);
    CREATE INDEX send_fts_body ON send_fts USING gin (body gin_trgm_ops);
    CREATE INDEX inbound_sender ON inbound (sender);
    CREATE INDEX send_recipients_number ON send_recipients (number);
    """
POSTGRES_STEPS = tuple(_P)
del _P


class SchemaTooNew(RuntimeError):
    """The database was written by a newer smsbridge; opening it could corrupt it."""


async def migrate(conn: aiosqlite.Connection) -> int:
    """Bring the schema to ``len(STEPS)``; returns the version the file had before."""
    cursor = await conn.execute("PRAGMA user_version")
    row = await cursor.fetchone()
    current = int(row[0]) if row else 0
    refuse_newer(current, "storage.path")
    for version in range(current, len(STEPS)):
        await conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in statements(STEPS[version]):
                await conn.execute(statement)
            await conn.execute(f"PRAGMA user_version = {version + 1}")
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
        await conn.execute("COMMIT")
    return current


def refuse_newer(current: int, where: str) -> None:
    if current > len(STEPS):
        raise SchemaTooNew(
            f"the database has schema version {current}, newer than this smsbridge "
            f"understands ({len(STEPS)}); upgrade smsbridge or use another {where}"
        )


def statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
