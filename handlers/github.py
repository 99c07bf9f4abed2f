"""`GET /api/github/repos?page=`: the signed-in user's repositories, through their own token."""

from __future__ import annotations

from engine.accounts.github_tokens import GitHubNotLinked, GitHubTokenUnreadable, load_github_token
from engine.github.client import GitHubRejected, GitHubUnavailable
from handlers.base import APIError, APIHandler, authenticated
from handlers.models import github_repo_model


class GitHubReposHandler(APIHandler):
    @authenticated
    async def get(self) -> None:
        page = self.int_argument("page", 1, 1, 1000)
        token = await self._github_token()
        try:
            repos, has_next = await self.application.github.repositories(token, page)
        except GitHubUnavailable as exc:
            raise APIError(503, str(exc)) from None
        except GitHubRejected as exc:
            if exc.status == 401:
                raise APIError(401, "GitHub no longer accepts your access token; "
                                    "sign in with GitHub again", code="github_reauth") from None
            raise APIError(502 if exc.status >= 500 else 409, str(exc)) from None
        self.write_json({"repos": [github_repo_model(r) for r in repos], "page": page,
                         "next_page": page + 1 if has_next else None})

    async def _github_token(self) -> str:
        app = self.application
        try:
            return await load_github_token(app.db.pool, app.keys.box, self.current_user["id"])
        except GitHubNotLinked as exc:
            raise APIError(409, exc.message, code="github_not_linked") from None
        except GitHubTokenUnreadable as exc:
            raise APIError(401, exc.message, code="github_reauth") from None
