"""Queries on personal access tokens; a token is found by the SHA-256 of its value, never the
value itself, and only rows of the asking owner are listed or deleted."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from sql.users import PUBLIC_COLUMNS as USER_COLUMNS

# Everything an API answer may show about a token; never its hash.
_COLUMNS = "id, owner_id, name, scopes, prefix, created_at, last_used_at, expires_at"
# How stale `last_used_at` may get before a use writes it again: a CI loop calling the API
# every second then costs one UPDATE a minute, not one per request.
LAST_USED_RESOLUTION = "1 minute"


async def create_api_token(
    conn: AsyncConnection, owner_id: int, name: str, scopes: list[str], token_hash: bytes,
    prefix: str, expires_in_days: int | None,
) -> dict[str, Any]:
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(
        f"""
        INSERT INTO api_tokens (owner_id, name, scopes, token_hash, prefix, expires_at)
        VALUES (%s, %s, %s, %s, %s, now() + make_interval(days => %s::integer))
        RETURNING {_COLUMNS}
        """,  # noqa: S608 - the interpolated text is a constant column list
        (owner_id, name, scopes, token_hash, prefix, expires_in_days),
    )
    return await cursor.fetchone()


async def list_api_tokens(conn: AsyncConnection, owner_id: int) -> list[dict[str, Any]]:
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(
        f"SELECT {_COLUMNS} FROM api_tokens WHERE owner_id = %s ORDER BY id",  # noqa: S608
        (owner_id,),
    )
    return await cursor.fetchall()


async def delete_api_token(conn: AsyncConnection, owner_id: int, token_id: int) -> bool:
    cursor = await conn.execute("DELETE FROM api_tokens WHERE id = %s AND owner_id = %s",
                                (token_id, owner_id))
    return cursor.rowcount == 1


async def find_api_token(
    conn: AsyncConnection, token_hash: bytes
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(token, owner) for an unexpired token, or None. The token row says `stale` when its
    `last_used_at` is older than LAST_USED_RESOLUTION, so the caller knows to `touch` it."""
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(
        f"""
        SELECT t.id AS token_id, t.scopes AS token_scopes,
               (t.last_used_at IS NULL
                OR t.last_used_at < now() - interval '{LAST_USED_RESOLUTION}') AS token_stale,
               u.*
        FROM api_tokens t
        CROSS JOIN LATERAL (SELECT {USER_COLUMNS} FROM users WHERE users.id = t.owner_id) u
        WHERE t.token_hash = %s AND (t.expires_at IS NULL OR t.expires_at > now())
        """,  # noqa: S608 - the interpolated text is constant
        (token_hash,),
    )
    row = await cursor.fetchone()
    if row is None:
        return None
    token = {"id": row.pop("token_id"), "scopes": row.pop("token_scopes"),
             "stale": row.pop("token_stale")}
    return token, row


async def touch_api_token(conn: AsyncConnection, token_id: int) -> None:
    """Record a use. The condition repeats the staleness test, so two requests racing past
    it in the same minute still write once."""
    await conn.execute(
        f"""
        UPDATE api_tokens SET last_used_at = now()
        WHERE id = %s AND (last_used_at IS NULL
                           OR last_used_at < now() - interval '{LAST_USED_RESOLUTION}')
        """,  # noqa: S608 - the interpolated text is constant
        (token_id,),
    )
