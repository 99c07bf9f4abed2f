"""`/api/tokens[/{id}]`: personal access tokens: create (the value shown this once), list
(never a value), revoke.

Managing tokens needs a sign-in session or an `admin` token, and no credential can create a
token with scopes beyond its own, so a leaked `deploy` token can never mint itself more.
"""

from __future__ import annotations

from engine.accounts.api_tokens import MAX_NAME_LENGTH, check_token_request
from engine.accounts.scopes import ADMIN
from handlers.base import APIError, APIHandler, Field, authenticated, path_id
from handlers.models import api_token_model


class TokensHandler(APIHandler):
    """`GET /api/tokens` and `POST /api/tokens {name, scopes, expires_in_days?}` (201)."""

    @authenticated(scope=ADMIN)
    async def get(self) -> None:
        tokens = await self.application.api_tokens.list(self.current_user["id"])
        self.write_json([api_token_model(t) for t in tokens])

    @authenticated(scope=ADMIN)
    async def post(self) -> None:
        body = self.read_json({
            "name": Field(str, required=True, max_length=MAX_NAME_LENGTH),
            "scopes": Field(list, required=True, max_length=10),
            "expires_in_days": Field(int, nullable=True),
        })
        name, scopes = check_token_request(body["name"], body["scopes"],
                                           body.get("expires_in_days"))
        beyond = [scope for scope in scopes if not self.credential.allows(scope)]
        if beyond:
            raise APIError(403, f"a token cannot create a token with scopes beyond its own "
                                f"({', '.join(self.credential.scopes)}): {', '.join(beyond)}",
                           code="insufficient_scope")
        token = await self.application.api_tokens.create(
            self.current_user["id"], name, scopes, body.get("expires_in_days"))
        self.write_json(api_token_model(token), 201)


class TokenHandler(APIHandler):
    """`DELETE /api/tokens/{id}`: revoke a token at once (its open sockets are closed too)."""

    @authenticated(scope=ADMIN)
    async def delete(self, token_id: str) -> None:
        user_id = self.current_user["id"]
        await self.application.api_tokens.delete(user_id, path_id(token_id))
        await self.application.socket_revocations.revoke(user_id, path_id(token_id))
        self.set_status(204)
        self.finish()
