"""Deploy hooks: secret URLs that queue a build of a project's branch when POSTed to.

For Git hosts other than GitHub and for CI. The URL's token is shown once, at creation; only
its SHA-256 is stored, so a database leak does not leak working hooks.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from psycopg_pool import AsyncConnectionPool

from engine.errors import NotFound
from engine.ownership import require_owned_project
from sql.deploy_hooks import (
    create_deploy_hook,
    delete_deploy_hook,
    list_deploy_hooks,
    use_deploy_hook,
)

TOKEN_PREFIX = "dh_"  # noqa: S105 - a recognisable prefix, not a secret


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class DeployHooks:
    def __init__(self, pool: AsyncConnectionPool, public_url: str,
                 enqueue: Callable[..., Awaitable[dict[str, Any]]]) -> None:
        self.pool = pool
        self.public_url = public_url
        self.enqueue = enqueue

    async def create(self, owner_id: int, project_id: int) -> dict[str, Any]:
        """A new hook; its `url` (with the token) is only ever returned here."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        async with self.pool.connection() as conn:
            await require_owned_project(conn, owner_id, project_id)
            hook = await create_deploy_hook(conn, project_id, _hash(token))
        return {**hook, "url": f"{self.public_url}/api/hooks/{token}"}

    async def list(self, owner_id: int, project_id: int) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn:
            await require_owned_project(conn, owner_id, project_id)
            return await list_deploy_hooks(conn, project_id)

    async def delete(self, owner_id: int, project_id: int, hook_id: int) -> None:
        async with self.pool.connection() as conn:
            await require_owned_project(conn, owner_id, project_id)
            if not await delete_deploy_hook(conn, project_id, hook_id):
                raise NotFound("no such deploy hook")

    async def trigger(self, token: str) -> dict[str, Any]:
        """Queue a build of the hook's project branch; NotFound for an unknown token."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
            raise NotFound("no such deploy hook")
        async with self.pool.connection() as conn:
            project = await use_deploy_hook(conn, _hash(token))
        if project is None:
            raise NotFound("no such deploy hook")
        return await self.enqueue(project["id"], trigger="hook", branch=project["branch"])
