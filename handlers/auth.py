"""Signing in and out: GitHub OAuth, one-time codes traded for session tokens, `/api/me`.

The OAuth `state` is bound to the browser that started the sign-in by a short-lived signed
cookie, so a callback carrying someone else's code (login CSRF) is refused. The callback never
puts a session token in a URL: it redirects to `/login#code=...` with a 60-second single-use
code that the dashboard exchanges with `POST /api/auth/session`.
"""

from __future__ import annotations

import hmac
import logging
import secrets

from engine.accounts.login_codes import issue_login_code, redeem
from engine.accounts.scopes import SESSION
from engine.accounts.sessions import issue_session_token
from engine.github.client import GitHubRejected, GitHubUnavailable
from handlers.base import APIError, APIHandler, Field, authenticated
from handlers.models import sites_model, user_model
from sql.users import get_user, revoke_sessions, upsert_github_user

log = logging.getLogger(__name__)

STATE_COOKIE = "slipway_oauth_state"
STATE_MAX_AGE_SECONDS = 10 * 60
CALLBACK_PATH = "/api/auth/github/callback"


class ProvidersHandler(APIHandler):
    """`GET /api/auth/providers`: which sign-in buttons the dashboard shows, and where sites
    live (public: any visitor of a site sees its address anyway)."""

    async def get(self) -> None:
        config = self.application.config
        self.write_json({"github": config.github_oauth_enabled,
                         "sites": sites_model(config.public_url, config.domain)})


class GitHubLoginHandler(APIHandler):
    """`GET /api/auth/github`: send the browser to GitHub's authorize page."""

    async def get(self) -> None:
        app = self.application
        if not app.config.github_oauth_enabled:
            raise APIError(404, "GitHub sign-in is not configured on this Slipway "
                                "(set GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET)")
        state = secrets.token_urlsafe(32)
        self.set_signed_cookie(
            STATE_COOKIE, state, expires_days=None, max_age=STATE_MAX_AGE_SECONDS,
            path="/api/auth/github", httponly=True, samesite="Lax",
            secure=app.config.public_url.startswith("https://"),
        )
        self.redirect(app.github.authorize_url(_callback_url(app.config.public_url), state))


class GitHubCallbackHandler(APIHandler):
    """`GET /api/auth/github/callback`: check the state, sign the GitHub account in."""

    async def get(self) -> None:
        app = self.application
        if not app.config.github_oauth_enabled:
            raise APIError(404, "GitHub sign-in is not configured on this Slipway")
        self._check_state()
        if self.get_query_argument("error", None):
            # The user declined on GitHub's page: back to sign-in, saying so.
            self.redirect("/login#error=github_denied")
            return
        code = self.get_query_argument("code", "")
        if not code:
            raise APIError(400, "the callback has no code")
        try:
            token = await app.github.exchange_code(code, _callback_url(app.config.public_url))
            profile = await app.github.profile(token)
        except GitHubUnavailable as exc:
            raise APIError(503, str(exc)) from None
        except GitHubRejected as exc:
            raise APIError(401, str(exc)) from None
        nonce, ciphertext = app.keys.box.seal(token, "github-token", profile.id)
        async with app.db.pool.connection() as conn:
            user = await upsert_github_user(
                conn, github_id=profile.id, username=profile.login, email=profile.email,
                avatar_url=profile.avatar_url, token_nonce=nonce, token_ciphertext=ciphertext,
            )
        log.info("user %s (GitHub %s) signed in with GitHub", user["id"], profile.login)
        login_code = await issue_login_code(app.db.pool, user["id"], "oauth")
        self.redirect(f"/login#code={login_code}")

    def _check_state(self) -> None:
        expected = self.get_signed_cookie(STATE_COOKIE,
                                          max_age_days=STATE_MAX_AGE_SECONDS / 86400)
        self.clear_cookie(STATE_COOKIE, path="/api/auth/github")
        given = self.get_query_argument("state", "")
        if not expected or not given or not hmac.compare_digest(expected.decode(), given):
            raise APIError(400, "the sign-in state does not match this browser; "
                                "start the sign-in again", code="invalid_state")


class SessionHandler(APIHandler):
    """`POST /api/auth/session {code}`: a one-time code becomes a session token."""

    async def post(self) -> None:
        body = self.read_json({"code": Field(str, required=True, max_length=200)})
        app = self.application
        user_id = await redeem(app.db.pool, body["code"])
        user = None
        if user_id is not None:
            async with app.db.pool.connection() as conn:
                user = await get_user(conn, user_id)
        if user is None:
            raise APIError(401, "this sign-in code is invalid, expired or already used",
                           code="invalid_code")
        token = issue_session_token(app.keys.jwt, user, app.config.session_ttl)
        self.write_json({"token": token, "user": user_model(user)})


class LogoutHandler(APIHandler):
    """`POST /api/auth/logout`: revoke every session of the user, everywhere.

    Sessions only: an API token answers 403 `session_required`, so a CI token (that may well
    leak) cannot sign its owner out everywhere; a token is revoked by deleting it."""

    @authenticated(scope=SESSION)
    async def post(self) -> None:
        app = self.application
        async with app.db.pool.connection() as conn:
            await revoke_sessions(conn, self.current_user["id"])
        await app.socket_revocations.revoke(self.current_user["id"])
        self.set_status(204)
        self.finish()


class MeHandler(APIHandler):
    """`GET /api/me`: the signed-in user's profile (never a token)."""

    @authenticated
    async def get(self) -> None:
        self.write_json(user_model(self.current_user))


def _callback_url(public_url: str) -> str:
    return public_url + CALLBACK_PATH
