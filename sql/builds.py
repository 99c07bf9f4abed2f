"""Queries on builds: the durable queue's transitions, and reads scoped to the owner.

Status moves only forward: queued → running → passed | failed | canceled. Every transition is
one UPDATE guarded by the status it leaves, so two actors (the dispatcher and a cancel, say)
can never both win.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

FINISHED = ("passed", "failed", "canceled")


async def _rows(conn: AsyncConnection, query: str, params: tuple = ()) -> list[dict[str, Any]]:
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(query, params)
    return await cursor.fetchall()


async def queue_build(conn: AsyncConnection, project_id: int, *, trigger: str, branch: str,
                      commit_sha: str | None = None, commit_message: str | None = None,
                      commit_author: str | None = None,
                      preview: str | None = None) -> dict[str, Any]:
    """A new build row, `queued`, for the dispatcher to pick up."""
    [build] = await _rows(
        conn,
        "INSERT INTO builds (project_id, trigger, branch, commit_sha, commit_message, "
        "commit_author, preview) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING *",
        (project_id, trigger, branch, commit_sha, commit_message, commit_author, preview),
    )
    return build


async def supersede_queued(conn: AsyncConnection, project_id: int, branch: str,
                           newer_id: int) -> list[dict[str, Any]]:
    """Cancel the branch's builds still waiting behind a newer one."""
    return await _rows(
        conn,
        "UPDATE builds SET status = 'canceled', finished_at = now(), "
        "error = 'superseded by build #' || %s "
        "WHERE project_id = %s AND branch = %s AND status = 'queued' AND id < %s RETURNING *",
        (newer_id, project_id, branch, newer_id),
    )


async def claim_queued(conn: AsyncConnection, limit: int, runner: str) -> list[dict[str, Any]]:
    """Move up to `limit` of the oldest queued builds to running, recording which process
    runs them; several workers claiming at once each get different builds (SKIP LOCKED)."""
    return await _rows(
        conn,
        """
        UPDATE builds SET status = 'running', started_at = now(), runner = %s
        WHERE id IN (SELECT id FROM builds WHERE status = 'queued' ORDER BY id
                     LIMIT %s FOR UPDATE SKIP LOCKED)
        RETURNING *
        """,
        (runner, limit),
    )


async def fail_interrupted(conn: AsyncConnection, runner: str) -> list[dict[str, Any]]:
    """At start: what this process (same instance) was running when it died, and builds
    running with no known runner (left by a version that did not record one)."""
    return await _rows(
        conn,
        "UPDATE builds SET status = 'failed', finished_at = now(), "
        "error = 'interrupted by restart' "
        "WHERE status = 'running' AND (runner = %s OR runner IS NULL) RETURNING *",
        (runner,),
    )


async def fail_abandoned(conn: AsyncConnection, timeout_seconds: float) -> list[dict[str, Any]]:
    """Builds whose process stopped beating `timeout_seconds` ago (or vanished): nothing is
    running them any more. Safe to call from every process at once (guarded by status)."""
    return await _rows(
        conn,
        """
        UPDATE builds b SET status = 'failed', finished_at = now(),
               error = 'interrupted: the worker running it stopped responding' || coalesce(
                   (SELECT ' (' || hostname || ')' FROM instances WHERE id = b.runner), '')
        WHERE b.status = 'running' AND b.runner IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM instances i WHERE i.id = b.runner
                          AND i.heartbeat_at >= now() - make_interval(secs => %s))
        RETURNING *
        """,
        (timeout_seconds,),
    )


async def request_stop(conn: AsyncConnection, build_id: int,
                       reason: str) -> dict[str, Any] | None:
    """Ask the process running the build to stop it (None if it is not running); the
    caller wakes that process with `BUILD_STOP_CHANNEL`."""
    rows = await _rows(
        conn,
        "UPDATE builds SET stop_reason = coalesce(stop_reason, %s) "
        "WHERE id = %s AND status = 'running' RETURNING *",
        (reason, build_id),
    )
    return rows[0] if rows else None


async def request_project_stop(conn: AsyncConnection, project_id: int,
                               reason: str) -> list[int]:
    """Ask for every running build of a project to stop; their ids."""
    cursor = await conn.execute(
        "UPDATE builds SET stop_reason = coalesce(stop_reason, %s) "
        "WHERE project_id = %s AND status = 'running' AND trigger <> 'upload' RETURNING id",
        (reason, project_id),
    )
    return [row[0] for row in await cursor.fetchall()]


async def stop_requests(conn: AsyncConnection, build_ids: list[int]) -> dict[int, str]:
    """Of these builds (the ones a process runs), those it must stop, with why: asked to
    stop, or no longer running (another process failed them)."""
    cursor = await conn.execute(
        "SELECT id, CASE WHEN status = 'running' THEN stop_reason ELSE error END FROM builds "
        "WHERE id = ANY(%s) AND (status <> 'running' OR stop_reason IS NOT NULL)",
        (build_ids,))
    return {row[0]: row[1] or "stopped" for row in await cursor.fetchall()}


async def running_build_ids(conn: AsyncConnection) -> frozenset[int]:
    cursor = await conn.execute("SELECT id FROM builds WHERE status = 'running'")
    return frozenset(row[0] for row in await cursor.fetchall())


async def running_in_project(conn: AsyncConnection, project_id: int) -> int:
    cursor = await conn.execute(
        "SELECT count(*) FROM builds WHERE project_id = %s AND status = 'running' "
        "AND trigger <> 'upload'", (project_id,))
    return (await cursor.fetchone())[0]


async def finish_build(conn: AsyncConnection, build_id: int, status: str,
                       exit_code: int | None, error: str | None) -> dict[str, Any] | None:
    """Record the outcome of a running build (None if it was no longer running)."""
    rows = await _rows(
        conn,
        "UPDATE builds SET status = %s, exit_code = %s, error = %s, finished_at = now() "
        "WHERE id = %s AND status = 'running' RETURNING *",
        (status, exit_code, error, build_id),
    )
    return rows[0] if rows else None


async def cancel_queued(conn: AsyncConnection, build_id: int) -> dict[str, Any] | None:
    rows = await _rows(
        conn,
        "UPDATE builds SET status = 'canceled', finished_at = now(), "
        "error = 'canceled by the user' WHERE id = %s AND status = 'queued' RETURNING *",
        (build_id,),
    )
    return rows[0] if rows else None


async def cancel_project_queued(conn: AsyncConnection, project_id: int) -> list[dict[str, Any]]:
    """Cancel every queued build of a project (it is being deleted)."""
    return await _rows(
        conn,
        "UPDATE builds SET status = 'canceled', finished_at = now(), "
        "error = 'the project is being deleted' "
        "WHERE project_id = %s AND status = 'queued' RETURNING *",
        (project_id,),
    )


async def set_commit(conn: AsyncConnection, build_id: int, sha: str, message: str,
                     author: str) -> None:
    await conn.execute(
        "UPDATE builds SET commit_sha = %s, commit_message = %s, commit_author = %s "
        "WHERE id = %s", (sha, message, author, build_id),
    )


async def get_build(conn: AsyncConnection, owner_id: int, build_id: int) -> dict[str, Any] | None:
    rows = await _rows(
        conn,
        "SELECT b.* FROM builds b JOIN projects p ON p.id = b.project_id "
        "WHERE b.id = %s AND p.owner_id = %s", (build_id, owner_id),
    )
    return rows[0] if rows else None


async def list_builds(conn: AsyncConnection, project_id: int, before: int | None,
                      limit: int) -> list[dict[str, Any]]:
    """A page of the project's builds, newest first (keyset on id: fast at any depth)."""
    return await _rows(
        conn,
        "SELECT * FROM builds WHERE project_id = %s AND id < %s ORDER BY id DESC LIMIT %s",
        (project_id, before if before is not None else 2**63 - 1, limit),
    )


async def build_job(conn: AsyncConnection, build_id: int) -> dict[str, Any] | None:
    """Everything a runner needs about a build: it, its project and its owner."""
    rows = await _rows(
        conn,
        """
        SELECT b.id, b.project_id, b.branch, b.commit_sha, b.trigger, b.preview,
               p.name AS project_name,
               p.repo_url, p.github_repo, p.install_command, p.build_command, p.output_dir,
               p.root_dir, p.framework, p.node_version, p.owner_id, u.is_local_admin
        FROM builds b JOIN projects p ON p.id = b.project_id JOIN users u ON u.id = p.owner_id
        WHERE b.id = %s
        """,
        (build_id,),
    )
    return rows[0] if rows else None


async def project_secrets(conn: AsyncConnection, project_id: int,
                          environment: str) -> list[tuple[str, bytes, bytes]]:
    """The sealed secrets a build of `environment` (production | preview) is given."""
    cursor = await conn.execute(
        "SELECT name, nonce, ciphertext FROM secrets "
        "WHERE project_id = %s AND %s = ANY (environments) ORDER BY name",
        (project_id, environment),
    )
    return await cursor.fetchall()


async def start_upload(conn: AsyncConnection, project_id: int, branch: str,
                       preview: str | None, runner: str) -> dict[str, Any]:
    """An upload deploy's build row: already running (there is nothing to queue), so the
    dispatcher never claims it, and a crash mid-publish marks it interrupted like any build."""
    [build] = await _rows(
        conn,
        "INSERT INTO builds (project_id, trigger, branch, preview, status, started_at, runner) "
        "VALUES (%s, 'upload', %s, %s, 'running', now(), %s) RETURNING *",
        (project_id, branch, preview, runner),
    )
    return build
