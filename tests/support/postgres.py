"""A real PostgreSQL server for the tests: the machine's PostgreSQL 15 binaries, a throw-away cluster made
by `initdb` in a temp dir, listening on 127.0.0.1 with a free port and a unix socket in that dir.

`initdb` and `postgres` refuse to run as root, and the tests run as root in CI: there both run as the
`postgres` user, which owns the temp dir. Nothing here touches a system cluster, its socket or port 5432.
The cluster is made for speed, not safety (fsync off): it is deleted at the end of the session anyway.

Use ``postgres_server`` (one cluster per session) and ``postgres_url`` (a fresh, empty database per test,
dropped after it): ``RAG_DATABASE_URL=postgres_url`` points the code under test at it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

from support.processes import free_port

# Newest first: the version the issue was checked with, then whatever else a machine has.
BIN_DIRS = [
    Path("/usr/lib/postgresql/15/bin"),
    *sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True),
]
INSTALL_HINT = "apt-get install postgresql-15 (or set RAG_TEST_PG_BIN to the folder of initdb and postgres)"
SERVICE_USER = "postgres"  # who runs the server when the tests run as root
SUPERUSER = "postgres"  # the database role made by initdb


class PostgresUnavailable(Exception):
    """PostgreSQL's server binaries are not installed here; the message says how to install them."""


def _bin_dir() -> Path:
    override = os.environ.get("RAG_TEST_PG_BIN")
    candidates = [Path(override)] if override else BIN_DIRS
    for directory in candidates:
        if (directory / "initdb").exists() and (directory / "postgres").exists():
            return directory
    found = shutil.which("initdb")
    if found and shutil.which("postgres"):
        return Path(found).parent
    raise PostgresUnavailable(f"PostgreSQL's initdb and postgres are not installed: {INSTALL_HINT}")


def _run_as() -> dict[str, Any]:
    """subprocess arguments that drop root to the postgres user (initdb refuses root); nothing otherwise."""
    if os.geteuid() != 0:
        return {}
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError as exc:
        raise PostgresUnavailable(
            f"the tests run as root and no {SERVICE_USER!r} user exists to run PostgreSQL as: {INSTALL_HINT}"
        ) from exc
    return {"user": SERVICE_USER}


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    socket_dir: Path
    bin_dir: Path

    def url(self, database: str = "postgres") -> str:
        """A libpq URL (what RAG_DATABASE_URL takes) for ``database`` over TCP on the loopback."""
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL as the superuser through the unix socket; returns psql's unaligned output."""
        done = subprocess.run(
            [
                str(self.bin_dir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                "-h", str(self.socket_dir), "-p", str(self.port), "-U", SUPERUSER, "-d", database, "-c", sql,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"psql failed ({done.returncode}) on {sql!r}: {done.stderr.strip()}")
        return done.stdout.strip()

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its URL."""
        name = name or f"test_{uuid.uuid4().hex[:12]}"
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop ``name``, disconnecting whoever is still connected (a pool a failed test left open)."""
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _ready(bin_dir: Path, socket_dir: Path, port: int) -> bool:
    probe = [str(bin_dir / "pg_isready"), "-q", "-h", str(socket_dir), "-p", str(port), "-U", SUPERUSER]
    return subprocess.run(probe, capture_output=True, timeout=10).returncode == 0


def _initdb(bin_dir: Path, data: Path, log: Path) -> None:
    base = [str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8"]
    # C.UTF-8 rather than C: like most real servers, a collation under which a plain index cannot serve
    # LIKE 'prefix%', so the ledger's prefix queries are tested against what production has.
    for locale in ("--locale=C.UTF-8", "--no-locale"):
        done = subprocess.run([*base, locale], capture_output=True, text=True, timeout=120, **_run_as())
        if done.returncode == 0:
            return
        shutil.rmtree(data, ignore_errors=True)
        log.write_text(done.stdout + done.stderr, encoding="utf-8")
    raise RuntimeError(f"initdb failed: {log.read_text(encoding='utf-8').strip()}")


@contextmanager
def running_postgres(ready_timeout_s: float = 30.0) -> Iterator[PostgresServer]:
    """PostgreSQL on a free loopback port with a fresh cluster; stopped and its files removed on exit."""
    bin_dir = _bin_dir()
    run_as = _run_as()
    workdir = Path(tempfile.mkdtemp(prefix="rag-pg-"))
    try:
        if run_as:
            entry = pwd.getpwnam(SERVICE_USER)
            os.chown(workdir, entry.pw_uid, entry.pw_gid)
        data = workdir / "data"
        log_path = workdir / "postgres.log"
        _initdb(bin_dir, data, workdir / "initdb.log")
        port = free_port()
        log = log_path.open("w")
        # In the foreground as our child, so the teardown can stop it; a throw-away cluster needs no fsync.
        process = subprocess.Popen(
            [
                str(bin_dir / "postgres"), "-D", str(data), "-p", str(port),
                "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={workdir}",
                "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                "-c", "max_connections=200",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            **run_as,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + ready_timeout_s
            while not _ready(bin_dir, workdir, port):
                if process.poll() is not None:
                    raise RuntimeError(f"postgres exited with {process.returncode}: {log_path.read_text()}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"postgres not ready within {ready_timeout_s:.0f} s on port {port}")
                time.sleep(0.05)
            yield PostgresServer(host="127.0.0.1", port=port, socket_dir=workdir, bin_dir=bin_dir)
        finally:
            # SIGINT is PostgreSQL's "fast" shutdown: it disconnects clients (SIGTERM would wait for them).
            process.send_signal(signal.SIGINT)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _missing(reason: str) -> NoReturn:
    if os.environ.get("RAG_REQUIRE_ALL_TESTS") == "1":
        pytest.fail(f"the PostgreSQL tests must run here: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A running PostgreSQL shared by the whole session (each test takes its own database from it).

    Skips with the reason when PostgreSQL is not installed, except where RAG_REQUIRE_ALL_TESTS=1
    (scripts/test.sh sets it): there a missing PostgreSQL is a failure."""
    try:
        with running_postgres() as server:
            yield server
    except PostgresUnavailable as exc:
        _missing(str(exc))


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a fresh, empty database for one test; dropped after it."""
    url = postgres_server.create_database()
    try:
        yield url
    finally:
        postgres_server.drop_database(url.rsplit("/", 1)[1])
