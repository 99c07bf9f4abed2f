"""Schema migrations: numbered `.sql` files in this directory, applied in order at start.

All pending files run in one transaction under a PostgreSQL advisory lock, so two processes
starting at once apply each migration exactly once and a failing file leaves the schema as it
was. The ledger `schema_migrations` records each file's checksum; an applied file that was
edited afterwards stops start-up, since its change would otherwise silently never run.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

MIGRATIONS_DIR = Path(__file__).parent
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# pg_advisory_xact_lock key: "slipway" in ASCII, so it is recognisable in pg_locks.
MIGRATION_LOCK_KEY = int.from_bytes(b"slipway", "big")

_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(Exception):
    """The migration files or the ledger are inconsistent; the message says which file."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Read and order the migration files, refusing misnamed or duplicate versions."""
    migrations: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named like 0001_name.sql")
        version = int(match[1])
        if version in migrations:
            raise MigrationError(f"{path.name}: version {version} is used twice")
        migrations[version] = Migration(version, match[2], path.read_text())
    return [migrations[v] for v in sorted(migrations)]


async def apply_migrations(
    conn: psycopg.AsyncConnection, migrations: list[Migration] | None = None
) -> list[int]:
    """Apply the pending migrations; return the versions applied by this call."""
    if migrations is None:
        migrations = load_migrations()
    applied_now: list[int] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
        await conn.execute(_CREATE_LEDGER)
        cursor = await conn.execute("SELECT version, checksum FROM schema_migrations")
        ledger = dict(await cursor.fetchall())
        for migration in migrations:
            recorded = ledger.get(migration.version)
            if recorded is None:
                await conn.execute(migration.sql.encode())
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, migration.checksum),
                )
                applied_now.append(migration.version)
            elif recorded != migration.checksum:
                raise MigrationError(
                    f"{migration.version:04d}_{migration.name}.sql changed after it was applied; "
                    "add a new migration instead of editing an applied one"
                )
    return applied_now
