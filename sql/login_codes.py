"""Queries on one-time sign-in codes (stored as SHA-256 hashes, deleted when redeemed)."""

from __future__ import annotations

from psycopg import AsyncConnection


async def create_login_code(
    conn: AsyncConnection, *, code_hash: bytes, user_id: int, purpose: str, ttl_seconds: float
) -> None:
    """Store a new code, and forget expired ones while at it."""
    await conn.execute("DELETE FROM login_codes WHERE expires_at < now()")
    await conn.execute(
        "INSERT INTO login_codes (code_hash, user_id, purpose, expires_at) "
        "VALUES (%s, %s, %s, now() + %s * interval '1 second')",
        (code_hash, user_id, purpose, ttl_seconds),
    )


async def redeem_login_code(conn: AsyncConnection, code_hash: bytes) -> int | None:
    """The user id behind an unexpired code, deleting it so it can never be used again."""
    cursor = await conn.execute(
        "DELETE FROM login_codes WHERE code_hash = %s RETURNING user_id, expires_at > now()",
        (code_hash,),
    )
    row = await cursor.fetchone()
    if row is None or not row[1]:
        return None
    return row[0]
