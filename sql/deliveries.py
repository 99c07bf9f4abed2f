"""Queries on webhook deliveries: the inbox every GitHub delivery is recorded in."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

# Valid and rejected deliveries are kept apart, so that forged deliveries, which anyone can
# send, only ever push out older forged ones and never a delivery that can be redelivered.
KEEP_VALID_PER_PROJECT = 200
KEEP_REJECTED_PER_PROJECT = 50
KEEP_PER_PROJECT = KEEP_VALID_PER_PROJECT + KEEP_REJECTED_PER_PROJECT
# The schema's limits on the headers a delivery is recorded with.
MAX_GUID_LENGTH = 100
MAX_EVENT_LENGTH = 100


async def tracking_projects(conn: AsyncConnection, repository: str) -> list[dict[str, Any]]:
    """Every project built from a GitHub repository, with what checking a delivery needs."""
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(
        "SELECT p.id, p.name, p.owner_id, p.branch, p.webhook_secret_nonce, "
        "p.webhook_secret_ciphertext FROM projects p WHERE p.github_repo = %s ORDER BY p.id",
        (repository,),
    )
    return await cursor.fetchall()


async def already_accepted(conn: AsyncConnection, project_id: int, guid: str) -> bool:
    cursor = await conn.execute(
        "SELECT 1 FROM webhook_deliveries WHERE project_id = %s AND delivery_guid = %s "
        "AND signature_valid AND decision <> 'duplicate' LIMIT 1", (project_id, guid))
    return await cursor.fetchone() is not None


async def record_delivery(conn: AsyncConnection, project_id: int, *, guid: str, event: str,
                          repository: str | None, ref: str | None, commit_sha: str | None,
                          signature_valid: bool, decision: str,
                          body: bytes | None) -> dict[str, Any]:
    """Store a delivery, keeping only the project's newest deliveries of the same kind (validly
    signed, or rejected)."""
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(
        "INSERT INTO webhook_deliveries (project_id, delivery_guid, event, repository, ref, "
        "commit_sha, signature_valid, decision, body) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, "
        "%s) RETURNING id, project_id, delivery_guid, event, repository, ref, commit_sha, "
        "signature_valid, decision, received_at",
        (project_id, guid, event, repository, ref, commit_sha, signature_valid, decision, body),
    )
    row = await cursor.fetchone()
    keep = KEEP_VALID_PER_PROJECT if signature_valid else KEEP_REJECTED_PER_PROJECT
    await conn.execute(
        "DELETE FROM webhook_deliveries WHERE project_id = %s AND signature_valid = %s "
        "AND id <= (SELECT id FROM webhook_deliveries WHERE project_id = %s "
        "AND signature_valid = %s ORDER BY id DESC OFFSET %s LIMIT 1)",
        (project_id, signature_valid, project_id, signature_valid, keep))
    return row


async def list_deliveries(conn: AsyncConnection, project_id: int,
                          limit: int) -> list[dict[str, Any]]:
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(
        "SELECT id, project_id, delivery_guid, event, repository, ref, commit_sha, "
        "signature_valid, decision, received_at, body IS NOT NULL AS replayable "
        "FROM webhook_deliveries WHERE project_id = %s ORDER BY id DESC LIMIT %s",
        (project_id, limit))
    return await cursor.fetchall()


async def stored_delivery(conn: AsyncConnection, owner_id: int,
                          delivery_id: int) -> dict[str, Any] | None:
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(
        "SELECT d.id, d.project_id, d.event, d.delivery_guid, d.body FROM webhook_deliveries d "
        "JOIN projects p ON p.id = d.project_id WHERE d.id = %s AND p.owner_id = %s",
        (delivery_id, owner_id))
    return await cursor.fetchone()
