"""The PostgreSQL server the suite runs against, and a fresh database for every test.

By default the suite starts its own embedded server (pgserver) in a temporary directory, so the
README's test command needs nothing installed. With SLIPWAY_TEST_DATABASE_URL it uses that server
instead (it must allow CREATE DATABASE). Either way the schema is migrated once into a template
database, and each test gets a copy of it: a file copy inside PostgreSQL, much faster than
migrating again, and no test ever sees another test's rows.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from sql.database import migrate
from sql.embedded import EmbeddedPostgres


class TestPostgres:
    """One server for the session: a migrated template, and databases copied from it."""

    __test__ = False  # not a test class, despite the name

    def __init__(self, run_sync: Callable[[Callable[[], Awaitable[Any]]], Any]) -> None:
        """`run_sync` runs a coroutine on the session's IOLoop (never a loop of its own)."""
        self._prefix = f"slipway_test_{os.getpid()}"
        self._counter = itertools.count(1)
        self._embedded: EmbeddedPostgres | None = None
        self._tmp: Path | None = None
        external = os.environ.get("SLIPWAY_TEST_DATABASE_URL")
        if external:
            self.admin_url = external
        else:
            self._tmp = Path(tempfile.mkdtemp(prefix="slipway-test-pg-", dir=_memory_backed_dir()))
            self._tmp.chmod(0o755)  # postgres runs as another OS user when the suite is root
            self._embedded = EmbeddedPostgres(self._tmp / "pg")
            self.admin_url = self._embedded.uri
            self._skip_durability()
        self.kind = "external" if external else "embedded"
        self.template = f"{self._prefix}_template"
        self._create(self.template)
        run_sync(lambda: migrate(self.url_for(self.template)))

    def url_for(self, dbname: str) -> str:
        return make_conninfo(self.admin_url, dbname=dbname)

    def new_database(self, *, template: bool = True) -> str:
        """Create a database (a copy of the migrated template, or empty) and return its URL."""
        name = f"{self._prefix}_{next(self._counter)}"
        self._create(name, self.template if template else None)
        return self.url_for(name)

    def drop_database(self, url: str) -> None:
        name = conninfo_to_dict(url)["dbname"]
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def close(self) -> None:
        """Drop what this session created and stop the embedded server."""
        try:
            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                rows = conn.execute(
                    "SELECT datname FROM pg_database WHERE datname LIKE %s",
                    (self._prefix + "%",),
                ).fetchall()
                for (name,) in rows:
                    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(name)))
        finally:
            if self._embedded is not None:
                self._embedded.stop()
            if self._tmp is not None:
                shutil.rmtree(self._tmp, ignore_errors=True)

    def _skip_durability(self) -> None:
        """A throwaway server needs no durability: fewer writes, faster tests."""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET fsync = off")
            conn.execute("ALTER SYSTEM SET synchronous_commit = off")
            conn.execute("ALTER SYSTEM SET full_page_writes = off")
            conn.execute("SELECT pg_reload_conf()")

    def _create(self, name: str, template: str | None = None) -> None:
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            query += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(query)


def _memory_backed_dir() -> str | None:
    """/dev/shm where it is writable: CREATE DATABASE copies ~7 MB of catalog files, which took
    0.3 s on this machine's disk and 15 ms in memory."""
    return "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
