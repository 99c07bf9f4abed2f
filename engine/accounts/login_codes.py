"""One-time sign-in codes, so a session token never travels in a URL.

The OAuth callback and the local administrator's link both put a short random code in the URL
fragment (`/login#code=...`), which the dashboard trades for a token with a POST. Codes are
single use, short-lived, and stored only as hashes.
"""

from __future__ import annotations

import hashlib
import secrets

from psycopg_pool import AsyncConnectionPool

from sql.login_codes import create_login_code, redeem_login_code
from sql.users import ensure_local_admin

OAUTH_CODE_TTL_SECONDS = 60
LOCAL_CODE_TTL_SECONDS = 15 * 60
_TTL = {"oauth": OAUTH_CODE_TTL_SECONDS, "local": LOCAL_CODE_TTL_SECONDS}


def _hash(code: str) -> bytes:
    return hashlib.sha256(code.encode()).digest()


async def issue_login_code(pool: AsyncConnectionPool, user_id: int, purpose: str) -> str:
    """A fresh code for `user_id`: 'oauth' lives 60 s, 'local' 15 minutes."""
    code = secrets.token_urlsafe(32)
    async with pool.connection() as conn:
        await create_login_code(conn, code_hash=_hash(code), user_id=user_id, purpose=purpose,
                                ttl_seconds=_TTL[purpose])
    return code


async def redeem(pool: AsyncConnectionPool, code: str) -> int | None:
    """The user id for a valid code, consuming it; None if unknown, used or expired."""
    if not code or len(code) > 200:
        return None
    async with pool.connection() as conn:
        return await redeem_login_code(conn, _hash(code))


async def local_sign_in_link(pool: AsyncConnectionPool, public_url: str) -> str:
    """A fresh one-time link signing in the local administrator (created on first use)."""
    async with pool.connection() as conn:
        admin = await ensure_local_admin(conn)
    code = await issue_login_code(pool, admin["id"], "local")
    return f"{public_url}/login#code={code}"
