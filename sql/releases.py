"""Queries on release pointers: which build each project's hosts serve (production is the live
deployment, branch previews are rows of `previews`), as web processes with S3 storage follow
them, and what pruning must spare."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from psycopg import AsyncConnection

from sql.notices import RELEASES_CHANGED, notify


@dataclass
class Pointers:
    """What one project's hosts serve."""

    project_id: int
    name: str
    live: int | None
    previews: dict[str, int] = field(default_factory=dict)

    @property
    def builds(self) -> set[int]:
        return ({self.live} if self.live is not None else set()) | set(self.previews.values())


_POINTERS = (
    "SELECT p.id, p.name, d.build_id, "
    "COALESCE((SELECT json_object_agg(v.slug, v.build_id) FROM previews v "
    "          WHERE v.project_id = p.id), '{}') "
    "FROM projects p LEFT JOIN deployments d ON d.project_id = p.id AND d.status = 'live'"
)


async def all_pointers(conn: AsyncConnection) -> dict[int, Pointers]:
    cursor = await conn.execute(_POINTERS)
    return {row[0]: Pointers(row[0], row[1], row[2], dict(row[3])) for row in
            await cursor.fetchall()}


async def project_pointers(conn: AsyncConnection, project_id: int) -> Pointers | None:
    cursor = await conn.execute(_POINTERS + " WHERE p.id = %s", (project_id,))
    row = await cursor.fetchone()
    return Pointers(row[0], row[1], row[2], dict(row[3])) if row else None


async def set_preview(conn: AsyncConnection, project_id: int, slug: str, build_id: int) -> None:
    await conn.execute(
        "INSERT INTO previews (project_id, slug, build_id) VALUES (%s, %s, %s) "
        "ON CONFLICT (project_id, slug) DO UPDATE SET build_id = EXCLUDED.build_id, "
        "updated_at = now()", (project_id, slug, build_id))


async def remove_preview(conn: AsyncConnection, project_id: int, slug: str) -> bool:
    cursor = await conn.execute(
        "DELETE FROM previews WHERE project_id = %s AND slug = %s", (project_id, slug))
    return cursor.rowcount > 0


async def published_build(conn: AsyncConnection, project: str, build_id: int) -> int | None:
    """The project id when `build_id` is a passed build of the project named `project` (its
    release may be fetched for its immutable host), else None."""
    cursor = await conn.execute(
        "SELECT p.id FROM builds b JOIN projects p ON p.id = b.project_id "
        "WHERE b.id = %s AND p.name = %s AND b.status = 'passed'", (build_id, project))
    row = await cursor.fetchone()
    return row[0] if row else None


async def builds_in_use(conn: AsyncConnection, project_id: int) -> set[int]:
    """Builds whose release pruning must keep: live, previewed, or still running (their
    upload may be under way in another process)."""
    cursor = await conn.execute(
        "SELECT build_id FROM deployments WHERE project_id = %s AND status = 'live' "
        "UNION SELECT build_id FROM previews WHERE project_id = %s "
        "UNION SELECT id FROM builds WHERE project_id = %s AND status IN ('queued', 'running')",
        (project_id, project_id, project_id))
    return {row[0] for row in await cursor.fetchall()}


async def announce_change(conn: AsyncConnection, project_id: int,
                          pruned: list[int] | None = None) -> None:
    """Tell every web process the project's pointers changed (sent at commit: call it in the
    transaction that changed them)."""
    await notify(conn, RELEASES_CHANGED, json.dumps({"project": project_id,
                                                     "pruned": pruned or []}))
