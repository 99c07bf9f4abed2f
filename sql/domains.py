"""Queries on custom domains, each with its certificate's state where it has one."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

_COLUMNS = """
    d.id, d.project_id, p.name AS project_name, d.hostname, d.status, d.verification_token,
    d.redirect_to, d.error, d.created_at, d.checked_at, d.verified_at,
    c.status AS certificate_status, c.not_after AS certificate_expires_at,
    c.error AS certificate_error
"""
_FROM = """
    FROM domains d JOIN projects p ON p.id = d.project_id
    LEFT JOIN certificates c ON c.hostname = d.hostname
"""


async def list_domains(conn: AsyncConnection, project_id: int) -> list[dict[str, Any]]:
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(f"SELECT {_COLUMNS} {_FROM} WHERE d.project_id = %s ORDER BY d.id",
                         (project_id,))
    return await cursor.fetchall()


async def get_domain(conn: AsyncConnection, project_id: int,
                     hostname: str) -> dict[str, Any] | None:
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(f"SELECT {_COLUMNS} {_FROM} WHERE d.project_id = %s "
                         "AND d.hostname = %s", (project_id, hostname))
    return await cursor.fetchone()


async def create_domain(conn: AsyncConnection, project_id: int, hostname: str, token: str,
                        redirect_to: str | None) -> bool:
    """Add a domain; False when the host name is already taken (by any project)."""
    cursor = await conn.execute(
        "INSERT INTO domains (project_id, hostname, verification_token, redirect_to) "
        "VALUES (%s, %s, %s, %s) ON CONFLICT (hostname) DO NOTHING",
        (project_id, hostname, token, redirect_to))
    return cursor.rowcount == 1


async def delete_domain(conn: AsyncConnection, project_id: int, hostname: str) -> bool:
    """Remove a domain, what redirects to it, and its certificate."""
    cursor = await conn.execute("DELETE FROM domains WHERE project_id = %s AND hostname = %s",
                                (project_id, hostname))
    if cursor.rowcount != 1:
        return False
    await conn.execute("UPDATE domains SET redirect_to = NULL WHERE project_id = %s "
                       "AND redirect_to = %s", (project_id, hostname))
    await conn.execute("DELETE FROM certificates WHERE hostname = %s", (hostname,))
    return True


async def set_redirect(conn: AsyncConnection, project_id: int, hostname: str,
                       redirect_to: str | None) -> None:
    await conn.execute("UPDATE domains SET redirect_to = %s WHERE project_id = %s "
                       "AND hostname = %s", (redirect_to, project_id, hostname))


async def redirected_to(conn: AsyncConnection, project_id: int, hostname: str) -> bool:
    """Whether another of the project's domains redirects to `hostname`."""
    cursor = await conn.execute("SELECT 1 FROM domains WHERE project_id = %s "
                                "AND redirect_to = %s", (project_id, hostname))
    return await cursor.fetchone() is not None


async def record_check(conn: AsyncConnection, domain_id: int, status: str,
                       error: str | None) -> None:
    """What a verification found; `verified_at` is when the domain was first proved."""
    await conn.execute(
        "UPDATE domains SET status = %s, error = %s, checked_at = now(), verified_at = "
        "CASE WHEN %s = 'verified' THEN coalesce(verified_at, now()) ELSE verified_at END "
        "WHERE id = %s", (status, error, status, domain_id))


async def served_domains(conn: AsyncConnection) -> list[dict[str, Any]]:
    """Every verified domain: the host name, the project it serves and its redirect."""
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute("SELECT d.hostname, p.name AS project_name, d.redirect_to "
                         "FROM domains d JOIN projects p ON p.id = d.project_id "
                         "WHERE d.status = 'verified'")
    return await cursor.fetchall()


async def domains_to_check(conn: AsyncConnection, checked_before: Any,
                           created_after: Any, limit: int) -> list[dict[str, Any]]:
    """Unverified domains not checked since `checked_before`, added after `created_after`."""
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(
        f"SELECT {_COLUMNS} {_FROM} WHERE d.status <> 'verified' AND d.created_at > %s "
        "AND (d.checked_at IS NULL OR d.checked_at < %s) ORDER BY d.checked_at NULLS FIRST "
        "LIMIT %s", (created_after, checked_before, limit))
    return await cursor.fetchall()
