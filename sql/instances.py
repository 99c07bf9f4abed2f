"""Queries on `instances`: the processes sharing the build queue, and their heartbeats.

A process registers at start and beats every few seconds; builds it runs carry its id in
`builds.runner`. Whoever sees a heartbeat older than the timeout fails that process's builds
(`sql.builds.fail_abandoned`), so a worker that died is noticed without waiting for its restart.
"""

from __future__ import annotations

from psycopg import AsyncConnection


async def register_instance(conn: AsyncConnection, instance: str, hostname: str, roles: str,
                            concurrency: int) -> None:
    """Insert or refresh this process's row (a restart keeps its id: same data directory)."""
    await conn.execute(
        "INSERT INTO instances (id, hostname, roles, concurrency) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (id) DO UPDATE SET hostname = EXCLUDED.hostname, roles = EXCLUDED.roles, "
        "concurrency = EXCLUDED.concurrency, started_at = now(), heartbeat_at = now()",
        (instance, hostname, roles, concurrency),
    )


async def beat(conn: AsyncConnection, instance: str) -> bool:
    """Record that the process is alive; False if its row is gone (it is re-registered)."""
    cursor = await conn.execute(
        "UPDATE instances SET heartbeat_at = now() WHERE id = %s", (instance,))
    return cursor.rowcount == 1


async def forget_instance(conn: AsyncConnection, instance: str) -> None:
    """A process stopping cleanly leaves nothing for the others to wait on."""
    await conn.execute("DELETE FROM instances WHERE id = %s", (instance,))


async def live_workers(conn: AsyncConnection, within_seconds: float) -> int:
    """How many processes that run builds have beaten within `within_seconds`."""
    cursor = await conn.execute(
        "SELECT count(*) FROM instances WHERE 'worker' = ANY (string_to_array(roles, ',')) "
        "AND heartbeat_at >= now() - make_interval(secs => %s)", (within_seconds,))
    return (await cursor.fetchone())[0]
