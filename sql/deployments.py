"""Queries on deployments. A project has at most one `live` deployment (a unique index), so
going live is: the old live one becomes superseded (or rolled_back), the new one live, in one
transaction."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row


async def _rows(conn: AsyncConnection, query: str, params: tuple) -> list[dict[str, Any]]:
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(query, params)
    return await cursor.fetchall()


async def lock_project(conn: AsyncConnection, project_id: int) -> None:
    """Take the project's row lock until the transaction ends: two deploys (an upload and a
    build, a rollback and a build) going live at once take turns instead of both demoting
    the live deployment and one of them failing on the one-live-deployment index."""
    await conn.execute("SELECT 1 FROM projects WHERE id = %s FOR UPDATE", (project_id,))


async def record_live(conn: AsyncConnection, project_id: int, build_id: int, url: str,
                      production_url: str) -> dict[str, Any]:
    """A new live deployment; the previous live one becomes superseded. Call in a
    transaction."""
    await lock_project(conn, project_id)
    await conn.execute("UPDATE deployments SET status = 'superseded' "
                       "WHERE project_id = %s AND status = 'live'", (project_id,))
    [deployment] = await _rows(
        conn,
        "INSERT INTO deployments (project_id, build_id, status, url) "
        "VALUES (%s, %s, 'live', %s) "
        "RETURNING *, (SELECT trigger FROM builds WHERE builds.id = build_id) AS trigger",
        (project_id, build_id, url),
    )
    await conn.execute("UPDATE projects SET production_url = %s, updated_at = now() "
                       "WHERE id = %s", (production_url, project_id))
    return deployment


async def make_live_again(conn: AsyncConnection, deployment: dict[str, Any]) -> dict[str, Any]:
    """Roll back to `deployment`: the current live one becomes rolled_back. In a transaction."""
    await lock_project(conn, deployment["project_id"])
    await conn.execute("UPDATE deployments SET status = 'rolled_back' "
                       "WHERE project_id = %s AND status = 'live'", (deployment["project_id"],))
    [row] = await _rows(
        conn, "UPDATE deployments SET status = 'live' WHERE id = %s "
        "RETURNING *, (SELECT trigger FROM builds WHERE builds.id = build_id) AS trigger",
        (deployment["id"],))
    return row


async def get_deployment(conn: AsyncConnection, owner_id: int,
                         deployment_id: int) -> dict[str, Any] | None:
    rows = await _rows(
        conn,
        "SELECT d.*, p.name AS project_name, b.branch, b.commit_sha, b.trigger "
        "FROM deployments d JOIN projects p ON p.id = d.project_id "
        "JOIN builds b ON b.id = d.build_id WHERE d.id = %s AND p.owner_id = %s",
        (deployment_id, owner_id),
    )
    return rows[0] if rows else None


async def list_deployments(conn: AsyncConnection, project_id: int, before: int | None,
                           limit: int) -> list[dict[str, Any]]:
    return await _rows(
        conn,
        "SELECT d.*, b.trigger FROM deployments d JOIN builds b ON b.id = d.build_id "
        "WHERE d.project_id = %s AND d.id < %s ORDER BY d.id DESC LIMIT %s",
        (project_id, before if before is not None else 2**63 - 1, limit),
    )
