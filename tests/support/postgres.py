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
import re
import secrets
import shutil
import signal
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from sql.database import migrate
from sql.embedded import EmbeddedPostgres, living_users, postmaster_pid, process_exists


class TestPostgres:
    """One server for the session: a migrated template, and databases copied from it."""

    __test__ = False  # not a test class, despite the name

    def __init__(self, run_sync: Callable[[Callable[[], Awaitable[Any]]], Any]) -> None:
        """`run_sync` runs a coroutine on the session's IOLoop (never a loop of its own)."""
        # The pid says whose databases they are (for drop_abandoned_databases); the random part
        # keeps a later run that happens to get the same pid clear of anything left behind.
        self._prefix = f"{_DATABASE_PREFIX}{os.getpid()}_{secrets.token_hex(3)}"
        self._counter = itertools.count(1)
        self._embedded: EmbeddedPostgres | None = None
        self._tmp: Path | None = None
        external = os.environ.get("SLIPWAY_TEST_DATABASE_URL")
        if external:
            self.admin_url = external
            drop_abandoned_databases(external)
        else:
            remove_abandoned_servers(Path(_memory_backed_dir() or tempfile.gettempdir()))
            self._tmp = Path(tempfile.mkdtemp(prefix=_SERVER_DIR_PREFIX, dir=_memory_backed_dir()))
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


_SERVER_DIR_PREFIX = "slipway-test-pg-"
_DATABASE_PREFIX = "slipway_test_"


def drop_abandoned_databases(admin_url: str) -> list[str]:
    """Drop the databases that runs killed before their finalizers left on a shared server (each
    a copy of the template, several MB on the server's disk): those named for a process of this
    machine that is gone, and that nobody is connected to. Returns the names dropped."""
    dropped = []
    with psycopg.connect(admin_url, autocommit=True) as conn:
        names = [name for (name,) in conn.execute(
            "SELECT d.datname FROM pg_database d WHERE starts_with(d.datname, %s) AND NOT EXISTS"
            " (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)",
            (_DATABASE_PREFIX,))]
        for name in names:
            owner = re.match(re.escape(_DATABASE_PREFIX) + r"(\d+)_", name)
            if owner is None or process_exists(int(owner.group(1))):
                continue
            try:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            except psycopg.errors.ObjectInUse:
                continue  # somebody connected after all: not abandoned
            dropped.append(name)
    return dropped


def remove_abandoned_servers(parent: Path, *, settle: float = 600) -> list[Path]:
    """Stop and delete the embedded servers of earlier runs that were killed before their
    finalizers ran (SIGKILL, an out-of-memory kill, a lost terminal).

    Their data directories live in /dev/shm, which is memory: each costs tens of MB that nothing
    gives back until the machine restarts, and its orphaned postmaster keeps running. A
    directory is abandoned when no process pgserver recorded as its user is alive; one younger
    than `settle` seconds is left alone (a run starting now may not have recorded itself yet).
    Returns the directories removed."""
    removed = []
    for path in parent.glob(_SERVER_DIR_PREFIX + "*"):
        pgdata = path / "pg"
        try:
            if time.time() - path.stat().st_mtime < settle or living_users(pgdata):
                continue
        except OSError:
            continue
        _stop_postmaster(pgdata)
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _stop_postmaster(pgdata: Path) -> None:
    """PostgreSQL's immediate shutdown (SIGQUIT): the data is thrown away anyway."""
    pid = postmaster_pid(pgdata)
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGQUIT)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + 10
    while process_exists(pid) and time.monotonic() < deadline:
        time.sleep(0.1)


def _memory_backed_dir() -> str | None:
    """/dev/shm where it is writable: CREATE DATABASE copies ~7 MB of catalog files, which took
    0.3 s on this machine's disk and 15 ms in memory."""
    return "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
