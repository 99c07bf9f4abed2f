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
# Certificates are kept per host name: only the project holding the name verified may see its
# certificate (another project's claim on the name waits, and sees none).
_FROM = """
    FROM domains d JOIN projects p ON p.id = d.project_id
    LEFT JOIN certificates c ON c.hostname = d.hostname AND d.status = 'verified'
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
                        redirect_to: str | None) -> str | None:
    """Add a domain, waiting for verification; None when added, else why not: "here" (the
    project has it already) or "verified" (another project holds it verified). Other projects'
    unverified claims on the name do not stand in the way."""
    cursor = await conn.execute(
        "INSERT INTO domains (project_id, hostname, verification_token, redirect_to) "
        "SELECT %(project)s, %(host)s, %(token)s, %(redirect)s WHERE NOT EXISTS "
        "(SELECT 1 FROM domains WHERE hostname = %(host)s AND status = 'verified') "
        "ON CONFLICT DO NOTHING",
        {"project": project_id, "host": hostname, "token": token, "redirect": redirect_to})
    if cursor.rowcount == 1:
        return None
    cursor = await conn.execute("SELECT 1 FROM domains WHERE project_id = %s AND hostname = %s",
                                (project_id, hostname))
    return "here" if await cursor.fetchone() else "verified"


async def delete_domain(conn: AsyncConnection, project_id: int, hostname: str) -> bool:
    """Remove a domain, what redirects to it, and (when the project held it verified) its
    certificate; an unverified claim never had one of its own."""
    cursor = await conn.execute("DELETE FROM domains WHERE project_id = %s AND hostname = %s "
                                "RETURNING status", (project_id, hostname))
    gone = await cursor.fetchone()
    if gone is None:
        return False
    await conn.execute("UPDATE domains SET redirect_to = NULL WHERE project_id = %s "
                       "AND redirect_to = %s", (project_id, hostname))
    if gone[0] == "verified":
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


TAKEN = "verified by another project, which holds it now"


async def record_check(conn: AsyncConnection, domain_id: int, status: str,
                       error: str | None) -> str:
    """What a verification found; `verified_at` is when the domain was first proved. Returns
    the status recorded. While another project holds the name verified, any finding is
    recorded as failed (TAKEN); a proof that wins turns the other claims on the name failed."""
    async with conn.transaction():
        # One finding per host name at a time: two proofs at once would each see no verified
        # claim, then wait on each other's rows.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('slipway.domain:' "
                           "|| hostname, 0)) FROM domains WHERE id = %s", (domain_id,))
        cursor = await conn.execute(_RECORD_CHECK, {
            "id": domain_id, "status": status, "error": error, "taken": TAKEN})
        recorded = await cursor.fetchone()
        if recorded is None:  # removed meanwhile
            return status
        if recorded[0] == "verified":
            await conn.execute("UPDATE domains SET status = 'failed', error = %s, "
                               "checked_at = now() WHERE hostname = %s AND id <> %s",
                               (TAKEN, recorded[1], domain_id))
        return recorded[0]


_RECORD_CHECK = """
    WITH taken AS (
        SELECT EXISTS (SELECT 1 FROM domains me JOIN domains other ON other.hostname = me.hostname
                       WHERE me.id = %(id)s AND other.id <> me.id
                       AND other.status = 'verified') AS yes)
    UPDATE domains SET
        status = CASE WHEN taken.yes THEN 'failed' ELSE %(status)s END,
        error = CASE WHEN taken.yes THEN %(taken)s ELSE %(error)s END,
        checked_at = now(),
        verified_at = CASE WHEN NOT taken.yes AND %(status)s = 'verified'
                           THEN coalesce(verified_at, now()) ELSE verified_at END
    FROM taken WHERE id = %(id)s
    RETURNING status, hostname
"""


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
