"""Signed-in users for tests, through the real code exchange (`POST /api/auth/session`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.accounts.login_codes import issue_login_code, local_sign_in_link
from sql.users import upsert_github_user
from tests.support.app import RunningApp
from tests.support.http import ApiClient


@dataclass
class SignedIn:
    user: dict[str, Any]
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def sign_in_local_admin(running: RunningApp, api: ApiClient) -> SignedIn:
    link = await local_sign_in_link(running.app.db.pool, running.app.config.public_url)
    return await _exchange(api, link.split("#code=", 1)[1])


async def sign_in_github_user(running: RunningApp, api: ApiClient, github_id: int,
                              login: str, github_token: str = "gho_test") -> SignedIn:
    """A GitHub user as the OAuth callback would store them (encrypted token included)."""
    app = running.app
    nonce, ciphertext = app.keys.box.seal(github_token, "github-token", github_id)
    async with app.db.pool.connection() as conn:
        user = await upsert_github_user(conn, github_id=github_id, username=login,
                                        email=f"{login}@example.com", avatar_url=None,
                                        token_nonce=nonce, token_ciphertext=ciphertext)
    return await _exchange(api, await issue_login_code(app.db.pool, user["id"], "oauth"))


async def _exchange(api: ApiClient, code: str) -> SignedIn:
    response = await api.post("/api/auth/session", json_body={"code": code})
    assert response.status == 200, response.body
    body = response.json()
    return SignedIn(body["user"], body["token"])
