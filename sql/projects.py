"""Queries on projects, always scoped to their owner, each with its latest build and live
deployment fetched in the same query (no N+1 when listing)."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from pypika import Parameter, PostgreSQLQuery, Table
from pypika.functions import Now

_PROJECT_COLUMNS = (
    "id", "owner_id", "name", "repo_url", "branch", "install_command", "build_command",
    "output_dir", "root_dir", "framework", "node_version", "production_url", "github_repo",
    "webhook_id", "webhook_error", "created_at", "updated_at",
)
_BUILD_COLUMNS = ("id", "status", "trigger", "branch", "commit_sha", "commit_message",
                  "commit_author", "exit_code", "error", "created_at", "started_at",
                  "finished_at")
_DEPLOYMENT_COLUMNS = ("id", "build_id", "status", "url", "created_at")

# Settings a PATCH may change, and the columns a create may fill.
SETTING_COLUMNS = ("name", "repo_url", "branch", "install_command", "build_command",
                   "output_dir", "root_dir", "framework", "node_version", "github_repo")

# Built from the constant column lists above: no value is ever interpolated.
_SELECT = f"""
SELECT {", ".join(f"p.{c}" for c in _PROJECT_COLUMNS)},
       p.preview_password_hash IS NOT NULL AS preview_protected,
       {", ".join(f"b.{c} AS build_{c}" for c in _BUILD_COLUMNS)},
       {", ".join(f"d.{c} AS deployment_{c}" for c in _DEPLOYMENT_COLUMNS)}
FROM projects p
LEFT JOIN LATERAL (
    SELECT * FROM builds WHERE builds.project_id = p.id ORDER BY builds.id DESC LIMIT 1
) b ON true
LEFT JOIN deployments d ON d.project_id = p.id AND d.status = 'live'
"""  # noqa: S608


def _nest(row: dict[str, Any] | None) -> dict[str, Any] | None:
    """Fold the joined build_* and deployment_* columns into nested dicts (None if absent)."""
    if row is None:
        return None
    project = {c: row[c] for c in _PROJECT_COLUMNS}
    project["preview_protected"] = row["preview_protected"]
    build = {c: row[f"build_{c}"] for c in _BUILD_COLUMNS}
    deployment = {c: row[f"deployment_{c}"] for c in _DEPLOYMENT_COLUMNS}
    project["latest_build"] = build if build["id"] is not None else None
    project["live_deployment"] = deployment if deployment["id"] is not None else None
    return project


def _iso_time(column: str) -> str:
    """SQL for engine.times.iso_time of a timestamptz column: UTC, a Z, and microseconds only
    when there are some (as Python's isoformat writes them); NULL stays NULL."""
    return (f"to_char({column} AT TIME ZONE 'UTC', CASE WHEN date_trunc('second', {column}) = "
            f"""{column} THEN 'YYYY-MM-DD"T"HH24:MI:SS"Z"' """
            f"""ELSE 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"' END)""")


# handlers.models.project_model (with build_model and deployment_model) written in SQL: the
# same members in the same order, so a page of the list is built and encoded by PostgreSQL in
# one query and never becomes Python objects. tests/handlers/test_projects.py checks that
# every listed project equals what GET /api/projects/{id} answers through project_model.
_PROJECT_JSON = f"""
json_build_object(
    'id', p.id, 'name', p.name, 'repo_url', p.repo_url, 'github_repo', p.github_repo,
    'branch', p.branch, 'install_command', p.install_command,
    'build_command', p.build_command, 'output_dir', p.output_dir, 'root_dir', p.root_dir,
    'framework', p.framework, 'node_version', p.node_version,
    'production_url', p.production_url,
    'preview_protected', p.preview_password_hash IS NOT NULL,
    'webhook', CASE
        WHEN p.github_repo IS NULL THEN json_build_object('status', 'none', 'error', NULL)
        WHEN p.webhook_id IS NOT NULL THEN json_build_object('status', 'active', 'error', NULL)
        ELSE json_build_object('status', 'failed', 'error', p.webhook_error) END,
    'latest_build', CASE WHEN b.id IS NOT NULL THEN json_build_object(
        'id', b.id, 'project_id', p.id, 'status', b.status, 'trigger', b.trigger,
        'branch', b.branch, 'commit_sha', b.commit_sha, 'commit_message', b.commit_message,
        'commit_author', b.commit_author, 'preview', NULL, 'exit_code', b.exit_code,
        'error', b.error, 'created_at', {_iso_time("b.created_at")},
        'started_at', {_iso_time("b.started_at")},
        'finished_at', {_iso_time("b.finished_at")}) END,
    'live_deployment', CASE WHEN d.id IS NOT NULL THEN json_build_object(
        'id', d.id, 'project_id', p.id, 'build_id', d.build_id, 'trigger', NULL,
        'status', d.status, 'url', d.url, 'created_at', {_iso_time("d.created_at")}) END,
    'created_at', {_iso_time("p.created_at")}, 'updated_at', {_iso_time("p.updated_at")})
"""

# The page is taken from projects_owner (owner_id, id DESC) first, so only its rows are joined.
_PAGE_JSON = f"""
SELECT coalesce(json_agg({_PROJECT_JSON} ORDER BY p.id DESC), '[]')::text
FROM (SELECT * FROM projects WHERE owner_id = %s AND id < %s ORDER BY id DESC LIMIT %s) p
LEFT JOIN LATERAL (
    SELECT * FROM builds WHERE builds.project_id = p.id ORDER BY builds.id DESC LIMIT 1
) b ON true
LEFT JOIN deployments d ON d.project_id = p.id AND d.status = 'live'
"""  # noqa: S608 - built from constants only


async def list_projects_json(conn: AsyncConnection, owner_id: int, before: int | None,
                             limit: int) -> str:
    """A page of the owner's projects, newest first, as the JSON array the API answers:
    keyset on id, so any page costs what the first one does. At 1,000 projects, turning 50
    rows into dicts, models and JSON in Python cost more than the query itself."""
    cursor = await conn.execute(
        _PAGE_JSON, (owner_id, before if before is not None else 2**63 - 1, limit))
    return (await cursor.fetchone())[0]


async def get_project(conn: AsyncConnection, owner_id: int,
                      project_id: int) -> dict[str, Any] | None:
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(_SELECT + " WHERE p.id = %s AND p.owner_id = %s",
                         (project_id, owner_id))
    return _nest(await cursor.fetchone())


async def owns_project(conn: AsyncConnection, owner_id: int, project_id: int) -> bool:
    cursor = await conn.execute("SELECT 1 FROM projects WHERE id = %s AND owner_id = %s",
                                (project_id, owner_id))
    return await cursor.fetchone() is not None


async def all_project_ids(conn: AsyncConnection) -> set[int]:
    """Every project's id (start-up housekeeping keeps what these still need)."""
    cursor = await conn.execute("SELECT id FROM projects")
    return {row[0] for row in await cursor.fetchall()}


async def project_named(conn: AsyncConnection, name: str) -> bool:
    cursor = await conn.execute("SELECT 1 FROM projects WHERE name = %s", (name,))
    return await cursor.fetchone() is not None


async def project_has_repository(conn: AsyncConnection, project_id: int) -> bool:
    """Whether the project builds from Git (an upload-only project has no repo_url)."""
    cursor = await conn.execute("SELECT repo_url IS NOT NULL FROM projects WHERE id = %s",
                                (project_id,))
    row = await cursor.fetchone()
    return bool(row and row[0])


async def project_owner(conn: AsyncConnection, project_id: int) -> int | None:
    cursor = await conn.execute("SELECT owner_id FROM projects WHERE id = %s", (project_id,))
    row = await cursor.fetchone()
    return row[0] if row else None


async def owned_project_branch(conn: AsyncConnection, owner_id: int,
                               project_id: int) -> str | None:
    """The branch a project builds, if the project is the owner's."""
    cursor = await conn.execute("SELECT branch FROM projects WHERE id = %s AND owner_id = %s",
                                (project_id, owner_id))
    row = await cursor.fetchone()
    return row[0] if row else None


async def insert_project(conn: AsyncConnection, owner_id: int, settings: dict[str, Any]) -> int:
    """Insert a project; raises psycopg's UniqueViolation when the name is taken."""
    columns = [c for c in SETTING_COLUMNS if c in settings]
    cursor = await conn.execute(
        f"INSERT INTO projects (owner_id, {', '.join(columns)}) "  # noqa: S608 - fixed names
        f"VALUES (%s, {', '.join(['%s'] * len(columns))}) RETURNING id",
        (owner_id, *(settings[c] for c in columns)),
    )
    return (await cursor.fetchone())[0]


async def update_project(conn: AsyncConnection, owner_id: int, project_id: int,
                         changes: dict[str, Any]) -> bool:
    """Apply the changed settings; False when the project is not the owner's."""
    projects = Table("projects")
    query = PostgreSQLQuery.update(projects)
    params: list[Any] = []
    for column in SETTING_COLUMNS:
        if column in changes:
            query = query.set(getattr(projects, column), Parameter("%s"))
            params.append(changes[column])
    query = query.set(projects.updated_at, Now()).where(
        (projects.id == Parameter("%s")) & (projects.owner_id == Parameter("%s")))
    cursor = await conn.execute(str(query), (*params, project_id, owner_id))
    return cursor.rowcount == 1


async def set_webhook(conn: AsyncConnection, project_id: int, *, hook_id: int | None,
                      secret_nonce: bytes | None, secret_ciphertext: bytes | None,
                      error: str | None) -> None:
    """Record the outcome of registering (or removing) the project's GitHub webhook."""
    await conn.execute(
        "UPDATE projects SET webhook_id = %s, webhook_secret_nonce = %s, "
        "webhook_secret_ciphertext = %s, webhook_error = %s, updated_at = now() WHERE id = %s",
        (hook_id, secret_nonce, secret_ciphertext, error, project_id),
    )


async def set_production_url(conn: AsyncConnection, project_id: int, url: str) -> None:
    await conn.execute("UPDATE projects SET production_url = %s, updated_at = now() "
                       "WHERE id = %s", (url, project_id))


async def delete_project(conn: AsyncConnection, owner_id: int, project_id: int) -> bool:
    """Delete a project and, by cascade, everything it owns; the certificates of the custom
    domains it held verified (keyed by host name, not by project) go with them."""
    cursor = await conn.execute(
        "WITH gone AS (DELETE FROM projects WHERE id = %s AND owner_id = %s RETURNING id), "
        "certificates_gone AS (DELETE FROM certificates WHERE hostname IN "
        "(SELECT hostname FROM domains WHERE status = 'verified' "
        "AND project_id IN (SELECT id FROM gone))) "
        "SELECT count(*) FROM gone", (project_id, owner_id))
    return (await cursor.fetchone())[0] == 1
