"""Who sent a request, and with what: a sign-in session (a JWT) or a personal access token.

Both arrive as `Authorization: Bearer ...` (or Socket.io's `auth: {token}`); tokens are told
apart by their `slw_` prefix, which no JWT can start with. Callers get one `Credential` either
way and ask it whether a scope is allowed, so no handler needs to know which kind it holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg_pool import AsyncConnectionPool

from engine.accounts.api_tokens import TOKEN_PREFIX, authenticate_api_token
from engine.accounts.scopes import SESSION_SCOPES
from engine.accounts.sessions import authenticate


@dataclass(frozen=True)
class Credential:
    user: dict[str, Any]
    scopes: tuple[str, ...]        # as granted: a token's own list, or every scope for a session
    allowed: frozenset[str]        # what those scopes include
    token_id: int | None = None    # None for a session

    @property
    def is_session(self) -> bool:
        return self.token_id is None

    def allows(self, scope: str) -> bool:
        return scope in self.allowed


async def authenticate_bearer(
    pool: AsyncConnectionPool, jwt_key: bytes, token: str
) -> Credential | None:
    """The credential a Bearer value stands for, or None when it is not (or no longer) good:
    a forged, expired or revoked session, an unknown, expired or deleted token."""
    if token.startswith(TOKEN_PREFIX):
        found = await authenticate_api_token(pool, token)
        if found is None:
            return None
        user, token_id, scopes, allowed = found
        return Credential(user, scopes, allowed, token_id)
    user = await authenticate(pool, jwt_key, token)
    if user is None:
        return None
    return Credential(user, tuple(sorted(SESSION_SCOPES)), SESSION_SCOPES)
