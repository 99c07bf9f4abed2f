"""Queries on deploy notifications and their deliveries (the rows are the retry queue)."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

# Never the sealed secret: it is read only by the queries that sign.
_PUBLIC_COLUMNS = ("id, project_id, url, events, format, created_at, "
                   "secret_ciphertext IS NOT NULL AS signed")
KEEP_PER_NOTIFICATION = 200
_DELIVERY_COLUMNS = ("id, notification_id, event, status, attempts, next_attempt_at, "
                     "response_status, last_error, created_at, delivered_at")


async def create_notification(conn: AsyncConnection, project_id: int, url: str,
                              events: list[str], format: str) -> dict[str, Any]:
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(
        f"INSERT INTO notifications (project_id, url, events, format) VALUES (%s, %s, %s, %s) "  # noqa: S608 - constant columns
        f"RETURNING {_PUBLIC_COLUMNS}", (project_id, url, events, format))
    return await cursor.fetchone()


async def set_secret(conn: AsyncConnection, notification_id: int, nonce: bytes | None,
                     ciphertext: bytes | None) -> None:
    await conn.execute(
        "UPDATE notifications SET secret_nonce = %s, secret_ciphertext = %s WHERE id = %s",
        (nonce, ciphertext, notification_id))


async def list_notifications(conn: AsyncConnection, project_id: int) -> list[dict[str, Any]]:
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(
        f"SELECT {_PUBLIC_COLUMNS} FROM notifications WHERE project_id = %s ORDER BY id",  # noqa: S608 - constant columns
        (project_id,))
    return await cursor.fetchall()


async def get_notification(conn: AsyncConnection, project_id: int,
                           notification_id: int) -> dict[str, Any] | None:
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(
        f"SELECT {_PUBLIC_COLUMNS} FROM notifications WHERE project_id = %s AND id = %s",  # noqa: S608 - constant columns
        (project_id, notification_id))
    return await cursor.fetchone()


async def update_notification(conn: AsyncConnection, notification_id: int, *, url: str,
                              events: list[str], format: str) -> dict[str, Any]:
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(
        f"UPDATE notifications SET url = %s, events = %s, format = %s WHERE id = %s "  # noqa: S608 - constant columns
        f"RETURNING {_PUBLIC_COLUMNS}", (url, events, format, notification_id))
    return await cursor.fetchone()


async def delete_notification(conn: AsyncConnection, project_id: int,
                              notification_id: int) -> bool:
    cursor = await conn.execute("DELETE FROM notifications WHERE project_id = %s AND id = %s",
                                (project_id, notification_id))
    return cursor.rowcount == 1


async def subscribed(conn: AsyncConnection, project_id: int, event: str,
                     notification_id: int | None = None) -> list[dict[str, Any]]:
    """The project's notifications that want `event` (or the one named, whatever it wants),
    with what rendering and signing a message needs."""
    cursor = conn.cursor(row_factory=dict_row)
    if notification_id is not None:
        await cursor.execute(
            "SELECT id, format, secret_nonce, secret_ciphertext FROM notifications "
            "WHERE project_id = %s AND id = %s", (project_id, notification_id))
    else:
        await cursor.execute(
            "SELECT id, format, secret_nonce, secret_ciphertext FROM notifications "
            "WHERE project_id = %s AND %s = ANY (events) ORDER BY id", (project_id, event))
    return await cursor.fetchall()


async def message_context(conn: AsyncConnection, project_id: int,
                          build_id: int | None) -> dict[str, Any] | None:
    """The project and the build (its latest one when `build_id` is None) a message is about;
    None once the project is gone."""
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(
        "SELECT p.id AS project_id, p.name AS project_name, b.id AS build_id, "
        "b.status, b.branch, b.commit_sha, b.trigger, b.error "
        "FROM projects p LEFT JOIN LATERAL (SELECT * FROM builds WHERE project_id = p.id "
        "AND (%(build)s::bigint IS NULL OR id = %(build)s) ORDER BY id DESC LIMIT 1) b ON true "
        "WHERE p.id = %(project)s", {"project": project_id, "build": build_id})
    return await cursor.fetchone()


async def add_delivery(conn: AsyncConnection, notification_id: int, event: str,
                       body: bytes) -> int:
    """Queue a delivery; the log keeps the notification's newest KEEP_PER_NOTIFICATION
    finished ones (pending ones are never dropped)."""
    cursor = await conn.execute(
        "INSERT INTO notification_deliveries (notification_id, event, body) "
        "VALUES (%s, %s, %s) RETURNING id", (notification_id, event, body))
    delivery_id = (await cursor.fetchone())[0]
    await conn.execute(
        "DELETE FROM notification_deliveries WHERE notification_id = %s AND status <> 'pending' "
        "AND id <= (SELECT id FROM notification_deliveries WHERE notification_id = %s "
        "ORDER BY id DESC OFFSET %s LIMIT 1)",
        (notification_id, notification_id, KEEP_PER_NOTIFICATION))
    return delivery_id


async def claim_due(conn: AsyncConnection, limit: int,
                    lease_seconds: float) -> list[dict[str, Any]]:
    """Due deliveries, leased: another instance skips them while they are being sent, and
    takes them over once the lease has run out (this one died mid-send)."""
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(
        """
        WITH due AS (
            SELECT id FROM notification_deliveries
            WHERE status = 'pending' AND next_attempt_at <= now()
            ORDER BY next_attempt_at LIMIT %s FOR UPDATE SKIP LOCKED
        )
        UPDATE notification_deliveries d
        SET next_attempt_at = now() + make_interval(secs => %s)
        FROM due, notifications n, projects p, users u
        WHERE d.id = due.id AND n.id = d.notification_id AND p.id = n.project_id
          AND u.id = p.owner_id
        RETURNING d.id, d.notification_id, d.event, d.body, d.attempts, n.url, n.format,
                  n.project_id, n.secret_nonce, n.secret_ciphertext, u.is_local_admin
        """, (limit, lease_seconds))
    return await cursor.fetchall()


async def seconds_until_due(conn: AsyncConnection) -> float | None:
    """How long until the next pending delivery is due (0 if one is), None if none waits."""
    # No row when none waits: greatest(0, NULL) would be 0, and the worker would poll in a loop.
    cursor = await conn.execute(
        "SELECT greatest(0, extract(epoch FROM next_attempt_at - now()))::float8 "
        "FROM notification_deliveries WHERE status = 'pending' "
        "ORDER BY next_attempt_at LIMIT 1")
    row = await cursor.fetchone()
    return row[0] if row else None


async def record_attempt(conn: AsyncConnection, delivery_id: int, *, status: str,
                         retry_in: float | None, response_status: int | None,
                         error: str | None) -> None:
    await conn.execute(
        """
        UPDATE notification_deliveries SET status = %(status)s, attempts = attempts + 1,
            response_status = %(response)s, last_error = %(error)s,
            next_attempt_at = CASE WHEN %(retry)s::float8 IS NULL THEN next_attempt_at
                                   ELSE now() + make_interval(secs => %(retry)s) END,
            delivered_at = CASE WHEN %(status)s = 'delivered' THEN now() END
        WHERE id = %(id)s
        """, {"status": status, "response": response_status, "error": error,
              "retry": retry_in, "id": delivery_id})


async def list_deliveries(conn: AsyncConnection, notification_id: int,
                          limit: int) -> list[dict[str, Any]]:
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(
        f"SELECT {_DELIVERY_COLUMNS} FROM notification_deliveries WHERE notification_id = %s "  # noqa: S608 - constant columns
        f"ORDER BY id DESC LIMIT %s", (notification_id, limit))
    return await cursor.fetchall()


async def get_delivery(conn: AsyncConnection, delivery_id: int) -> dict[str, Any] | None:
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(
        f"SELECT {_DELIVERY_COLUMNS} FROM notification_deliveries WHERE id = %s",  # noqa: S608 - constant columns
        (delivery_id,))
    return await cursor.fetchone()
