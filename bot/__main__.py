"""The ``smsbridge`` command: init · run · demo · check · relay · backup · restore · webhooks."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import os
import re
import signal
import sys
from datetime import UTC
from pathlib import Path

from providers.base import ProviderError, RelayKind
from storage import files
from storage.db import SqliteDatabase, is_postgres
from storage.events import EventsRepo

from . import init, logs
from .app import account_facts, build_provider, open_database, running
from .config import Config, ConfigError, apply_reload, load_config
from .sending import parse_time

log = logging.getLogger("smsbridge")


def _load(path: str) -> Config:
    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"config error:\n{exc}", file=sys.stderr)
        raise SystemExit(2) from None


async def _run(config: Config, path: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGHUP, lambda: _reload(config, path))
    async with running(config):
        await stop.wait()


def _reload(config: Config, path: str) -> None:
    """SIGHUP: re-read the config file; apply what can change while running, name the rest."""
    try:
        new = load_config(path)
    except ConfigError as exc:
        log.error("reload refused, the running config stays: %s", exc)
        return
    applied, restart = apply_reload(config, new)
    if "logging.level" in applied:
        logging.getLogger().setLevel(config.logging.level)
    log.warning(
        "config reloaded from %s: %s%s",
        path,
        ", ".join(applied) or "nothing changed",
        f"; changed but needs a restart: {', '.join(restart)}" if restart else "",
    )


async def _check(config: Config) -> int:
    failures = 0
    for account in config.accounts:
        try:
            print(f"{account.name} ({account.provider}): ok, {await account_facts(account)}")
        except ProviderError as exc:
            failures += 1
            print(f"{account.name} ({account.provider}): FAILED — {exc}")
    return 1 if failures else 0


async def _relay(config: Config, action: str, name: str) -> int:
    account = config.account(name)
    if account is None:
        print(f"no account named {name!r}", file=sys.stderr)
        return 2
    provider = build_provider(account)
    try:
        if action == "list":
            for kind in RelayKind:
                for hook in await provider.relay_list(kind):
                    state = "active" if hook.active else "inactive"
                    print(f"{kind.value}\t{hook.id}\t{state}\t{masked(hook.url)}")
            return 0
        secret = getattr(account, "relay_secret", None)
        if not config.server.public_url or secret is None:
            print(
                "relay register needs [server] public_url and the account's relay_secret",
                file=sys.stderr,
            )
            return 2
        base = config.server.public_url.rstrip("/").lower()
        for kind in RelayKind:
            url = f"{base}/relay/{account.name}/{secret.get_secret_value()}/{kind.value}"
            hook = await provider.relay_register(kind, url)
            print(f"{kind.value}\t{hook.id}\tactive\t{masked(url)}")
        return 0
    except ProviderError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 1
    finally:
        await provider.aclose()


def _files(config: Config, args: argparse.Namespace) -> int:
    if config.storage.shared:
        print(
            f"{args.command} is for the SQLite file; on PostgreSQL use pg_dump and pg_restore "
            "(docs/operations.md)",
            file=sys.stderr,
        )
        return 2
    database = config.storage.path
    try:
        if args.command == "backup":
            size = files.backup(database, args.out)
            print(f"backed up {database} to {args.out} ({size:,} bytes, integrity ok)")
        else:
            kept = files.restore(args.backup, database)
            print(f"restored {args.backup} to {database}")
            if kept is not None:
                print(f"the database it replaced is kept as {kept}")
    except (OSError, files.InUse, files.NotABackup) as exc:
        print(f"{args.command} failed: {exc}", file=sys.stderr)
        return 1
    return 0


async def _migrate_storage(source: str, target: str) -> int:
    """The SQLite file (its bridge stopped) into an empty PostgreSQL database, checked."""
    from storage.postgres import PgDatabase, safe_url  # psycopg only for who uses it
    from storage.transfer import Mismatch, TargetNotEmpty, migrate_storage

    path = source.removeprefix("sqlite:")
    try:
        with files.exclusive(path):  # a running bridge holds it: stop it first
            sqlite = await SqliteDatabase.open(path)
            try:
                pg = await PgDatabase.open(target, os.environ.get("SMSBRIDGE_STORAGE_PASSWORD"))
                try:
                    await migrate_storage(sqlite, pg)
                finally:
                    await pg.close()
            finally:
                await sqlite.close()
    except (files.InUse, TargetNotEmpty, Mismatch, OSError) as exc:
        print(f"migrate-storage failed: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # the server refused: credentials, a missing database
        print(f"migrate-storage failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f'done: set [storage] url = "{safe_url(target)}" and start the replicas')
    return 0


async def _webhooks(config: Config, action: str, since: str | None, url: str | None) -> int:
    """``list``: each endpoint's place in the event log, what waits, and its last failure;
    ``replay``: the endpoints (or one) read the log again from ``since``. Works beside a running
    bridge (its workers read their place from the database at each pass)."""
    db = await open_database(config)
    try:
        events = EventsRepo(db)
        if action == "replay":
            if since is None:
                print("replay needs --since (a date or time, Jalali or Gregorian)", file=sys.stderr)
                return 2
            moment = parse_time(since).astimezone(UTC).isoformat(timespec="seconds")
            count = await events.rewind(url, await events.first_since(moment))
            print(f"{count} endpoint(s) will send again every event since {since}")
            return 0
        configured = {h.url for h in config.webhooks}
        for cursor in await events.cursors():
            waiting = await events.backlog(cursor.last_id)
            state = (
                f"failing since {cursor.failing_since}: {cursor.last_error}"
                if cursor.failures
                else "ok"
            )
            note = "" if cursor.url in configured else " (no longer in the config)"
            print(f"{cursor.url}{note}: at event {cursor.last_id}, {waiting} waiting, {state}")
        return 0
    finally:
        await db.close()


def _version() -> str:
    import importlib.metadata  # for --version only: 30 ms of every start otherwise

    try:
        return importlib.metadata.version("smsbridge")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def masked(url: str) -> str:
    """A relay URL as it may be shown: the path secret replaced by ``***``."""
    return re.sub(r"(/relay/[^/]+/)[^/]+(/)", r"\1***\2", url)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="smsbridge", description=__doc__)
    parser.add_argument("--version", action="version", version=f"smsbridge {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the bridge")
    run.add_argument("--config", required=True)
    check = sub.add_parser("check", help="validate the config and reach every account")
    check.add_argument("--config", required=True)
    sub.add_parser("demo", help="the whole bridge offline, with a terminal chat")
    first = sub.add_parser("init", help="write a first config from a few questions")
    first.add_argument("--config", default="config.toml", help="the file to write (a new one)")
    relay = sub.add_parser("relay", help="manage AmootSMS relay URLs")
    relay.add_argument("action", choices=["register", "list"])
    relay.add_argument("--account", required=True)
    relay.add_argument("--config", required=True)
    backup = sub.add_parser("backup", help="copy the database while the bridge runs")
    backup.add_argument("--config", required=True)
    backup.add_argument("out", help="the copy to write (a new file)")
    restore = sub.add_parser("restore", help="put a backup in place (the bridge stopped)")
    restore.add_argument("--config", required=True)
    restore.add_argument("backup", help="a file written by smsbridge backup")
    move = sub.add_parser(
        "migrate-storage", help="copy a stopped bridge's SQLite file into an empty PostgreSQL"
    )
    move.add_argument("--from", dest="source", required=True, help="sqlite:PATH")
    move.add_argument("--to", dest="target", required=True, help="postgresql://user@host/db")
    hooks = sub.add_parser("webhooks", help="webhook endpoints: their place, and replays")
    hooks.add_argument("action", choices=["list", "replay"])
    hooks.add_argument("--config", required=True)
    hooks.add_argument("--since", help="replay: from this date or time (Tehran)")
    hooks.add_argument("--url", help="replay: this endpoint only (default: every one)")
    args = parser.parse_args(argv)

    if args.command == "demo":
        from sandbox.demo import main as demo_main

        return demo_main(lambda path: running(load_config(path)))
    if args.command == "init":
        return init.run(args.config)
    if args.command == "migrate-storage":
        if not args.source.startswith("sqlite:") or not is_postgres(args.target):
            print("use --from sqlite:PATH --to postgresql://user@host/database", file=sys.stderr)
            return 2
        if not Path(args.source.removeprefix("sqlite:")).is_file():
            print(f"{args.source}: no such file", file=sys.stderr)
            return 2
        return asyncio.run(_migrate_storage(args.source, args.target))
    config = _load(args.config)
    if args.command in ("backup", "restore"):
        return _files(config, args)  # they say what they did on stdout; nothing to log
    if args.command == "webhooks":
        return asyncio.run(_webhooks(config, args.action, args.since, args.url))
    logs.setup(config.logging.level, config.logging.file, config.secrets(), config.logging.format)
    if args.command == "run":
        try:
            asyncio.run(_run(config, args.config))
        except files.InUse as exc:
            print(f"not started: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:  # only binding [server]'s port says it
                raise
            where = f"{config.server.host}:{config.server.port}"
            print(
                f"not started: {where} is in use (another smsbridge, or another server, listens "
                "there): stop it or set another [server] port",
                file=sys.stderr,
            )
            return 2
        return 0
    if args.command == "check":
        return asyncio.run(_check(config))
    return asyncio.run(_relay(config, args.action, args.account))


if __name__ == "__main__":
    sys.exit(main())
