"""Driving builds through the API as a signed-in user, and waiting for their outcome."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.support.http import ApiClient


class Builds:
    """A signed-in local administrator driving builds through the API."""

    def __init__(self, running, api: ApiClient, owner) -> None:
        self.running, self.api, self.owner = running, api, owner

    async def project(self, repo: Path | str, **settings) -> dict:
        body = {"name": settings.pop("name", "site"), "repo_url": str(repo), **settings}
        response = await self.api.post("/api/projects", json_body=body,
                                       headers=self.owner.headers)
        assert response.status == 201, response.body
        return response.json()

    async def finished(self, build_id: int, seconds: float = 60, who=None) -> dict:
        """The build once it has ended, as its owner (`who`, else the administrator) sees it."""
        headers = (who or self.owner).headers
        deadline = time.monotonic() + seconds
        while True:
            build = (await self.api.get(f"/api/builds/{build_id}", headers=headers)).json()
            if build["status"] in ("passed", "failed", "canceled"):
                return build
            assert time.monotonic() < deadline, f"build {build_id} still {build['status']}"
            await asyncio.sleep(0.1)

    async def rebuild(self, project_id: int, who=None) -> dict:
        """Start a build of the project's branch head as its owner, and wait for its end."""
        response = await self.api.post(f"/api/projects/{project_id}/builds",
                                       headers=(who or self.owner).headers)
        assert response.status == 202, response.body
        return await self.finished(response.json()["build"]["id"], who=who)

    async def logs(self, build_id: int, after: int = 0) -> list[dict]:
        lines: list[dict] = []
        while True:
            page = (await self.api.get(f"/api/builds/{build_id}/logs?after={after}&limit=5000",
                                       headers=self.owner.headers)).json()
            lines += page["lines"]
            if not page["lines"]:
                return lines
            after = page["next_after"]

    async def text(self, build_id: int) -> str:
        return "\n".join(line["log"] for line in await self.logs(build_id))
