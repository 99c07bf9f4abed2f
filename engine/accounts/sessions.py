"""Session tokens: HS256 JWTs that name a user and the user's token version.

`sub` is the user's numeric id (as a string, as RFC 7519 requires), `ver` the token version
stored with the user. Logging out bumps that version, so every token issued before stops
working at once, without a list of revoked tokens. Only HS256 is accepted: `alg: none` or any
other algorithm is refused before the signature is even considered.
"""

from __future__ import annotations

import time
from typing import Any

import jwt
from psycopg_pool import AsyncConnectionPool

from sql.users import get_user

ALGORITHM = "HS256"


def issue_session_token(key: bytes, user: dict[str, Any], ttl_seconds: float) -> str:
    now = int(time.time())
    claims = {"sub": str(user["id"]), "ver": user["token_version"], "iat": now,
              "exp": now + int(ttl_seconds)}
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def read_session_token(key: bytes, token: str) -> tuple[int, int] | None:
    """(user id, token version) from a valid, unexpired token; None for anything else."""
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM],
                            options={"require": ["sub", "exp", "ver"]})
        return int(claims["sub"]), int(claims["ver"])
    except (jwt.PyJWTError, ValueError, TypeError):
        return None


async def authenticate(
    pool: AsyncConnectionPool, key: bytes, token: str
) -> dict[str, Any] | None:
    """The user a session token belongs to, if it is valid and not revoked."""
    claims = read_session_token(key, token)
    if claims is None:
        return None
    user_id, version = claims
    async with pool.connection() as conn:
        user = await get_user(conn, user_id)
    if user is None or user["token_version"] != version:
        return None
    return user
