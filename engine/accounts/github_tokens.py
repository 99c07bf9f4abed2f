"""What the engine needs to know about a user beyond their session: their GitHub token."""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool

from engine.crypto import DecryptionError, SecretBox
from engine.errors import Refused
from sql.users import get_github_token


class GitHubNotLinked(Refused):
    """The account has no GitHub token (the local administrator, for one)."""


class GitHubTokenUnreadable(Refused):
    """The stored token cannot be decrypted: the instance key changed since it was saved."""


async def load_github_token(pool: AsyncConnectionPool, box: SecretBox, user_id: int) -> str:
    """The user's GitHub access token, decrypted for one use and never stored elsewhere."""
    async with pool.connection() as conn:
        stored = await get_github_token(conn, user_id)
    if stored is None:
        raise GitHubNotLinked("this account is not linked to GitHub; sign in with GitHub first")
    github_id, nonce, ciphertext = stored
    try:
        return box.open_text(nonce, ciphertext, "github-token", github_id)
    except DecryptionError:
        raise GitHubTokenUnreadable("the stored GitHub token cannot be read; sign in with "
                                    "GitHub again") from None
