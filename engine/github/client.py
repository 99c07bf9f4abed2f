"""GitHub's OAuth and REST API, as Slipway uses them.

Both base URLs come from configuration (`GITHUB_URL`, `GITHUB_API_URL`), so GitHub Enterprise
and the test suite's fake work like github.com. Access tokens travel only in the Authorization
header. Failures become two kinds of error a handler can answer with: GitHub is down or
unreachable (503), or GitHub refused what it was given (the token or the code).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from engine import __version__
from engine.errors import Refused, Unavailable

OAUTH_SCOPES = "read:user user:email repo admin:repo_hook"
REPOS_PER_PAGE = 30
_TIMEOUTS = {"connect_timeout": 5.0, "request_timeout": 20.0}


class GitHubUnavailable(Unavailable):
    """GitHub could not be reached, timed out or failed on its side; the message says which."""


class GitHubRejected(Refused):
    """GitHub refused the request: a bad or revoked token, a bad code, a missing permission."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class GitHubProfile:
    id: int
    login: str
    email: str | None
    avatar_url: str | None


class GitHubClient:
    def __init__(self, web_url: str, api_url: str, client_id: str | None = None,
                 client_secret: str | None = None) -> None:
        self.web_url = web_url.rstrip("/")
        self.api_url = api_url.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        query = urlencode({"client_id": self.client_id, "redirect_uri": redirect_uri,
                           "scope": OAUTH_SCOPES, "state": state, "allow_signup": "true"})
        return f"{self.web_url}/login/oauth/authorize?{query}"

    async def exchange_code(self, code: str, redirect_uri: str) -> str:
        """Trade an OAuth code for an access token."""
        body = urlencode({"client_id": self.client_id, "client_secret": self.client_secret,
                          "code": code, "redirect_uri": redirect_uri})
        data, _ = await self._fetch(
            HTTPRequest(f"{self.web_url}/login/oauth/access_token", method="POST", body=body,
                        headers={"Accept": "application/json",
                                 "Content-Type": "application/x-www-form-urlencoded",
                                 "User-Agent": _user_agent()}, **_TIMEOUTS),
            what="the OAuth token exchange",
        )
        # GitHub answers a bad code with 200 and an "error" member.
        if not isinstance(data, dict) or not data.get("access_token"):
            reason = data.get("error_description") or data.get("error") if isinstance(
                data, dict) else None
            raise GitHubRejected(f"GitHub refused the sign-in code: {reason or 'no token'}")
        return str(data["access_token"])

    async def profile(self, token: str) -> GitHubProfile:
        """The account behind `token`, with its primary verified email where GitHub shares it."""
        user, _ = await self._api("GET", "/user", token)
        email = user.get("email")
        try:
            emails, _ = await self._api("GET", "/user/emails", token)
            email = next((e["email"] for e in emails if e.get("primary") and e.get("verified")),
                         email)
        except GitHubRejected:
            pass  # a token without user:email still signs in, with the public address
        return GitHubProfile(id=int(user["id"]), login=str(user["login"]), email=email,
                             avatar_url=user.get("avatar_url"))

    async def repositories(self, token: str, page: int) -> tuple[list[dict[str, Any]], bool]:
        """One page of the user's repositories, most recently updated first; and whether more
        pages follow."""
        repos, headers = await self._api(
            "GET", "/user/repos", token,
            params={"page": page, "per_page": REPOS_PER_PAGE, "sort": "updated",
                    "affiliation": "owner,collaborator,organization_member"},
        )
        return repos, 'rel="next"' in headers.get("Link", "")

    async def create_push_hook(self, token: str, repo: str, hook_url: str, secret: str) -> int:
        """Register a webhook for pushes on `repo` ("owner/name"); returns its id."""
        hook, _ = await self._api("POST", f"/repos/{repo}/hooks", token, body={
            "name": "web", "active": True, "events": ["push"],
            "config": {"url": hook_url, "content_type": "json", "secret": secret,
                       "insecure_ssl": "0"},
        })
        return int(hook["id"])

    async def create_status(self, token: str, repo: str, sha: str, *, state: str,
                            target_url: str, description: str) -> None:
        """A commit status ("pending", "success", "failure", "error") shown on GitHub."""
        await self._api("POST", f"/repos/{repo}/statuses/{sha}", token, body={
            "state": state, "target_url": target_url, "description": description[:140],
            "context": "slipway"})

    async def delete_hook(self, token: str, repo: str, hook_id: int) -> None:
        await self._api("DELETE", f"/repos/{repo}/hooks/{hook_id}", token)

    async def _api(self, method: str, path: str, token: str, *, params: dict | None = None,
                   body: Any = None) -> tuple[Any, dict[str, str]]:
        url = f"{self.api_url}{path}" + (f"?{urlencode(params)}" if params else "")
        request = HTTPRequest(
            url, method=method, body=None if body is None else json.dumps(body),
            headers={"Authorization": f"Bearer {token}",
                     "Accept": "application/vnd.github+json",
                     "X-GitHub-Api-Version": "2022-11-28", "User-Agent": _user_agent()},
            **_TIMEOUTS,
        )
        return await self._fetch(request, what=f"{method} {path}")

    async def _fetch(self, request: HTTPRequest, what: str) -> tuple[Any, dict[str, str]]:
        try:
            response = await AsyncHTTPClient().fetch(request)
        except HTTPClientError as exc:
            if exc.code == 599 or exc.response is None:
                raise GitHubUnavailable(
                    f"GitHub is not reachable at {_origin(request.url)}: {exc.message}"
                ) from None
            if exc.code >= 500:
                raise GitHubUnavailable(
                    f"GitHub failed on {what} (HTTP {exc.code}); try again shortly"
                ) from None
            raise GitHubRejected(
                f"GitHub refused {what}: {_github_message(exc.response.body) or exc.code}",
                status=exc.code,
            ) from None
        except OSError as exc:
            raise GitHubUnavailable(
                f"GitHub is not reachable at {_origin(request.url)}: {exc.strerror or exc}"
            ) from None
        try:
            data = json.loads(response.body) if response.body else None
        except ValueError:
            raise GitHubUnavailable(f"GitHub answered {what} with something not JSON") from None
        return data, dict(response.headers.get_all())


def _github_message(body: bytes | None) -> str | None:
    try:
        return str(json.loads(body or b"").get("message"))[:200]
    except (ValueError, AttributeError):
        return None


def _origin(url: str) -> str:
    return "/".join(url.split("/")[:3])


def _user_agent() -> str:
    return f"Slipway/{__version__}"
