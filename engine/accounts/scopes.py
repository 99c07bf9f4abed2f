"""What a credential may do: the scopes of personal access tokens, and a session's.

Scopes nest: `admin` includes `deploy`, which includes `read`. A sign-in session holds every
scope plus `session`, a pseudo-scope no token can have, for the few actions that belong to
the person at the dashboard (ending their sessions).
"""

from __future__ import annotations

from collections.abc import Iterable

READ, DEPLOY, ADMIN = "read", "deploy", "admin"
SESSION = "session"
# The scopes a token may be created with, in the order they are listed.
TOKEN_SCOPES = (READ, DEPLOY, ADMIN)
_INCLUDES = {READ: {READ}, DEPLOY: {READ, DEPLOY}, ADMIN: {READ, DEPLOY, ADMIN}}
SESSION_SCOPES = frozenset({*TOKEN_SCOPES, SESSION})


def granted(scopes: Iterable[str]) -> frozenset[str]:
    """Every scope the given ones include (`deploy` → read and deploy)."""
    return frozenset(s for scope in scopes for s in _INCLUDES.get(scope, ()))


def canonical(scopes: Iterable[str]) -> list[str]:
    """The scopes without repeats, in TOKEN_SCOPES order, as they are stored and shown."""
    wanted = set(scopes)
    return [scope for scope in TOKEN_SCOPES if scope in wanted]
