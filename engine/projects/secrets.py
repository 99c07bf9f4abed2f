"""Project secrets: write-only values, AES-256-GCM-sealed to their project and name.

Values are decrypted only by the build that needs them; this module never returns one.
"""

from __future__ import annotations

from typing import Any

from psycopg_pool import AsyncConnectionPool

from engine.crypto import SecretBox
from engine.errors import Invalid, NotFound
from engine.ownership import require_owned_project
from engine.projects.project_rules import check_secret, check_secret_environments
from sql.secrets import delete_secret, list_secret_names, put_secret, set_secret_environments


class Secrets:
    def __init__(self, pool: AsyncConnectionPool, box: SecretBox) -> None:
        self.pool = pool
        self.box = box

    async def names(self, owner_id: int, project_id: int) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn:
            await require_owned_project(conn, owner_id, project_id)
            return await list_secret_names(conn, project_id)

    async def put(self, owner_id: int, project_id: int, name: str, value: str,
                  environments: Any = None) -> bool:
        """Create or replace; True when created. `environments` (production, preview) left
        out gives a new secret both and keeps a replaced one's."""
        check_secret(name, value)
        chosen = None if environments is None else check_secret_environments(environments)
        nonce, ciphertext = self.box.seal(value, "secret", project_id, name)
        async with self.pool.connection() as conn:
            await require_owned_project(conn, owner_id, project_id)
            return await put_secret(conn, project_id, name, nonce, ciphertext, chosen)

    async def set_environments(self, owner_id: int, project_id: int, name: str,
                               environments: Any) -> None:
        """Change where an existing secret is given without sending its value again (the
        dashboard's checkboxes), since the value can never be read back to resend."""
        check_secret(name)
        chosen = check_secret_environments(environments)
        async with self.pool.connection() as conn:
            await require_owned_project(conn, owner_id, project_id)
            if not await set_secret_environments(conn, project_id, name, chosen):
                raise Invalid(f"value is required: there is no secret named {name} yet",
                              field="value")

    async def delete(self, owner_id: int, project_id: int, name: str) -> None:
        async with self.pool.connection() as conn:
            await require_owned_project(conn, owner_id, project_id)
            if not await delete_secret(conn, project_id, name):
                raise NotFound(f"no secret named {name}")
