"""Personal access tokens: `slw_` Bearer tokens for CI and scripts, limited by scopes.

A token is `slw_` and 32 bytes from `secrets` (urlsafe base64), shown once at creation. Only
its SHA-256 is stored and a request's token is found by looking its hash up: with 256 bits of
randomness there is nothing to guess, so a fast unsalted hash is as safe as a slow password
hash and keeps every API request cheap. A short prefix (`slw_` and 8 characters, 48 of the
256 bits) is stored in the clear so the dashboard can tell tokens apart. Revoking deletes the
row; expiry is checked on every use.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from psycopg_pool import AsyncConnectionPool

from engine.accounts.scopes import TOKEN_SCOPES, canonical, granted
from engine.errors import Invalid, NotFound
from sql.api_tokens import (
    create_api_token,
    delete_api_token,
    find_api_token,
    list_api_tokens,
    touch_api_token,
)

TOKEN_PREFIX = "slw_"  # noqa: S105 - a recognisable prefix, not a secret
RANDOM_BYTES = 32
SHOWN_PREFIX_LENGTH = len(TOKEN_PREFIX) + 8
MAX_NAME_LENGTH = 100
MAX_EXPIRY_DAYS = 3650
# Far longer than any token Slipway issues: anything longer is refused before hashing.
MAX_TOKEN_LENGTH = 200


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def check_token_request(name: Any, scopes: Any, expires_in_days: Any) -> tuple[str, list[str]]:
    """The name (trimmed) and scopes (canonical order) of a valid request, else Invalid."""
    if not isinstance(name, str) or not name.strip():
        raise Invalid("name must not be empty", field="name")
    name = name.strip()
    if len(name) > MAX_NAME_LENGTH:
        raise Invalid(f"name must be at most {MAX_NAME_LENGTH} characters", field="name")
    choices = ", ".join(TOKEN_SCOPES)
    if not isinstance(scopes, list) or not scopes:
        raise Invalid(f"scopes must be a non-empty list of {choices}", field="scopes")
    unknown = [s for s in scopes if s not in TOKEN_SCOPES]
    if unknown:
        raise Invalid(f"unknown scope {unknown[0]!r}: scopes are {choices}", field="scopes")
    if expires_in_days is not None and (
        isinstance(expires_in_days, bool) or not isinstance(expires_in_days, int)
        or not 1 <= expires_in_days <= MAX_EXPIRY_DAYS
    ):
        raise Invalid(f"expires_in_days must be a whole number from 1 to {MAX_EXPIRY_DAYS}, "
                      "or absent for a token that never expires", field="expires_in_days")
    return name, canonical(scopes)


class ApiTokens:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def create(self, owner_id: int, name: str, scopes: list[str],
                     expires_in_days: int | None) -> dict[str, Any]:
        """A new token; its value (`token`) is only ever returned here."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(RANDOM_BYTES)
        async with self.pool.connection() as conn:
            row = await create_api_token(conn, owner_id, name, scopes, token_hash(token),
                                         token[:SHOWN_PREFIX_LENGTH], expires_in_days)
        return {**row, "token": token}

    async def list(self, owner_id: int) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn:
            return await list_api_tokens(conn, owner_id)

    async def delete(self, owner_id: int, token_id: int) -> None:
        async with self.pool.connection() as conn:
            if not await delete_api_token(conn, owner_id, token_id):
                raise NotFound("no such token")


async def authenticate_api_token(
    pool: AsyncConnectionPool, token: str
) -> tuple[dict[str, Any], int, tuple[str, ...], frozenset[str]] | None:
    """(owner, token id, its scopes, what they allow) for a good token, else None; the use is
    recorded in `last_used_at`, at most about once a minute per token."""
    if len(token) > MAX_TOKEN_LENGTH:
        return None
    async with pool.connection() as conn:
        found = await find_api_token(conn, token_hash(token))
        if found is None:
            return None
        row, user = found
        if row["stale"]:
            await touch_api_token(conn, row["id"])
    scopes = tuple(row["scopes"])
    return user, row["id"], scopes, granted(scopes)
