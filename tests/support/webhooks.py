"""GitHub's side of a webhook delivery: push payloads as GitHub shapes them, signed with the
secret Slipway gave the (fake) GitHub, POSTed to Slipway's webhook endpoint."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid

from tests.support.fake_github import FakeGitHub, FakeRepo
from tests.support.http import ApiClient

NO_COMMIT = "0" * 40


def push_payload(repo, *, ref: str, before: str, after: str, messages=("update",),
                 deleted: bool = False) -> dict:
    commits = [{"id": after, "message": m, "author": {"name": "Ada", "email": "ada@example.com"}}
               for m in messages]
    return {
        "ref": ref, "before": before, "after": after, "created": False, "deleted": deleted,
        "forced": False, "commits": commits,
        "head_commit": commits[-1] if commits else None,
        "repository": {"id": 1, "name": repo.name, "full_name": repo.full_name,
                       "private": repo.private, "default_branch": repo.default_branch},
        "pusher": {"name": "ada", "email": "ada@example.com"},
    }


class GitHubSide:
    """What GitHub does: sign with the hook's secret and POST to the hook's URL."""

    def __init__(self, api: ApiClient, github: FakeGitHub, repo: FakeRepo) -> None:
        self.api, self.github, self.repo = api, github, repo

    def secret(self) -> str:
        [hook] = self.github.hooks[self.repo.full_name].values()
        return hook["config"]["secret"]

    async def deliver(self, event: str, payload: dict, *, guid: str | None = None,
                      signature: str | None = None, body: bytes | None = None):
        body = body if body is not None else json.dumps(payload).encode()
        if signature is None:
            digest = hmac.new(self.secret().encode(), body, hashlib.sha256).hexdigest()
            signature = f"sha256={digest}"
        headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": guid or str(uuid.uuid4()),
                   "Content-Type": "application/json", "User-Agent": "GitHub-Hookshot/test"}
        if signature:
            headers["X-Hub-Signature-256"] = signature
        return await self.api.post("/api/webhooks/github", body=body, headers=headers)

    async def push(self, files: dict[str, str], *, message: str = "update",
                   branch: str | None = None):
        """A commit of `files` on `branch` (default: the repository's), then its signed `push`
        delivery, as GitHub sends one after a `git push`. Returns Slipway's answer."""
        branch = branch or self.repo.default_branch
        try:
            before = self.github.head(self.repo, branch)
        except KeyError:  # a new branch
            before = NO_COMMIT
        after = self.github.push(self.repo, files, message=message, branch=branch)
        payload = push_payload(self.repo, ref=f"refs/heads/{branch}", before=before, after=after,
                               messages=(message,))
        return await self.deliver("push", payload)
