"""Slipway's database: an async connection pool, and the embedded server behind it if any.

`Database.open` is the one place that decides where PostgreSQL is (DATABASE_URL, or an embedded
server under the data directory), migrates the schema, and opens the pool; `close` undoes all
of it in reverse, so a stopped Slipway never leaves a PostgreSQL process behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import select
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from sql.embedded import EmbeddedPostgres
from sql.migrate import MigrationError, apply_migrations

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 10
# How long a request waits for a connection before it is answered 503: while the database is
# down, an answer within seconds beats a hang.
POOL_TIMEOUT_SECONDS = 2.0
SUPERVISE_SECONDS = 1.0

# PostgreSQL's default random_page_cost (4) models spinning disks. With it the planner answers
# "latest 20 builds of a project" by walking the whole primary key backwards when the project's
# builds are old (8 ms for 10,000 builds among 120,000, growing with the table) instead of using
# builds_project_newest (0.04 ms). 1.1 is the usual setting for SSDs; see tests/bench.
SESSION_OPTIONS = "-c random_page_cost=1.1"


# What a query raises while the server is down or unreachable (as opposed to a bad query).
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (psycopg.OperationalError, PoolTimeout)


class DatabaseUnavailable(Exception):
    """PostgreSQL could not be reached or prepared; the message is one line for the user."""


class Database:
    """The pool every query goes through, owning the embedded server when there is one."""

    def __init__(self, pool: AsyncConnectionPool, embedded: EmbeddedPostgres | None,
                 url: str) -> None:
        self.pool = pool
        self.url = url  # for connections outside the pool (LISTEN holds one for good)
        self.embedded = embedded
        self._supervisor: asyncio.Task[None] | None = None
        if embedded is not None:
            self._supervisor = asyncio.get_running_loop().create_task(self._supervise())

    @classmethod
    async def open(
        cls, database_url: str | None, data_dir: Path, *, max_size: int = 10
    ) -> Database:
        """Connect to `database_url`, or start the embedded server in `data_dir/pg`."""
        loop = asyncio.get_running_loop()
        embedded = None
        if database_url is None:
            try:
                embedded = await loop.run_in_executor(None, EmbeddedPostgres, data_dir / "pg")
            except Exception as exc:
                raise DatabaseUnavailable(
                    f"the embedded PostgreSQL in {data_dir / 'pg'} did not start: {exc}; "
                    f"its log is {data_dir / 'pg' / 'log'}"
                ) from exc
            database_url = embedded.uri
        try:
            await migrate(database_url)
            pool = AsyncConnectionPool(
                database_url,
                min_size=1,
                max_size=max_size,
                open=False,
                kwargs=connection_kwargs(database_url),
                name="slipway",
                timeout=POOL_TIMEOUT_SECONDS,
                # A connection the server dropped (it restarted) is replaced before use, so
                # the first request after an outage does not fail on a dead connection.
                check=check_pooled_connection,
                reconnect_timeout=float("inf"),  # keep trying however long an outage lasts
            )
            try:
                await pool.open(wait=True, timeout=CONNECT_TIMEOUT_SECONDS)
            except Exception:
                await pool.close()
                raise
        except BaseException:
            if embedded is not None:
                await loop.run_in_executor(None, embedded.stop)
            raise
        return cls(pool, embedded, database_url)

    async def close(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        await self.pool.close()
        if self.embedded is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.embedded.stop)

    async def _supervise(self) -> None:
        """Restart the embedded server whenever it dies: Slipway owns it, so nobody else
        will (an external DATABASE_URL server is its operator's; the pool reconnects)."""
        assert self.embedded is not None
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(SUPERVISE_SECONDS)
            try:
                if not await loop.run_in_executor(None, self.embedded.is_running):
                    log.warning("the embedded PostgreSQL stopped; restarting it")
                    await loop.run_in_executor(None, self.embedded.restart)
            except Exception:
                log.exception("the embedded PostgreSQL could not be restarted; retrying")

    async def check(self, timeout: float = 2.0) -> str:
        """'ok' when a query answers within `timeout` seconds, else why not."""
        try:
            async with self.pool.connection(timeout=timeout) as conn:
                await asyncio.wait_for(conn.execute("SELECT 1"), timeout)
        except Exception as exc:
            return f"database not reachable: {describe_error(exc)}"
        return "ok"


async def migrate(database_url: str) -> list[int]:
    """Bring the schema at `database_url` up to date; return the versions applied."""
    try:
        conn = await psycopg.AsyncConnection.connect(
            database_url, connect_timeout=CONNECT_TIMEOUT_SECONDS
        )
    except psycopg.Error as exc:
        raise DatabaseUnavailable(
            f"cannot connect to {redact_database_url(database_url)}: {describe_error(exc)}"
        ) from exc
    async with conn:
        try:
            applied = await apply_migrations(conn)
        except MigrationError as exc:
            raise DatabaseUnavailable(f"migrations: {exc}") from exc
        except psycopg.Error as exc:
            raise DatabaseUnavailable(f"a migration failed: {describe_error(exc)}") from exc
    if applied:
        log.info("applied migrations %s", ", ".join(f"{v:04d}" for v in applied))
    return applied


async def check_pooled_connection(conn: psycopg.AsyncConnection) -> None:
    """The pool's check of a connection it is about to hand out: raises when the connection is
    dead, so the pool replaces it. An idle, healthy connection has nothing to read; a server
    that restarted or dropped it has sent a termination notice or closed the socket, which
    makes it readable. Only then is a round trip made (psycopg_pool's check_connection): one
    on every checkout cost about 0.25 ms of the loop's CPU, as much as a small query."""
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the connection is closed")
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN | select.POLLPRI)
    if poller.poll(0):
        await AsyncConnectionPool.check_connection(conn)


def connection_kwargs(database_url: str) -> dict[str, object]:
    """Arguments for every connection of the application: autocommit, Slipway's settings."""
    options = conninfo_to_dict(database_url).get("options") or ""
    return {"autocommit": True, "options": f"{options} {SESSION_OPTIONS}".strip()}


def redact_database_url(url: str) -> str:
    """The URL with any password replaced, fit for a log line or an error message."""
    parts = urlsplit(url)
    if parts.password is None:
        return url if "password" not in url else "the configured database"
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def describe_error(exc: BaseException) -> str:
    """The first line of a driver error, without the driver's class names."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
