"""Heartbeats: how the processes sharing the build queue learn that one of them died.

Every process that runs builds (workers, and web processes publishing upload deploys) keeps a
row in `instances` and beats into it every HEARTBEAT_SECONDS. Each beat also fails the builds
of any process that has not beaten for ABANDONED_AFTER_SECONDS, so a worker killed mid-build
has that build failed as interrupted within a minute, by whichever process notices first,
without waiting for the dead one to restart.

After a database outage every process's heartbeat is stale at once; a process only judges the
others once it has itself been beating for a full timeout again, so nobody fails builds of a
process that was merely cut off from the database like everyone else.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

from psycopg_pool import AsyncConnectionPool

from sql.builds import fail_abandoned
from sql.database import OUTAGE_ERRORS, describe_error
from sql.instances import beat, forget_instance, register_instance

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
ABANDONED_AFTER_SECONDS = 30.0

Announce = Callable[[dict[str, Any]], Awaitable[None]]


class Liveness:
    def __init__(self, pool: AsyncConnectionPool, runner_id: str, *, roles: str,
                 concurrency: int, announce: Announce,
                 after_beat: Callable[[], Awaitable[None]]) -> None:
        self.pool, self.runner_id = pool, runner_id
        self.roles, self.concurrency = roles, concurrency
        self._announce, self._after_beat = announce, after_beat
        self._healthy_since: float | None = None
        self.hostname = socket.gethostname()

    async def register(self) -> None:
        async with self.pool.connection() as conn:
            await register_instance(conn, self.runner_id, self.hostname, self.roles,
                                    self.concurrency)
        self._healthy_since = time.monotonic()

    async def run(self) -> None:
        """Beat until cancelled."""
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            try:
                await self.beat_once()
            except OUTAGE_ERRORS as exc:
                if self._healthy_since is not None:
                    log.warning("heartbeat not recorded (database unavailable: %s)",
                                describe_error(exc))
                self._healthy_since = None
            except Exception:
                log.exception("heartbeat failed")

    async def beat_once(self) -> None:
        async with self.pool.connection() as conn:
            if not await beat(conn, self.runner_id):
                await register_instance(conn, self.runner_id, self.hostname, self.roles,
                                        self.concurrency)
            now = time.monotonic()
            if self._healthy_since is None:
                self._healthy_since = now
            abandoned = []
            if now - self._healthy_since >= ABANDONED_AFTER_SECONDS:
                abandoned = await fail_abandoned(conn, ABANDONED_AFTER_SECONDS)
        for build in abandoned:
            log.warning("build %s failed: %s", build["id"], build["error"])
            await self._announce(build)
        await self._after_beat()

    async def forget(self) -> None:
        """Stopping cleanly: the others need not wait for a timeout to know."""
        try:
            async with self.pool.connection() as conn:
                await forget_instance(conn, self.runner_id)
        except OUTAGE_ERRORS:
            pass
