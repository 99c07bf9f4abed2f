"""Deployments: a project's history, upload deploys, and rolling back to one of them."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import Any, BinaryIO

from engine.accounts.scopes import DEPLOY
from engine.config import format_size
from engine.ownership import require_owned_project
from handlers.base import APIError, APIHandler, authenticated, path_id
from handlers.models import build_model, deployment_model
from sql.deployments import list_deployments

# `Content-Type` values an upload may carry: gzip's registered type, and the old alias.
ARCHIVE_TYPES = ("application/gzip", "application/x-gzip")
UPLOAD_SLACK_BYTES = 1024 * 1024


class ProjectDeploymentsHandler(APIHandler):
    """`GET /api/projects/{id}/deployments?before=&limit=`: newest first.

    `POST /api/projects/{id}/deployments[?preview=<branch>]` with a `.tar.gz` body: publish
    it as a release (engine/deploys/uploads.py). The sign-in, the project and the declared
    size are checked before a byte of the body is read; the body then streams to a file
    (never held in memory), each chunk written off the loop, the next read only after it,
    so a slow disk slows the upload instead of filling memory."""

    async def prepare(self) -> None:
        self._upload: Path | None = None
        self._upload_file: BinaryIO | None = None
        self._upload_size = 0
        if self.request.method != "POST":
            await super().prepare()
            return
        limit = self.application.config.max_upload
        self.current_user = await self.authenticate(DEPLOY)
        uploads = self.application.uploads
        await uploads.check_project(self.current_user["id"], path_id(self.path_args[0]))
        kind = self.request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if kind not in ARCHIVE_TYPES:
            raise APIError(415, "send the site as a .tar.gz archive with Content-Type: "
                                "application/gzip")
        declared = self.request.headers.get("Content-Length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            raise self._upload_too_large()
        # Tornado's own ceiling, past which it drops the connection: a little above ours, so
        # a chunked body over the limit still gets the 413 below.
        self.request.connection.set_max_body_size(limit + UPLOAD_SLACK_BYTES)
        self._upload = uploads.new_upload_file()
        self._upload_file = self._upload.open("wb")

    def data_received(self, chunk: bytes) -> Any:
        if self._upload_file is None:
            return super().data_received(chunk)
        self._upload_size += len(chunk)
        if self._upload_size > self.application.config.max_upload:
            return None  # answered with a 413 once the body ends; nothing more is written
        return asyncio.get_running_loop().run_in_executor(None, self._upload_file.write, chunk)

    @authenticated
    async def get(self, project_id: str) -> None:
        before = self.int_argument("before", None, 1, 2**63 - 1)
        limit = self.int_argument("limit", 20, 1, 100)
        async with self.application.db.pool.connection() as conn:
            await require_owned_project(conn, self.current_user["id"], path_id(project_id))
            rows = await list_deployments(conn, path_id(project_id), before, limit)
        self.write_json([deployment_model(d) for d in rows])

    async def post(self, project_id: str) -> None:
        assert self._upload is not None and self._upload_file is not None
        self._close_upload_file()
        if self._upload_size > self.application.config.max_upload:
            raise self._upload_too_large()
        if self._upload_size == 0:
            raise APIError(400, "the request body is empty: send the site as a .tar.gz archive")
        preview = self.get_query_argument("preview", None)
        build, result = await self.application.uploads.deploy(
            self.current_user["id"], path_id(project_id), self._upload, preview)
        deployment = deployment_model(result) if "id" in result else None
        self.write_json({"build": build_model(build), "deployment": deployment,
                         "url": result["site_url"], "preview": result.get("preview")}, 201)

    def on_finish(self) -> None:
        self._discard_upload()

    def on_connection_close(self) -> None:
        super().on_connection_close()
        self._discard_upload()

    def _close_upload_file(self) -> None:
        if self._upload_file is not None and not self._upload_file.closed:
            self._upload_file.close()

    def _discard_upload(self) -> None:
        upload = getattr(self, "_upload", None)
        if upload is not None:
            self._close_upload_file()
            with contextlib.suppress(OSError):
                os.unlink(upload)
            self._upload = None

    def _upload_too_large(self) -> APIError:
        return APIError(413, "the archive is larger than "
                             f"{format_size(self.application.config.max_upload)} "
                             "(SLIPWAY_MAX_UPLOAD)")


class RollbackHandler(APIHandler):
    """`POST /api/deployments/{id}/rollback`: live again at once (200), or, when its release
    was pruned, a rebuild of its commit is queued (202)."""

    @authenticated(scope=DEPLOY)
    async def post(self, deployment_id: str) -> None:
        kind, row = await self.application.deployer.rollback(self.current_user["id"],
                                                             path_id(deployment_id))
        if kind == "build":
            self.write_json({"build": build_model(row)}, 202)
        else:
            self.write_json({"deployment": deployment_model(row)})
