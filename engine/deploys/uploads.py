"""Upload deploys: a directory built elsewhere (CI, a laptop) published without Git.

`slipway deploy dist` sends a `.tar.gz`; the handler has already streamed it to a file. Here
it is unpacked (confined: engine/deploys/upload_archive.py) into a work directory, and only
once the archive is known good does a build row appear: trigger `upload`, status running, then
passed, with a few log lines saying what was published. The files then take exactly the road a
build's output takes (Deployer.deploy: release directory, hard links, atomic swap,
precompression, immutable URL, rollback, previews), so an upload is indistinguishable from a
build once live. A refused archive answers 400 and leaves no row, no release, no work files.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import secrets
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from psycopg_pool import AsyncConnectionPool

from engine.builds.build_log import BuildLog
from engine.config import Config, readable_size
from engine.deploys.deployer import Deployer
from engine.deploys.previews import branch_slug
from engine.deploys.upload_archive import RefusedArchive, Unpacked, unpack_archive
from engine.errors import Invalid, NotFound, Unavailable
from engine.events import EventEmitter
from engine.sites.site_paths import site_url
from sql.builds import build_job, finish_build, start_upload
from sql.projects import get_project

log = logging.getLogger(__name__)

MAX_BRANCH = 255
# Unpacking runs on threads of its own, two at a time: a burst of large uploads waits its
# turn there instead of taking the shared threads that password checks, publishing and DNS
# lookups need.
UNPACK_THREADS = 2


class Uploads:
    def __init__(self, pool: AsyncConnectionPool, emitter: EventEmitter, config: Config,
                 deployer: Deployer,
                 announce: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        self.pool, self.emitter, self.config, self.deployer = pool, emitter, config, deployer
        self.announce = announce  # sends a build's buildStatusUpdate to its owner
        self.work_dir = config.data_dir / "uploads"
        self._unpacking = concurrent.futures.ThreadPoolExecutor(
            max_workers=UNPACK_THREADS, thread_name_prefix="slipway-unpack")

    def new_upload_file(self) -> Path:
        """Where a request streams its archive (the caller deletes it when done)."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        return self.work_dir / f"{secrets.token_hex(8)}.tar.gz"

    def close(self) -> None:
        self._unpacking.shutdown(wait=False, cancel_futures=True)

    def remove_leftovers(self) -> None:
        """At start: archives and unpacked files of uploads a killed Slipway was receiving.
        Nothing is being uploaded while Slipway starts, so all of it is debris."""
        shutil.rmtree(self.work_dir, ignore_errors=True)

    async def check_project(self, owner_id: int, project_id: int) -> dict[str, Any]:
        """The project; NotFound unless the user owns it. Called before the body is read,
        so a stranger's upload is refused without being received."""
        async with self.pool.connection() as conn:
            project = await get_project(conn, owner_id, project_id)
        if project is None:
            raise NotFound("no such project")
        return project

    async def deploy(self, owner_id: int, project_id: int, archive: Path,
                     preview_branch: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the finished build row, what Deployer.deploy returned with the `site_url` now
        showing it: production's or the preview's) once the upload is live.
        Invalid (a 400) for a refused archive; OSError if publishing failed (the build is
        then recorded failed and the previous release stays live)."""
        project = await self.check_project(owner_id, project_id)
        branch, preview = project["branch"], None
        if preview_branch is not None:
            branch = _checked_branch(preview_branch)
            preview = branch_slug(branch, project["name"])
        loop = asyncio.get_running_loop()
        files = archive.with_suffix(".files")
        try:
            try:
                unpacked = await loop.run_in_executor(self._unpacking, self._unpack, archive,
                                                      files)
            except RefusedArchive as exc:
                raise Invalid(str(exc), field="body") from None
            except OSError as exc:  # a full disk, say: the archive is not at fault
                log.error("upload to project %s could not be unpacked: %s", project_id, exc)
                raise Unavailable(f"the upload could not be unpacked on the server: "
                                  f"{exc.strerror or exc}") from None
            async with self.pool.connection() as conn:
                build = await start_upload(conn, project_id, branch, preview,
                                           self.config.runner_id)
                job = await build_job(conn, build["id"])
            await self.announce(build)
            return await self._publish(job, files, unpacked)
        finally:
            await loop.run_in_executor(None, shutil.rmtree, files, True)

    def _unpack(self, archive: Path, files: Path) -> Unpacked:
        files.mkdir()
        with archive.open("rb") as source:
            return unpack_archive(source, files, self.config.max_upload)

    async def _publish(self, job: dict[str, Any], files: Path,
                       unpacked: Unpacked) -> tuple[dict[str, Any], dict[str, Any]]:
        build_log = BuildLog(self.pool, self.emitter, asyncio.get_running_loop(),
                             build_id=job["id"], project_id=job["project_id"],
                             user_id=job["owner_id"])
        build_log.start()
        where = f"preview of {job['branch']}" if job["preview"] else "production"
        build_log.line("system", f"Upload received: {unpacked.files} files, "
                                 f"{readable_size(unpacked.bytes)} unpacked, for {where}")
        try:
            result = await self.deployer.deploy(job, files)
        except BaseException as exc:
            log.error("upload %s of project %s: publishing failed: %s", job["id"],
                      job["project_name"], exc)
            build_log.line("system", "Publishing failed; the live site is unchanged")
            build_log.finish()
            await build_log.close()
            await self._finished(job["id"], "failed", "publishing the upload failed")
            if isinstance(exc, OSError):  # a full disk, say: the server's trouble
                raise Unavailable("publishing the upload failed on the server; the live "
                                  "site is unchanged") from None
            raise
        url = result["url"] if job["preview"] else site_url(
            self.config.public_url, self.config.domain, job["project_name"])
        build_log.line("system", f"Published: {url}")
        build_log.finish()
        await build_log.close()
        return await self._finished(job["id"], "passed", None), {**result, "site_url": url}

    async def _finished(self, build_id: int, status: str, error: str | None) -> dict[str, Any]:
        async with self.pool.connection() as conn:
            row = await finish_build(conn, build_id, status, None, error)
        if row is None:  # no longer running: a restart marked it interrupted meanwhile
            raise Invalid("the upload was interrupted; send it again")
        await self.announce(row)
        return row


def _checked_branch(raw: str) -> str:
    branch = raw.strip()
    if not branch or len(branch) > MAX_BRANCH or any(ord(c) < 32 or c == "\x7f" for c in branch):
        raise Invalid(f"preview must be a branch name of 1 to {MAX_BRANCH} characters",
                      field="preview")
    return branch
