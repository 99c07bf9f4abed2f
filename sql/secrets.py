"""Queries on project secrets. Values are AES-256-GCM ciphertexts; listing never reads them."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row


async def list_secret_names(conn: AsyncConnection, project_id: int) -> list[dict[str, Any]]:
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(
        "SELECT name, created_at, updated_at FROM secrets WHERE project_id = %s ORDER BY name",
        (project_id,),
    )
    return await cursor.fetchall()


async def put_secret(conn: AsyncConnection, project_id: int, name: str, nonce: bytes,
                     ciphertext: bytes) -> bool:
    """Create or replace a secret; True when it was created."""
    cursor = await conn.execute(
        """
        INSERT INTO secrets (project_id, name, nonce, ciphertext) VALUES (%s, %s, %s, %s)
        ON CONFLICT (project_id, name) DO UPDATE
            SET nonce = EXCLUDED.nonce, ciphertext = EXCLUDED.ciphertext, updated_at = now()
        RETURNING xmax = 0
        """,
        (project_id, name, nonce, ciphertext),
    )
    return (await cursor.fetchone())[0]


async def delete_secret(conn: AsyncConnection, project_id: int, name: str) -> bool:
    cursor = await conn.execute("DELETE FROM secrets WHERE project_id = %s AND name = %s",
                                (project_id, name))
    return cursor.rowcount == 1
