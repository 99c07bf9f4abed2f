"""Queries on builds."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row


async def queue_build(conn: AsyncConnection, project_id: int, *, trigger: str, branch: str,
                      commit_sha: str | None = None, commit_message: str | None = None,
                      commit_author: str | None = None) -> dict[str, Any]:
    """A new build row, `queued`, for the build engine to pick up."""
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(
        "INSERT INTO builds (project_id, trigger, branch, commit_sha, commit_message, "
        "commit_author) VALUES (%s, %s, %s, %s, %s, %s) RETURNING *",
        (project_id, trigger, branch, commit_sha, commit_message, commit_author),
    )
    return await cursor.fetchone()
