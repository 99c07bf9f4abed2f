"""Queries on project secrets. Values are AES-256-GCM ciphertexts; listing never reads them."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row


async def list_secret_names(conn: AsyncConnection, project_id: int) -> list[dict[str, Any]]:
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(
        "SELECT name, environments, created_at, updated_at FROM secrets WHERE project_id = %s "
        "ORDER BY name",
        (project_id,),
    )
    return await cursor.fetchall()


async def put_secret(conn: AsyncConnection, project_id: int, name: str, nonce: bytes,
                     ciphertext: bytes, environments: list[str] | None = None) -> bool:
    """Create or replace a secret; True when it was created. Without `environments` a new
    secret reaches every build and a replaced one keeps the environments it had."""
    cursor = await conn.execute(
        """
        INSERT INTO secrets (project_id, name, nonce, ciphertext, environments)
        VALUES (%(project)s, %(name)s, %(nonce)s, %(ciphertext)s,
                COALESCE(%(environments)s::text[], '{production,preview}'))
        ON CONFLICT (project_id, name) DO UPDATE
            SET nonce = EXCLUDED.nonce, ciphertext = EXCLUDED.ciphertext, updated_at = now(),
                environments = COALESCE(%(environments)s::text[], secrets.environments)
        RETURNING xmax = 0
        """,
        {"project": project_id, "name": name, "nonce": nonce, "ciphertext": ciphertext,
         "environments": environments},
    )
    return (await cursor.fetchone())[0]


async def set_secret_environments(conn: AsyncConnection, project_id: int, name: str,
                                  environments: list[str]) -> bool:
    """Change where an existing secret is given, leaving its value; False if there is none."""
    cursor = await conn.execute(
        "UPDATE secrets SET environments = %s, updated_at = now() "
        "WHERE project_id = %s AND name = %s",
        (environments, project_id, name),
    )
    return cursor.rowcount == 1


async def delete_secret(conn: AsyncConnection, project_id: int, name: str) -> bool:
    cursor = await conn.execute("DELETE FROM secrets WHERE project_id = %s AND name = %s",
                                (project_id, name))
    return cursor.rowcount == 1
