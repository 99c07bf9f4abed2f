"""Queries on users: GitHub sign-in upserts, the local administrator, session revocation.

Rows come back as dicts without the encrypted token; the token has its own query so it is
read only where it is used.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

# Everything an API answer may show about a user; never the encrypted token.
_PUBLIC_COLUMNS = """
    id, github_id, username, email, avatar_url, token_version, is_local_admin, created_at,
    access_token_ciphertext IS NOT NULL AS github_linked
"""

PUBLIC_COLUMNS = _PUBLIC_COLUMNS  # for queries that return a user beside other rows
LOCAL_ADMIN_NAME = "admin"


async def upsert_github_user(
    conn: AsyncConnection, *, github_id: int, username: str, email: str | None,
    avatar_url: str | None, token_nonce: bytes, token_ciphertext: bytes,
) -> dict[str, Any]:
    """Create the user for a GitHub account, or refresh its profile and token."""
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(
        f"""
        INSERT INTO users (github_id, username, email, avatar_url,
                           access_token_nonce, access_token_ciphertext)
        VALUES (%s, %s, %s, %s, %s, %s)
        ON CONFLICT (github_id) DO UPDATE SET
            username = EXCLUDED.username, email = EXCLUDED.email,
            avatar_url = EXCLUDED.avatar_url, access_token_nonce = EXCLUDED.access_token_nonce,
            access_token_ciphertext = EXCLUDED.access_token_ciphertext, updated_at = now()
        RETURNING {_PUBLIC_COLUMNS}
        """,  # noqa: S608 - the interpolated text is a constant column list
        (github_id, username, email, avatar_url, token_nonce, token_ciphertext),
    )
    return await cursor.fetchone()


async def ensure_local_admin(conn: AsyncConnection) -> dict[str, Any]:
    """The instance's local administrator, created on first use."""
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(
        """
        INSERT INTO users (username, is_local_admin) VALUES (%s, true)
        ON CONFLICT (is_local_admin) WHERE is_local_admin DO NOTHING
        """,
        (LOCAL_ADMIN_NAME,),
    )
    await cursor.execute(f"SELECT {_PUBLIC_COLUMNS} FROM users WHERE is_local_admin")  # noqa: S608
    return await cursor.fetchone()


async def get_user(conn: AsyncConnection, user_id: int) -> dict[str, Any] | None:
    cursor = conn.cursor(row_factory=dict_row)
    await cursor.execute(f"SELECT {_PUBLIC_COLUMNS} FROM users WHERE id = %s",  # noqa: S608
                         (user_id,))
    return await cursor.fetchone()


async def get_github_token(
    conn: AsyncConnection, user_id: int
) -> tuple[int, bytes, bytes] | None:
    """(github_id, nonce, ciphertext) of the user's GitHub token, or None without one."""
    cursor = await conn.execute(
        "SELECT github_id, access_token_nonce, access_token_ciphertext FROM users "
        "WHERE id = %s AND access_token_ciphertext IS NOT NULL",
        (user_id,),
    )
    return await cursor.fetchone()


async def revoke_sessions(conn: AsyncConnection, user_id: int) -> None:
    """Invalidate every session token issued to the user so far."""
    await conn.execute(
        "UPDATE users SET token_version = token_version + 1, updated_at = now() WHERE id = %s",
        (user_id,),
    )
