"""Queries on projects' preview passwords: the hash is read only where a password is checked."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row


async def protected_projects(conn: AsyncConnection) -> list[dict[str, Any]]:
    """Every project with a preview password: its name, id and password version."""
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute("SELECT id, name, preview_password_version AS version FROM projects "
                         "WHERE preview_password_hash IS NOT NULL")
    return await cursor.fetchall()


async def preview_password(conn: AsyncConnection, project_name: str) -> dict[str, Any] | None:
    """The project's id, password hash and version, or None when it has no preview password."""
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(
        "SELECT id, preview_password_hash AS hash, preview_password_version AS version "
        "FROM projects WHERE name = %s AND preview_password_hash IS NOT NULL", (project_name,))
    return await cursor.fetchone()


async def set_preview_password(conn: AsyncConnection, owner_id: int, project_id: int,
                               password_hash: str | None) -> None:
    """Set (or with None remove) the hash; the version goes up, so older cookies stop working."""
    await conn.execute(
        "UPDATE projects SET preview_password_hash = %s, updated_at = now(), "
        "preview_password_version = preview_password_version + 1 "
        "WHERE id = %s AND owner_id = %s", (password_hash, project_id, owner_id))
