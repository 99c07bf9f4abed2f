"""What the deployer does with releases when they live in S3 (engine.deploys.deployer calls
it through its `ReleaseStore` protocol; with file storage there is none and the deployments
directory is the store).

A release is published on local disk first, exactly as with file storage (the same checks,
hard links and pre-compression), then uploaded once, manifest last. After a pointer changes,
this process's own cache is brought in step at once (a web process) or the local copy is
deleted (a worker, which never serves it); other web processes follow the notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from pathlib import Path

from psycopg_pool import AsyncConnectionPool

from engine.config import Config
from engine.deploys.releases import precompress, release_dir
from engine.errors import Unavailable
from engine.storage.release_mirror import ReleaseMirror
from engine.storage.s3_releases import S3Releases, StoreError
from sql.deployments import lock_project
from sql.notices import NoticeListener
from sql.releases import announce_change, builds_in_use

log = logging.getLogger(__name__)


class StoredReleases:
    def __init__(self, pool: AsyncConnectionPool, s3: S3Releases, deployments_dir: Path,
                 mirror: ReleaseMirror | None) -> None:
        self.pool, self.s3, self.local, self.mirror = pool, s3, deployments_dir, mirror

    async def upload(self, project_id: int, build_id: int, release: Path) -> None:
        """Compress, then upload a release published on local disk (before it goes live:
        what is stored never changes afterwards). Raises OSError when the store fails, as a
        full disk would with file storage: the build fails, the live release stays."""
        started = time.monotonic()
        await asyncio.to_thread(precompress, release)
        try:
            size = await asyncio.to_thread(self.s3.upload, project_id, build_id, release)
        except StoreError as exc:
            log.error("release %s could not be uploaded: %s", build_id, exc)
            with contextlib.suppress(*StoreError):  # what did arrive is no release (no manifest)
                await asyncio.to_thread(self.s3.delete, project_id, build_id)
            raise OSError(f"the release could not be uploaded to {self.s3.where}: "
                          f"{_reason(exc)}") from None
        log.info("release %s uploaded (%s bytes) in %.2f s", build_id, size,
                 time.monotonic() - started)

    async def exists(self, project_id: int, build_id: int) -> bool:
        """Whether the release is stored; raises Unavailable (503) when the store fails."""
        try:
            return await asyncio.to_thread(self.s3.exists, project_id, build_id)
        except StoreError as exc:
            raise Unavailable(f"the release storage ({self.s3.where}) did not answer: "
                              f"{_reason(exc)}; nothing was changed") from None

    async def discard(self, project_id: int, name: str, build_id: int) -> None:
        """A release that never went live (its project was deleted, the database went away)."""
        await asyncio.to_thread(shutil.rmtree, release_dir(self.local, name, build_id), True)
        try:
            await asyncio.to_thread(self.s3.delete, project_id, build_id)
        except StoreError as exc:  # never live, so never served: only bytes are left
            log.error("release %s was not live and could not be deleted: %s", build_id, exc)

    async def changed(self, project_id: int, name: str, build_id: int | None = None) -> None:
        """After a pointer changed: this process serves it from its next request."""
        if self.mirror is not None:
            await self.mirror.refresh(project_id)
        elif build_id is not None:
            await asyncio.to_thread(shutil.rmtree, release_dir(self.local, name, build_id), True)

    async def prune(self, project_id: int, keep: int, publishing: set[int]) -> list[int]:
        """Delete the stored releases beyond the newest `keep`, never one that is live,
        previewed, still building anywhere, or being published here."""
        # Under the project's lock, which a rollback holds from asking whether its release is
        # stored until it is live: what it makes live is spared, or it finds it gone.
        async with self.pool.connection() as conn, conn.transaction():
            await lock_project(conn, project_id)
            spared = await builds_in_use(conn, project_id) | publishing
            stored = sorted(await asyncio.to_thread(self.s3.build_ids, project_id), reverse=True)
            doomed = [build_id for build_id in stored[keep:] if build_id not in spared]
            for build_id in doomed:
                await asyncio.to_thread(self.s3.delete, project_id, build_id)
            if doomed:
                await announce_change(conn, project_id, doomed)
        return doomed

    async def renamed(self, project_id: int) -> None:
        """Web processes move the project's cached releases to its new name."""
        async with self.pool.connection() as conn:
            await announce_change(conn, project_id)
        if self.mirror is not None:
            await self.mirror.refresh(project_id)

    async def deleted(self, project_id: int) -> None:
        """A deleted project's releases (its rows are gone already)."""
        async with self.pool.connection() as conn:
            await announce_change(conn, project_id)
        try:
            await asyncio.to_thread(self.s3.delete_project, project_id)
        except StoreError as exc:  # the project is gone: what is left is only bytes
            log.error("project %s was deleted but its releases were left in storage: %s",
                      project_id, exc)


def _reason(exc: BaseException) -> str:
    """A store error in one line, for a build log or an API answer (never a credential:
    botocore's messages name the endpoint, bucket and key at most)."""
    return str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__


def release_storage(config: Config, pool: AsyncConnectionPool, notices: NoticeListener
                    ) -> tuple[ReleaseMirror | None, StoredReleases | None]:
    """(the web process's mirror, the deployer's store) for S3 storage; (None, None) with file
    storage, where the deployments directory is both."""
    if not config.uses_s3:
        return None, None
    s3 = S3Releases(config.storage, config.s3_endpoint, max_release_bytes=release_limit(config))
    mirror = None
    if config.serves_web:
        mirror = ReleaseMirror(pool, s3, config.deployments_dir, config.release_cache, notices)
    return mirror, StoredReleases(pool, s3, config.deployments_dir, mirror)


def release_limit(config: Config) -> int:
    """The most a release may hold in all: a build's output (SLIPWAY_MAX_OUTPUT) or an upload's
    files (SLIPWAY_MAX_UPLOAD), whichever is larger, and its pre-compressed siblings (a .gz and
    a .br, each kept only when smaller than its file): under three times that."""
    return 3 * max(config.max_output, config.max_upload)
