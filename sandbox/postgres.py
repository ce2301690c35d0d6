"""A throwaway PostgreSQL server for the tests, the demo and the benchmarks: ``initdb`` in a
temporary directory, ``postgres`` on a loopback port, stopped and removed afterwards.

The server refuses to run as root; as root (CI), it runs as the unprivileged ``nobody``, which
owns the data directory. ``available()`` says why a server cannot be had on this machine.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from httpserve import free_port

# Debian's server binaries (postgresql-15), or whatever initdb is on PATH
CANDIDATES = (
    "/usr/lib/postgresql/15/bin",
    "/usr/lib/postgresql/16/bin",
    "/usr/lib/postgresql/17/bin",
)
RUN_AS = "nobody"


def _bin_dir() -> Path | None:
    for candidate in CANDIDATES:
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _as_user() -> dict[str, Any]:
    """subprocess arguments that run the server unprivileged when we are root."""
    if os.geteuid() != 0:
        return {}
    user = pwd.getpwnam(RUN_AS)
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def available() -> str | None:
    """None when a server can be started here; else why not."""
    if _bin_dir() is None:
        return "no PostgreSQL server binaries (initdb) on this machine"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(RUN_AS)
        except KeyError:
            return f"running as root and there is no user {RUN_AS!r} to run the server as"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed"
    return None


@dataclass
class Cluster:
    port: int
    directory: Path
    process: subprocess.Popen[bytes]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" STRATEGY FILE_COPY')
        return self.url(name)

    def log(self) -> str:
        path = self.directory / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextlib.contextmanager
def cluster(*, durable: bool = False) -> Iterator[Cluster]:
    """A server of its own; ``durable`` keeps fsync on (the benchmarks), else it is off (the
    tests are about behaviour, not power cuts, and run faster)."""
    why = available()
    if why is not None:
        raise RuntimeError(why)
    bin_dir = _bin_dir()
    assert bin_dir is not None
    top = Path(tempfile.mkdtemp(prefix="smsbridge-pg-"))
    data = top / "data"
    as_user = _as_user()
    if as_user:
        os.chown(top, as_user["user"], as_user["group"])
        top.chmod(0o700)
    env = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8")
    subprocess.run(
        [
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
        env=env,
        **as_user,
    )
    port = free_port()
    settings = [
        "listen_addresses=127.0.0.1",
        f"port={port}",
        f"unix_socket_directories={top}",
        "max_connections=200",
        "shared_buffers=32MB",
    ]
    if not durable:
        settings += ["fsync=off", "synchronous_commit=off", "full_page_writes=off"]
    args = [str(bin_dir / "postgres"), "-D", str(data)]
    for setting in settings:
        args += ["-c", setting]
    log = (top / "server.log").open("wb")
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, **as_user)
    found = Cluster(port, top, process)
    try:
        _wait_ready(found)
        yield found
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        shutil.rmtree(top, ignore_errors=True)


def _wait_ready(found: Cluster) -> None:
    import psycopg

    deadline = time.monotonic() + 30
    while True:
        if found.process.poll() is not None:
            raise RuntimeError(f"postgres exited at start:\n{found.log()[-2000:]}")
        try:
            psycopg.connect(found.url(), connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"postgres did not start:\n{found.log()[-2000:]}") from None
            time.sleep(0.1)
