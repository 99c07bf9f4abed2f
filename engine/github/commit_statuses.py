"""Reporting builds back to GitHub as commit statuses, best effort.

GitHub shows `pending` when a build starts and `success`/`failure`/`error` when it ends, linking
to the site or the build's page. Failing to report (a revoked token, GitHub down) is logged and
never affects the build.
"""

from __future__ import annotations

import logging
from typing import Any

from psycopg_pool import AsyncConnectionPool

from engine.accounts.github_tokens import load_github_token
from engine.crypto import SecretBox
from engine.errors import Refused, Unavailable
from engine.github.client import GitHubClient

log = logging.getLogger(__name__)

STATE_FOR_OUTCOME = {"passed": "success", "failed": "failure", "canceled": "error"}


class CommitStatuses:
    def __init__(self, pool: AsyncConnectionPool, box: SecretBox, github: GitHubClient,
                 public_url: str) -> None:
        self.pool, self.box, self.github, self.public_url = pool, box, github, public_url

    async def report(self, job: dict[str, Any], state: str, description: str,
                     target_url: str | None = None) -> None:
        if not job.get("github_repo") or not job.get("commit_sha"):
            return
        try:
            token = await load_github_token(self.pool, self.box, job["owner_id"])
            await self.github.create_status(
                token, job["github_repo"], job["commit_sha"], state=state,
                target_url=target_url or f"{self.public_url}/builds/{job['id']}",
                description=description)
        except (Refused, Unavailable) as exc:
            log.warning("build %s: could not report %s to GitHub: %s", job["id"], state, exc)
