"""Queries on deploy hooks; a hook is found by the SHA-256 of its token, never the token."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row


async def create_deploy_hook(conn: AsyncConnection, project_id: int,
                             token_hash: bytes) -> dict[str, Any]:
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(
        "INSERT INTO deploy_hooks (project_id, token_hash) VALUES (%s, %s) "
        "RETURNING id, project_id, created_at, last_used_at",
        (project_id, token_hash),
    )
    return await cursor.fetchone()


async def list_deploy_hooks(conn: AsyncConnection, project_id: int) -> list[dict[str, Any]]:
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(
        "SELECT id, project_id, created_at, last_used_at FROM deploy_hooks "
        "WHERE project_id = %s ORDER BY id", (project_id,),
    )
    return await cursor.fetchall()


async def delete_deploy_hook(conn: AsyncConnection, project_id: int, hook_id: int) -> bool:
    cursor = await conn.execute("DELETE FROM deploy_hooks WHERE id = %s AND project_id = %s",
                                (hook_id, project_id))
    return cursor.rowcount == 1


async def use_deploy_hook(conn: AsyncConnection, token_hash: bytes) -> dict[str, Any] | None:
    """The project (id, owner, branch) behind a hook token, marking the hook as used."""
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(
        """
        UPDATE deploy_hooks h SET last_used_at = now()
        FROM projects p
        WHERE h.token_hash = %s AND p.id = h.project_id
        RETURNING p.id, p.owner_id, p.branch
        """,
        (token_hash,),
    )
    return await cursor.fetchone()
