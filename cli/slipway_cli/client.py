"""The Slipway API over HTTP, for the `slipway` command.

Every failure becomes an `ApiError` with a message for people (the server's own error message
where it sent one), so commands print one line instead of a traceback. Uploads stream the
archive from disk in chunks, reporting progress, with a Content-Length so the server can
refuse an oversized one before it is sent.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp

from slipway_cli import __version__

CHUNK = 256 * 1024
PROJECTS_PAGE = 200  # the most GET /api/projects gives at once
# Deploying a large site over a slow uplink takes a while; a silent server does not.
TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=600)


class ApiError(Exception):
    def __init__(self, message: str, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.message, self.status, self.code = message, status, code


class Client:
    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Client:
        self._session = aiohttp.ClientSession(
            timeout=TIMEOUT, headers={"Authorization": f"Bearer {self.token}",
                                      "User-Agent": f"slipway-cli/{__version__}"})
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "use the client in `async with`"
        return self._session

    async def get(self, path: str, **params: Any) -> Any:
        return await self.request("GET", path, params={k: v for k, v in params.items()
                                                       if v is not None})

    async def request(self, method: str, path: str, *, json: Any = None,
                      params: dict[str, Any] | None = None, data: Any = None,
                      headers: dict[str, str] | None = None) -> Any:
        assert self._session is not None
        try:
            async with self._session.request(method, self.url + path, json=json, params=params,
                                             data=data, headers=headers) as response:
                body = await response.read()
                if response.status >= 400:
                    raise _error(response.status, body, self.url)
                if response.status == 204 or not body:
                    return None
                try:
                    return jsonlib.loads(body)
                except ValueError:
                    raise ApiError(f"{self.url} did not answer like Slipway (not JSON): is it "
                                   "the dashboard's address?") from None
        except aiohttp.ClientError as exc:
            raise ApiError(f"cannot reach Slipway at {self.url}: {exc}") from None
        except TimeoutError:
            raise ApiError(f"Slipway at {self.url} did not answer in time") from None

    async def upload(self, path: str, archive: Path, params: dict[str, str],
                     progress: Callable[[int], None]) -> Any:
        size = archive.stat().st_size
        return await self.request(
            "POST", path, params=params, data=_chunks(archive, progress),
            headers={"Content-Type": "application/gzip", "Content-Length": str(size)})

    async def project(self, name_or_id: str) -> dict[str, Any]:
        """A project by its name, as `--project` names it; an id only when no project has
        that name (a project may be called `5`)."""
        projects = await self._all_projects()
        for wanted in ("name", "id"):
            for project in projects:
                if str(project[wanted]) == name_or_id:
                    return project
        raise ApiError(f"no project named {name_or_id!r} (see the dashboard, or check the "
                       "token's owner)", 404, "not_found")

    async def _all_projects(self) -> list[dict[str, Any]]:
        """Every page of `GET /api/projects` (newest first, paged by id)."""
        projects: list[dict[str, Any]] = []
        while True:
            before = projects[-1]["id"] if projects else None
            page = await self.get("/api/projects", limit=PROJECTS_PAGE, before=before)
            projects.extend(page)
            if len(page) < PROJECTS_PAGE:
                return projects


async def _chunks(path: Path, progress: Callable[[int], None]) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    with path.open("rb") as source:
        while chunk := await loop.run_in_executor(None, source.read, CHUNK):
            yield chunk
            progress(len(chunk))


def _error(status: int, body: bytes, url: str) -> ApiError:
    try:
        error = jsonlib.loads(body)["error"]
        return ApiError(error["message"], status, error.get("code"))
    except (ValueError, KeyError, TypeError):
        return ApiError(f"{url} answered {status} without a Slipway error: is it the "
                        "dashboard's address?", status)
