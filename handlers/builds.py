"""Builds: start one, list a project's history, read one, its stored log lines, cancel it."""

from __future__ import annotations

import re

from engine.accounts.scopes import DEPLOY
from engine.errors import Invalid
from engine.ownership import require_owned_project
from handlers.base import APIError, APIHandler, Field, authenticated, path_id
from handlers.models import build_model, log_line_model
from sql.build_logs import read_lines
from sql.builds import get_build, list_builds

_SHA = re.compile(r"^[0-9a-f]{40}$")
MAX_PAGE = 100
MAX_LOG_PAGE = 5000


class ProjectBuildsHandler(APIHandler):
    """`POST /api/projects/{id}/builds` (202) and `GET` (history, newest first)."""

    @authenticated(scope=DEPLOY)
    async def post(self, project_id: str) -> None:
        body = self.read_json({"commit": Field(str, max_length=64)}) if self.body.strip() else {}
        commit = body.get("commit")
        if commit is not None and not _SHA.match(commit):
            raise Invalid("commit must be a full 40-character commit hash", field="commit")
        build = await self.application.builds.request(self.current_user["id"],
                                                      path_id(project_id), commit)
        self.write_json({"build": build_model(build)}, 202)

    @authenticated
    async def get(self, project_id: str) -> None:
        before = self.int_argument("before", None, 1, 2**63 - 1)
        limit = self.int_argument("limit", 20, 1, MAX_PAGE)
        async with self.application.db.pool.connection() as conn:
            await require_owned_project(conn, self.current_user["id"], path_id(project_id))
            builds = await list_builds(conn, path_id(project_id), before, limit)
        self.write_json([build_model(b) for b in builds])


class BuildHandler(APIHandler):
    @authenticated
    async def get(self, build_id: str) -> None:
        self.write_json(build_model(await self._build(build_id)))

    async def _build(self, build_id: str) -> dict:
        async with self.application.db.pool.connection() as conn:
            build = await get_build(conn, self.current_user["id"], path_id(build_id))
        if build is None:
            raise APIError(404, "no such build")
        return build


class BuildLogsHandler(BuildHandler):
    """`GET /api/builds/{id}/logs?after=&limit=`: stored lines after a line number, so a
    viewer who (re)connects catches up with no gap and no duplicate."""

    @authenticated
    async def get(self, build_id: str) -> None:
        build = await self._build(build_id)
        after = self.int_argument("after", 0, 0, 2**31 - 1)
        limit = self.int_argument("limit", 1000, 1, MAX_LOG_PAGE)
        async with self.application.db.pool.connection() as conn:
            lines = await read_lines(conn, build["id"], after, limit)
        finished = build["status"] in ("passed", "failed", "canceled")
        self.write_json({
            "buildId": build["id"], "status": build["status"],
            "lines": [log_line_model(line) for line in lines],
            "next_after": lines[-1]["line_number"] if lines else after,
            "complete": finished and len(lines) < limit,
        })


class BuildCancelHandler(APIHandler):
    """`POST /api/builds/{id}/cancel`: stop a queued or running build."""

    @authenticated(scope=DEPLOY)
    async def post(self, build_id: str) -> None:
        build = await self.application.builds.cancel(self.current_user["id"], path_id(build_id))
        self.write_json({"build": build_model(build)}, 202)


class BuildCacheHandler(APIHandler):
    """`DELETE /api/projects/{id}/build-cache`: forget the cached dependency layers."""

    @authenticated
    async def delete(self, project_id: str) -> None:
        await self.application.builds.clear_cache(self.current_user["id"], path_id(project_id))
        self.set_status(204)
        self.finish()
