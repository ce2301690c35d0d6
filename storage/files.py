"""The database file as a whole: one bridge at a time on it, a consistent copy while it runs,
and putting a copy back while it does not.

A running bridge holds an advisory lock on ``<database>.lock`` (released by the kernel however the
process ends, ``kill -9`` included): a second bridge on the same file, or a restore under a
running one, is refused instead of corrupting what the first one does.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from .migrations import STEPS


class InUse(RuntimeError):
    """Another smsbridge process is running on this database."""


class NotABackup(ValueError):
    """The file is not a sound smsbridge database (or it is from a newer smsbridge)."""


def _lock_path(database: str | Path) -> Path:
    return Path(f"{database}.lock")


@contextlib.contextmanager
def exclusive(database: str | Path) -> Iterator[None]:
    """Hold the database for this process; ``InUse`` when another process holds it."""
    fd = os.open(_lock_path(database), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InUse(f"{database} is in use by a running smsbridge") from None
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _check(conn: sqlite3.Connection, what: str) -> int:
    """The schema version of a sound smsbridge database, or ``NotABackup``."""
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        raise NotABackup(f"{what}: not an SQLite database ({exc})") from None
    if not integrity or integrity[0] != "ok":
        raise NotABackup(f"{what}: integrity check failed: {integrity}")
    if not {"meta", "inbound", "sends"} <= tables:
        raise NotABackup(f"{what}: not an smsbridge database")
    if version > len(STEPS):
        raise NotABackup(f"{what}: written by a newer smsbridge (schema {version})")
    return version


def backup(database: str | Path, out: str | Path) -> int:
    """Copy the database to ``out`` (a new file) consistently, while a bridge may be writing to
    it: SQLite's online backup in one step is one read transaction, so the copy holds exactly what
    was committed when it started. The copy is checked before it gets its name. Returns its size
    in bytes."""
    target = Path(out)
    if target.exists():
        raise FileExistsError(f"{target} exists: name another file (a backup never overwrites)")
    _copy(str(database), target)
    return target.stat().st_size


def restore(backup_file: str | Path, database: str | Path) -> Path | None:
    """Put a backup in the database's place; only while no bridge runs on it. The file it
    replaces is kept beside it (returned), never deleted."""
    source = Path(backup_file)
    if not source.is_file():
        raise FileNotFoundError(f"{source}: no such file")
    with contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as conn:
        _check(conn, str(source))
    target = Path(database)
    with exclusive(target):
        # The copy is made and checked beside the database first: if that fails (a full disk),
        # the database in place has not been touched.
        staged = target.with_name(f".{target.name}.restoring")
        staged.unlink(missing_ok=True)
        _copy(f"file:{source}?mode=ro", staged)
        kept = None
        if target.exists():
            with contextlib.closing(sqlite3.connect(target)) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything into the main file
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            kept = target.with_name(f"{target.name}.before-restore-{stamp}")
            os.replace(target, kept)
        for suffix in ("-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        os.replace(staged, target)
    return kept


def _copy(source: str, target: Path) -> None:
    """SQLite's online backup of ``source`` (a path or a URI) into a new file, checked, then
    given its name; until then it is a hidden ``.partial`` file that nothing else reads."""
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        with (
            contextlib.closing(sqlite3.connect(source, timeout=30, uri=True)) as src,
            contextlib.closing(sqlite3.connect(partial)) as dst,
        ):
            src.backup(dst)  # one step: one read transaction, one consistent moment
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            _check(dst, str(target))
        os.chmod(partial, 0o600)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)  # a failed copy leaves nothing half-written behind
        raise
