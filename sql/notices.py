"""PostgreSQL LISTEN/NOTIFY: how one process tells the others that something changed.

A notice is a wake-up, never the only record: what it announces is in a table, and every
listener also looks there on a timer, so a notice missed during a database outage delays the
work by one poll and loses nothing. Notices are delivered at commit, so one sent inside the
transaction that made the change is never seen before the change is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import psycopg
from psycopg import AsyncConnection

from sql.database import CONNECT_TIMEOUT_SECONDS, OUTAGE_ERRORS, describe_error

log = logging.getLogger(__name__)

# A build was queued: idle workers look for work.
BUILDS_QUEUED = "slipway_builds_queued"
# A running build was asked to stop (payload: its id): the process running it stops it.
BUILD_STOP = "slipway_build_stop"
# A user signed out or a token was revoked (payload: {user, token}): web processes close the
# sockets it opened.
SOCKETS_REVOKED = "slipway_sockets_revoked"

# A project's release pointers changed (payload: {project, pruned}): web processes serving
# releases from S3 bring their local copy in step (engine.storage.release_mirror).
RELEASES_CHANGED = "slipway_releases_changed"

RECONNECT_SECONDS = (0.5, 1.0, 2.0, 5.0)

NoticeHandler = Callable[[str], None]


async def notify(conn: AsyncConnection, channel: str, payload: str = "") -> None:
    await conn.execute("SELECT pg_notify(%s, %s)", (channel, payload))


class NoticeListener:
    """One dedicated connection LISTENing on the channels handlers subscribed to.

    Handlers run on the event loop and must return at once. After the connection is lost it
    reconnects, backing off, and calls every `on_reconnect` callback: notices sent meanwhile
    are gone, so subscribers look for what they missed.
    """

    def __init__(self, database_url: str) -> None:
        self._url = database_url
        self._handlers: dict[str, list[NoticeHandler]] = {}
        self._on_reconnect: list[Callable[[], None]] = []
        self.listening = asyncio.Event()

    def subscribe(self, channel: str, handler: NoticeHandler,
                  on_reconnect: Callable[[], None] | None = None) -> None:
        self._handlers.setdefault(channel, []).append(handler)
        if on_reconnect is not None:
            self._on_reconnect.append(on_reconnect)

    async def run(self) -> None:
        """Listen until cancelled."""
        failures = 0
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self._url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS)
            except OUTAGE_ERRORS as exc:
                await self._back_off(failures, exc)
                failures += 1
                continue
            try:
                async with conn:
                    for channel in self._handlers:
                        await conn.execute(f'LISTEN "{channel}"')
                    self.listening.set()
                    if failures:
                        log.info("listening for other processes' notices again")
                        for callback in self._on_reconnect:
                            callback()
                    failures = 0
                    async for notice in conn.notifies():
                        for handler in self._handlers.get(notice.channel, ()):
                            try:
                                handler(notice.payload)
                            except Exception:
                                log.exception("a %s notice could not be handled",
                                              notice.channel)
            except OUTAGE_ERRORS as exc:
                self.listening.clear()
                await self._back_off(failures, exc)
                failures += 1

    async def _back_off(self, failures: int, exc: BaseException) -> None:
        if failures == 0:
            log.warning("not listening for other processes' notices (database unavailable: "
                        "%s); polling until it is back", describe_error(exc))
        await asyncio.sleep(RECONNECT_SECONDS[min(failures, len(RECONNECT_SECONDS) - 1)])
