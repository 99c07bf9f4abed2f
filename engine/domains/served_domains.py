"""The verified custom domains, in memory, for the router that maps a Host to a site.

The router is synchronous and on the hot path, so it reads this table rather than the
database. The table is reloaded whenever this process changes a domain, and every
REFRESH_SECONDS for the changes other instances make (SPEC "Scale-out").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool

from engine.reloading import keep_reloading
from sql.domains import served_domains

log = logging.getLogger("slipway.domains")

REFRESH_SECONDS = 15.0


@dataclass(frozen=True)
class ServedDomain:
    project: str  # the project's name: its site label
    redirect_url: str | None  # where every request is sent with 308 (apex → www), or None


class ServedDomains:
    def __init__(self, pool: AsyncConnectionPool, url_for: Callable[[str], str]) -> None:
        self.pool = pool
        self.url_for = url_for  # a host's origin, as visitors reach it
        self._hosts: dict[str, ServedDomain] = {}

    def get(self, host: str) -> ServedDomain | None:
        """The domain for a request's host name (lower case, no port, no trailing dot)."""
        return self._hosts.get(host)

    async def refresh(self) -> None:
        async with self.pool.connection() as conn:
            rows = await served_domains(conn)
        self._hosts = {
            row["hostname"]: ServedDomain(
                row["project_name"],
                self.url_for(row["redirect_to"]) if row["redirect_to"] else None)
            for row in rows
        }

    async def keep_fresh(self) -> None:
        """Reload every REFRESH_SECONDS until cancelled; an outage keeps the last table."""
        await keep_reloading(self.refresh, REFRESH_SECONDS, "custom domains", log)
