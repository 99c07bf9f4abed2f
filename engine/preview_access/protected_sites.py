"""The projects whose preview and build-id hosts ask for a password, in memory.

Every request to a site asks whether its host is locked, so the answer comes from this table,
never from the database. The table is reloaded whenever this process changes a preview
password or a project's name, and every REFRESH_SECONDS for the changes other instances make
(as engine.domains.served_domains does). A project's live host and its custom domains are
never locked: only build-id (`<id>--<project>`) and preview (`git-<slug>--<project>`) labels.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool

from engine.reloading import keep_reloading
from engine.sites.site_files import LIVE, parse_site_label
from sql.preview_passwords import protected_projects

log = logging.getLogger("slipway.sites")

REFRESH_SECONDS = 15.0


@dataclass(frozen=True, slots=True)
class ProtectedProject:
    id: int
    name: str
    version: int  # of its password: signed into unlock cookies, so a change ends them


class ProtectedSites:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool
        self._projects: dict[str, ProtectedProject] = {}

    def lock_for(self, label: str) -> ProtectedProject | None:
        """The protected project a site label belongs to, or None when the label is open."""
        if not self._projects:
            return None
        address = parse_site_label(label)
        if address is None or address.kind == LIVE:
            return None
        return self._projects.get(address.project)

    async def refresh(self) -> None:
        async with self.pool.connection() as conn:
            rows = await protected_projects(conn)
        self._projects = {row["name"]: ProtectedProject(row["id"], row["name"], row["version"])
                          for row in rows}

    async def keep_fresh(self) -> None:
        """Reload every REFRESH_SECONDS until cancelled; an outage keeps the last table."""
        await keep_reloading(self.refresh, REFRESH_SECONDS, "protected previews", log)
