"""Project secrets: write-only values, AES-256-GCM-sealed to their project and name.

Values are decrypted only by the build that needs them; this module never returns one.
"""

from __future__ import annotations

from typing import Any

from psycopg_pool import AsyncConnectionPool

from engine.crypto import SecretBox
from engine.errors import NotFound
from engine.ownership import require_owned_project
from engine.projects.project_rules import check_secret
from sql.secrets import delete_secret, list_secret_names, put_secret


class Secrets:
    def __init__(self, pool: AsyncConnectionPool, box: SecretBox) -> None:
        self.pool = pool
        self.box = box

    async def names(self, owner_id: int, project_id: int) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn:
            await require_owned_project(conn, owner_id, project_id)
            return await list_secret_names(conn, project_id)

    async def put(self, owner_id: int, project_id: int, name: str, value: str) -> bool:
        """Create or replace; True when created."""
        check_secret(name, value)
        nonce, ciphertext = self.box.seal(value, "secret", project_id, name)
        async with self.pool.connection() as conn:
            await require_owned_project(conn, owner_id, project_id)
            return await put_secret(conn, project_id, name, nonce, ciphertext)

    async def delete(self, owner_id: int, project_id: int, name: str) -> None:
        async with self.pool.connection() as conn:
            await require_owned_project(conn, owner_id, project_id)
            if not await delete_secret(conn, project_id, name):
                raise NotFound(f"no secret named {name}")
