"""Deploying and rolling back: the records, the swap of the live release, the events.

Deploy: publish the build's output as a release, then in one database transaction mark the old
live deployment superseded, record the new one live and point `current` at it; commit. If
publishing fails (a full disk, say) nothing changes: the previous release stays live and the
build fails with the reason. Rollback points `current` back at a kept release without building;
if that release was pruned, it queues a rebuild of its commit instead.

With S3 storage (a `ReleaseStore`), the release is uploaded before it goes live, the database's
pointer (the live deployment, a preview's row) is what changes, with a notice to every web
process in the same transaction, and pruning deletes stored releases.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import shutil
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from psycopg_pool import AsyncConnectionPool

from engine.config import Config
from engine.deploys.releases import (
    go_live,
    go_live_preview,
    live_build_id,
    precompress,
    preview_build_ids,
    prune_releases,
    publish_release,
    release_dir,
    remove_preview,
)
from engine.errors import Conflict, NotFound
from engine.events import EventEmitter
from engine.sites.site_paths import site_dir, site_url
from sql.deployments import get_deployment, lock_project, make_live_again, record_live
from sql.releases import announce_change, set_preview
from sql.releases import remove_preview as forget_preview

log = logging.getLogger(__name__)


class ReleaseStore(Protocol):
    """Where releases live when it is not (only) the deployments directory: S3
    (engine.storage.stored_releases)."""

    async def upload(self, project_id: int, build_id: int, release: Path) -> None: ...
    async def exists(self, project_id: int, build_id: int) -> bool: ...
    async def discard(self, project_id: int, name: str, build_id: int) -> None: ...
    async def changed(self, project_id: int, name: str,
                      build_id: int | None = None) -> None: ...
    async def prune(self, project_id: int, keep: int, publishing: set[int]) -> list[int]: ...


class Deployer:
    def __init__(self, pool: AsyncConnectionPool, emitter: EventEmitter, config: Config,
                 enqueue: Callable[..., Awaitable[dict[str, Any]]],
                 store: ReleaseStore | None = None) -> None:
        self.pool, self.emitter, self.config, self.enqueue = pool, emitter, config, enqueue
        self.store = store
        self._background: set[asyncio.Future[Any]] = set()
        # (project, build id) of releases published but not yet live: pruning after another
        # deploy of the project must leave them be (two builds, or uploads, at once).
        self._in_flight: set[tuple[str, int]] = set()
        self._in_flight_lock = threading.Lock()  # pruning reads it from its thread

    async def deploy(self, job: dict[str, Any], output: Path) -> dict[str, Any]:
        """Publish a passed build's output and make it live. Raises OSError if publishing
        fails, with the previous release still live."""
        loop = asyncio.get_running_loop()
        name, build_id = job["project_name"], job["id"]
        with self._in_flight_lock:
            self._in_flight.add((name, build_id))
        try:
            return await self._publish(job, output, loop)
        finally:
            with self._in_flight_lock:
                self._in_flight.discard((name, build_id))

    async def _publish(self, job: dict[str, Any], output: Path,
                       loop: asyncio.AbstractEventLoop) -> dict[str, Any]:
        name, build_id, project_id = job["project_name"], job["id"], job["project_id"]
        sites = self.config.deployments_dir
        release = await loop.run_in_executor(None, publish_release, sites, name, build_id,
                                             output)
        if self.store is not None:
            try:
                await self.store.upload(project_id, build_id, release)
            except BaseException:
                await loop.run_in_executor(None, shutil.rmtree, release, True)
                raise
        production = site_url(self.config.public_url, self.config.domain, name)
        try:
            if job.get("preview"):
                await self._point_preview(job)
            else:
                immutable = site_url(self.config.public_url, self.config.domain,
                                     f"{build_id}--{name}")
                async with self.pool.connection() as conn, conn.transaction():
                    deployment = await record_live(conn, project_id, build_id, immutable,
                                                   production)
                    if self.store is not None:
                        await announce_change(conn, project_id)
                    else:
                        await loop.run_in_executor(None, go_live, sites, name, build_id)
        except BaseException:
            # Not live (the project was deleted meanwhile, the database went away): a release
            # left on disk would still be served at its immutable address. (One the swap
            # already made live stays: the site keeps working.)
            if self.store is not None:
                await self.store.discard(project_id, name, build_id)
            elif (live_build_id(sites, name) != build_id
                  and build_id not in preview_build_ids(site_dir(sites, name))):
                await loop.run_in_executor(None, shutil.rmtree, release, True)
            raise
        # Live from here on: what follows (this process's cache, housekeeping) never undoes it.
        if job.get("preview"):
            return await self._preview_live(job, release)
        log.info("project %s: build %s is live at %s", name, build_id, production)
        await self._went_live(project_id, name, build_id, release)
        self._announce(job["owner_id"], deployment)
        return deployment

    async def _went_live(self, project_id: int, name: str, build_id: int,
                         release: Path) -> None:
        """After a pointer changed: this process serves it now; housekeeping follows."""
        if self.store is not None:
            await self.store.changed(project_id, name, build_id)
            self._later(self._prune_stored, project_id)
        else:
            self._later(self._prune, name)
            self._later(precompress, release)

    async def _point_preview(self, job: dict[str, Any]) -> None:
        """A branch preview: its own host, no deployment record, production untouched."""
        name, slug, project_id = job["project_name"], job["preview"], job["project_id"]
        async with self.pool.connection() as conn, conn.transaction():
            await set_preview(conn, project_id, slug, job["id"])
            if self.store is not None:
                await announce_change(conn, project_id)
        if self.store is None:  # the link once the row is committed: it serves at once
            await asyncio.get_running_loop().run_in_executor(
                None, go_live_preview, self.config.deployments_dir, name, slug, job["id"])

    async def _preview_live(self, job: dict[str, Any], release: Path) -> dict[str, Any]:
        """After the preview's pointer committed (what fails now never undoes it)."""
        name, slug, project_id = job["project_name"], job["preview"], job["project_id"]
        url = site_url(self.config.public_url, self.config.domain, f"git-{slug}--{name}")
        log.info("project %s: preview of %s is live at %s", name, job["branch"], url)
        await self._went_live(project_id, name, job["id"], release)
        self.emitter.emit(job["owner_id"], "deploymentUpdate", {
            "projectId": project_id, "buildId": job["id"], "deploymentId": None,
            "status": "preview", "url": url})
        return {"url": url, "preview": slug}

    async def remove_preview(self, project_id: int, name: str, slug: str) -> bool:
        """Take a branch preview down (its release goes with the next pruning)."""
        async with self.pool.connection() as conn, conn.transaction():
            removed = await forget_preview(conn, project_id, slug)
            if self.store is not None:
                await announce_change(conn, project_id)
        if self.store is not None:
            await self.store.changed(project_id, name)
            return removed
        on_disk = await asyncio.get_running_loop().run_in_executor(
            None, remove_preview, self.config.deployments_dir, name, slug)
        return removed or on_disk

    async def rollback(self, owner_id: int, deployment_id: int) -> tuple[str, dict[str, Any]]:
        """("deployment", row) when the release went live again at once, or ("build", row)
        when it had been pruned and a rebuild of its commit was queued."""
        async with self.pool.connection() as conn:
            target = await get_deployment(conn, owner_id, deployment_id)
        if target is None:
            raise NotFound("no such deployment")
        if target["status"] == "live":
            return "deployment", target
        sites, name = self.config.deployments_dir, target["project_name"]
        project_id, build_id = target["project_id"], target["build_id"]
        loop = asyncio.get_running_loop()
        async with self.pool.connection() as conn, conn.transaction():
            # Pruning takes turns with this (the project's lock): the release found kept here
            # is not deleted before it is live, and then it is spared.
            await lock_project(conn, project_id)
            if self.store is not None:
                kept = await self.store.exists(project_id, build_id)
            else:
                kept = release_dir(sites, name, build_id).is_dir()
            if kept:
                deployment = await make_live_again(conn, target)
                if self.store is not None:
                    await announce_change(conn, project_id)
                else:
                    await loop.run_in_executor(None, go_live, sites, name, build_id)
        if not kept:
            if target["trigger"] == "upload":  # no commit to rebuild it from
                raise Conflict(f"the files of deployment {deployment_id} were pruned "
                               "(SLIPWAY_KEEP_RELEASES): deploy them again")
            build = await self.enqueue(target["project_id"], trigger="rollback",
                                       branch=target["branch"], commit_sha=target["commit_sha"])
            return "build", build
        if self.store is not None:
            await self.store.changed(project_id, name)
        log.info("project %s: rolled back to build %s", name, build_id)
        self._announce(owner_id, deployment)
        return "deployment", deployment

    def _prune(self, project: str) -> list[int]:
        """Prune the project's old releases, sparing those other deploys are publishing now
        (blocking: runs on an executor thread)."""
        with self._in_flight_lock:
            publishing = {build_id for name, build_id in self._in_flight if name == project}
        return prune_releases(self.config.deployments_dir, project, self.config.keep_releases,
                              publishing)

    async def _prune_stored(self, project_id: int) -> list[int]:
        with self._in_flight_lock:
            publishing = {build_id for _, build_id in self._in_flight}
        assert self.store is not None
        return await self.store.prune(project_id, self.config.keep_releases, publishing)

    def _announce(self, owner_id: int, deployment: dict[str, Any]) -> None:
        self.emitter.emit(owner_id, "deploymentUpdate", {
            "projectId": deployment["project_id"], "buildId": deployment["build_id"],
            "deploymentId": deployment["id"], "status": deployment["status"],
            "url": deployment["url"]})

    def _later(self, work: Callable[..., Any], *args: Any) -> None:
        """Housekeeping after going live, logged if it fails, never failing the deploy:
        blocking work on a thread, a coroutine function (the database, the store) on the
        loop."""
        if inspect.iscoroutinefunction(work):
            future = asyncio.ensure_future(work(*args))
        else:
            future = asyncio.ensure_future(asyncio.to_thread(work, *args))
        self._background.add(future)

        def done(finished: asyncio.Future[Any]) -> None:
            self._background.discard(finished)
            if not finished.cancelled() and finished.exception() is not None:
                log.error("%s failed: %s", work.__name__, finished.exception())

        future.add_done_callback(done)

    async def idle(self) -> None:
        """Wait for housekeeping to finish (tests, shutdown)."""
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
