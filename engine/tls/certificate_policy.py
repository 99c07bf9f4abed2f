"""Which names may have a certificate: the hosts Slipway serves, and no other (SPEC: never
an arbitrary SNI name, which would let anyone spend the CA's rate limits and fill the
database). Asked before every handshake whose name has no certificate in memory yet.

- the dashboard's host (from SLIPWAY_PUBLIC_URL);
- `<project>.<domain>` for every existing project, deployed yet or not;
- `<build-id>--<project>` and `git-<branch>--<project>` hosts while a release is published
  there (engine.sites.site_files knows);
- verified custom domains.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from psycopg_pool import AsyncConnectionPool

from engine.config import Config
from engine.domains.served_domains import ServedDomains
from engine.sites.names import site_label
from engine.sites.site_files import LIVE, parse_site_label
from sql.projects import project_named

KNOWN_PROJECT_SECONDS = 60.0  # how long a project found by name is believed to exist


class CertificatePolicy:
    def __init__(self, pool: AsyncConnectionPool, config: Config, served: ServedDomains,
                 published: Callable[[str], Awaitable[bool]]) -> None:
        self.pool = pool
        self.config = config
        self.served = served
        # Whether a site label has a release (on disk; with S3, fetched on asking).
        self.published = published
        self._suffix = "." + config.domain
        self._projects: dict[str, float] = {}

    async def allowed(self, name: str) -> bool:
        host = name.lower().rstrip(".")
        if host == self.config.dashboard_host or self.served.get(host) is not None:
            return True
        label = site_label(host, self._suffix)
        address = parse_site_label(label) if label is not None else None
        if address is None:
            return False
        if address.kind != LIVE:
            return await self.published(label)
        return await self._project_exists(address.project)

    async def _project_exists(self, project: str) -> bool:
        now = time.monotonic()
        if self._projects.get(project, 0.0) > now:
            return True
        async with self.pool.connection() as conn:
            exists = await project_named(conn, project)
        if exists:
            if len(self._projects) > 10_000:
                self._projects.clear()
            self._projects[project] = now + KNOWN_PROJECT_SECONDS
        return exists
