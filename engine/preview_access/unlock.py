"""Unlocking a protected preview: a typed password checked against the project's hash.

The one place a visitor's password attempt is judged: the throttle first (so a blocked
address costs no hashing), then the hash read from the database (the serving path never reads
it), compared off the event loop; a match is answered with a signed cookie for the project's
current password version.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool

from engine.preview_access.cookies import PreviewCookies
from engine.preview_access.passwords import MAX_PASSWORD_CHARS, password_matches
from engine.preview_access.throttle import UnlockThrottle
from engine.sites.site_files import LIVE, parse_site_label
from sql.preview_passwords import preview_password

OPEN, UNLOCKED, WRONG, THROTTLED = "open", "unlocked", "wrong", "throttled"


@dataclass(frozen=True)
class Attempt:
    outcome: str  # OPEN (nothing to unlock), UNLOCKED, WRONG or THROTTLED
    cookie: str | None = None  # with UNLOCKED
    retry_after: int | None = None  # seconds, with THROTTLED


class PreviewUnlock:
    def __init__(self, pool: AsyncConnectionPool, cookies: PreviewCookies,
                 throttle: UnlockThrottle | None = None) -> None:
        self.pool, self.cookies = pool, cookies
        self.throttle = throttle or UnlockThrottle()

    async def attempt(self, label: str, password: str, client: str) -> Attempt:
        """Judge one try at the site `label` from the address `client`."""
        address = parse_site_label(label)
        if address is None or address.kind == LIVE:
            return Attempt(OPEN)
        project = address.project
        wait = self.throttle.retry_after(project, client)
        if wait is not None:
            return Attempt(THROTTLED, retry_after=wait)
        async with self.pool.connection() as conn:
            stored = await preview_password(conn, project)
        if stored is None:
            return Attempt(OPEN)
        matches = len(password) <= MAX_PASSWORD_CHARS and await asyncio.get_running_loop() \
            .run_in_executor(None, password_matches, password, stored["hash"])
        if not matches:
            self.throttle.failed(project, client)
            return Attempt(WRONG)
        self.throttle.succeeded(project, client)
        return Attempt(UNLOCKED, self.cookies.issue(stored["id"], stored["version"], time.time()))
