"""A web process's local copy of the releases it serves, when releases live in S3.

The site server reads releases from a directory laid out exactly as file storage lays out the
deployments directory (`<project>/releases/<build>`, `current`, `previews/<slug>`), so serving
is the same code and the same speed in both modes. This mirror keeps that directory in step with
the database: which build a project's production and preview hosts serve are rows (the live
deployment, `previews`), and when one changes the process that changed it sends
`NOTIFY slipway_releases_changed`; every web process then fetches the release if it does not
have it yet and swaps its local link, so a deploy or a rollback made through one process is
served by all of them a moment later. The whole picture is also read again at start, every
minute and after a database outage, so a notice missed loses nothing.

An immutable host (`<build>--<project>`) whose release this process has never fetched is
fetched on its first request. Releases no host points at are evicted, least recently used
first, once the cache holds more than `SLIPWAY_RELEASE_CACHE` bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import time
from collections import OrderedDict
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from psycopg_pool import AsyncConnectionPool

from engine.deploys.releases import (
    CURRENT,
    PREVIEWS,
    RELEASES,
    go_live,
    go_live_preview,
    live_build_id,
    preview_build_ids,
    preview_targets,
    release_dir,
    remove_preview,
)
from engine.sites.site_files import BUILD, parse_site_label
from engine.sites.site_paths import rename_site, site_dir, take_site_down
from engine.storage.manifest import BadManifest
from engine.storage.s3_releases import S3Releases, StoreError
from sql.database import OUTAGE_ERRORS
from sql.notices import RELEASES_CHANGED, NoticeListener
from sql.releases import Pointers, all_pointers, project_pointers, published_build

log = logging.getLogger(__name__)

PROJECT_ID_FILE = ".project-id"
RECONCILE_SECONDS = 60.0
UNKNOWN_BUILD_SECONDS = 30.0  # how long a build host that names nothing is not asked again
MAX_UNKNOWN = 10_000
SETTLE_WAIT_SECONDS = 10.0  # the longest a request waits for its project's pending refresh


class ReleaseMirror:
    def __init__(self, pool: AsyncConnectionPool, store: S3Releases, cache_dir: Path,
                 max_bytes: int, notices: NoticeListener | None = None) -> None:
        self.pool, self.store, self.cache, self.max_bytes = pool, store, cache_dir, max_bytes
        self.notices = notices
        self._names: dict[int, str] = {}  # project id → the name its directory has here
        self._wanted: dict[int, set[int]] = {}  # project id → builds its hosts point at
        self._sizes: OrderedDict[tuple[int, int], int] = OrderedDict()  # LRU of releases here
        self._locks: dict[int, asyncio.Lock] = {}
        self._fetching: dict[tuple[int, int], asyncio.Future[bool]] = {}
        self._unknown: dict[str, float] = {}
        self._settling: dict[str, asyncio.Task[Any]] = {}  # project name → its refresh
        self._tasks: set[asyncio.Task[Any]] = set()

    # Start, notices, the periodic pass

    async def start(self) -> None:
        """Take stock of the cache on disk, follow notices, and bring every project up to
        date once before serving."""
        await asyncio.to_thread(self._scan_cache)
        if self.notices is not None:
            self.notices.subscribe(RELEASES_CHANGED, self._on_notice,
                                   on_reconnect=lambda: self._spawn(self.refresh_all()))
        await self.refresh_all()

    async def keep_fresh(self) -> None:
        while True:
            await asyncio.sleep(RECONCILE_SECONDS)
            await self.refresh_all()

    def _on_notice(self, payload: str) -> None:
        try:
            notice = json.loads(payload)
            project_id, pruned = int(notice["project"]), [int(b) for b in notice["pruned"]]
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed releases notice")
            return
        task = self._spawn(self.refresh(project_id, pruned))
        name = self._names.get(project_id)
        if name is not None:
            # A visitor sent here by the build's "Ready" (which travels through Redis, beside
            # this notice) waits for the swap rather than seeing the release before.
            self._settling[name] = task
            task.add_done_callback(
                lambda done: self._settling.pop(name, None) if self._settling.get(name) is done
                else None)

    def _spawn(self, work: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def refresh_all(self) -> None:
        try:
            async with self.pool.connection() as conn:
                pointers = await all_pointers(conn)
        except OUTAGE_ERRORS as exc:
            log.warning("release pointers not refreshed (database unavailable: %s)", exc)
            return
        for project_id in set(self._names) - set(pointers):
            await self._apply(project_id, None)
        for project_id, found in pointers.items():
            await self._apply(project_id, found)
        await self._evict()

    async def refresh(self, project_id: int, pruned: list[int] | None = None) -> None:
        """Bring one project's hosts in step with the database (after a deploy, a rollback, a
        preview, a rename, a deletion, a pruning)."""
        try:
            async with self.pool.connection() as conn:
                found = await project_pointers(conn, project_id)
        except OUTAGE_ERRORS as exc:
            log.warning("project %s: release pointers not refreshed (database unavailable: "
                        "%s)", project_id, exc)
            return
        await self._apply(project_id, found, pruned or [])
        await self._evict()

    # One project

    async def _apply(self, project_id: int, found: Pointers | None,
                     pruned: list[int] | tuple[int, ...] = ()) -> None:
        lock = self._locks.setdefault(project_id, asyncio.Lock())
        async with lock:
            try:
                await self._apply_locked(project_id, found, pruned)
            except OSError as exc:  # this disk's trouble: the pointers are right, and the
                # next notice or pass tries again (a deployer's pointer stays committed)
                log.error("project %s: the release cache could not follow its pointers: %s",
                          project_id, exc)

    async def _apply_locked(self, project_id: int, found: Pointers | None,
                            pruned: list[int] | tuple[int, ...]) -> None:
        if found is None:
            await self._remove_project(project_id)
            return
        await self._place_project(project_id, found.name)
        # What the links point at now is kept while the new releases are fetched, and after
        # if one could not be: the links stay on it.
        self._wanted[project_id] = self._wanted.get(project_id, set()) | found.builds
        for build_id in pruned:
            if build_id not in found.builds:
                await self._drop(project_id, build_id)
        ready = {b for b in found.builds if await self._ensure(project_id, found.name, b)}
        linked = await asyncio.to_thread(self._point, found, ready)
        self._wanted[project_id] = found.builds | linked

    async def _place_project(self, project_id: int, name: str) -> None:
        # Names are unique in the database: another project still known here by this name was
        # deleted or renamed in a notice this process missed. Its directory is not this one's
        # (none of its releases is ever served under this name), and it is forgotten, so its
        # own removal or rename later leaves this project's directory be.
        for other in [p for p, known in self._names.items() if known == name and p != project_id]:
            self._forget(other)
        await asyncio.to_thread(_place_site, self.cache, self._names.get(project_id), name,
                                project_id)
        self._names[project_id] = name

    def _forget(self, project_id: int) -> str | None:
        """Forget what this process knew of a project's cache; returns its name here."""
        self._wanted.pop(project_id, None)
        for key in [key for key in self._sizes if key[0] == project_id]:
            del self._sizes[key]
        return self._names.pop(project_id, None)

    def _point(self, found: Pointers, ready: set[int]) -> set[int]:
        """Swap the local links to what the database says, for the releases that are here
        (one that could not be fetched keeps serving what it served); returns the builds the
        links point at afterwards."""
        site = site_dir(self.cache, found.name)
        if found.live is None:
            (site / CURRENT).unlink(missing_ok=True)
        elif found.live in ready and live_build_id(self.cache, found.name) != found.live:
            go_live(self.cache, found.name, found.live)
        shown = preview_targets(site)
        for slug, build_id in found.previews.items():
            if build_id in ready and shown.get(slug) != build_id:
                go_live_preview(self.cache, found.name, slug, build_id)
        previews = site / PREVIEWS
        if previews.is_dir():
            for link in previews.iterdir():
                if not link.name.startswith(".") and link.name not in found.previews:
                    remove_preview(self.cache, found.name, link.name)
        live = live_build_id(self.cache, found.name)
        return preview_build_ids(site) | ({live} if live is not None else set())

    async def _remove_project(self, project_id: int) -> None:
        name = self._forget(project_id)
        if name is not None:
            await asyncio.to_thread(_remove_site, self.cache, name, project_id)

    async def _drop(self, project_id: int, build_id: int) -> None:
        name = self._names.get(project_id)
        self._sizes.pop((project_id, build_id), None)
        if name is not None:
            await asyncio.to_thread(_delete_release, release_dir(self.cache, name, build_id))

    # Fetching

    async def _ensure(self, project_id: int, name: str, build_id: int) -> bool:
        """True once the release is in the cache, fetching it if needed (one fetch at a time
        per release, whoever asks)."""
        key = (project_id, build_id)
        if key in self._sizes and release_dir(self.cache, name, build_id).is_dir():
            self._sizes.move_to_end(key)
            return True
        pending = self._fetching.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._fetch(project_id, name, build_id))
            self._fetching[key] = pending
            pending.add_done_callback(lambda _: self._fetching.pop(key, None))
        return await asyncio.shield(pending)

    async def _fetch(self, project_id: int, name: str, build_id: int) -> bool:
        target = release_dir(self.cache, name, build_id)
        started = time.monotonic()
        try:
            if target.is_dir():  # published by this very process, or found at start
                size = await asyncio.to_thread(_tree_size, target)
            else:
                size = await asyncio.to_thread(self.store.fetch, project_id, build_id, target)
                if size is None:
                    log.warning("project %s: build %s has no release in storage", name,
                                build_id)
                    return False
                log.info("project %s: fetched release %s (%s bytes) in %.2f s", name,
                         build_id, size, time.monotonic() - started)
        except (*StoreError, BadManifest, OSError) as exc:
            log.error("project %s: release %s could not be fetched: %s", name, build_id, exc)
            return False
        self._sizes[(project_id, build_id)] = size
        return True

    def wants(self, label: str) -> bool:
        """True when `label` is an immutable build host whose release may exist but is not
        here yet: the request waits for `fetch_host`."""
        address = parse_site_label(label)
        if address is None:
            return False
        if address.project in self._settling:
            return True
        if address.kind != BUILD:
            return False
        try:
            path = release_dir(self.cache, address.project, int(address.ref))
        except ValueError:
            return False
        if path.is_dir():
            return False
        seen = self._unknown.get(label)
        return seen is None or time.monotonic() - seen > UNKNOWN_BUILD_SECONDS

    async def fetch_host(self, label: str) -> None:
        """Wait for the project's hosts to settle after a notice; fetch the release an
        immutable build host names, if it names a published one."""
        address = parse_site_label(label)
        if address is None:
            return
        settling = self._settling.get(address.project)
        if settling is not None:
            with contextlib.suppress(Exception):  # a timeout, or the refresh failing
                await asyncio.wait_for(asyncio.shield(settling), SETTLE_WAIT_SECONDS)
        if address.kind != BUILD or not self.wants(label):
            return
        build_id = int(address.ref)
        try:
            async with self.pool.connection() as conn:
                project_id = await published_build(conn, address.project, build_id)
        except OUTAGE_ERRORS:
            return
        if project_id is not None:
            async with self._locks.setdefault(project_id, asyncio.Lock()):
                await self._evict()  # room first: what is fetched now is served next
                await self._place_project(project_id, address.project)
                if await self._ensure(project_id, address.project, build_id):
                    return
        if len(self._unknown) >= MAX_UNKNOWN:
            self._unknown.clear()
        self._unknown[label] = time.monotonic()

    # The cache on disk

    def _scan_cache(self) -> None:
        """At start: the releases already here (oldest first), and debris removed."""
        self.cache.mkdir(parents=True, exist_ok=True)
        found = []
        for site in self.cache.iterdir():
            marker = site / PROJECT_ID_FILE
            if site.name.startswith(".") or not site.is_dir():
                continue
            try:
                project_id = int(marker.read_text())
            except (OSError, ValueError):
                shutil.rmtree(site, ignore_errors=True)  # no owner known: fetched again
                continue
            self._names[project_id] = site.name
            for debris in (site / RELEASES).glob(".fetch-*"):  # a fetch cut short
                shutil.rmtree(debris, ignore_errors=True)
            for release in (site / RELEASES).glob("[0-9]*"):
                if release.name.isdigit() and release.is_dir():
                    found.append((release.stat().st_mtime, project_id, int(release.name),
                                  _tree_size(release)))
        for _, project_id, build_id, size in sorted(found):
            self._sizes[(project_id, build_id)] = size

    async def _evict(self) -> None:
        """Delete releases no host points at, least recently used first, until the cache
        fits in its budget."""
        total = sum(self._sizes.values())
        for key in list(self._sizes):
            if total <= self.max_bytes:
                break
            project_id, build_id = key
            if build_id in self._wanted.get(project_id, ()):
                continue
            total -= self._sizes[key]
            await self._drop(project_id, build_id)

    @property
    def cached_bytes(self) -> int:
        return sum(self._sizes.values())

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, *self._fetching.values(), return_exceptions=True)


def _place_site(cache: Path, old: str | None, name: str, project_id: int) -> None:
    """The project's directory in the cache, under its current name, marked with its id."""
    if old is not None and old != name:
        rename_site(cache, old, name)
    site = site_dir(cache, name)
    if _marked(site, project_id) is False:  # a deleted project's, whose name was taken again
        _remove_site(cache, name, None)
    (site / RELEASES).mkdir(parents=True, exist_ok=True)
    if not _marked(site, project_id):
        (site / PROJECT_ID_FILE).write_text(f"{project_id}\n")


def _remove_site(cache: Path, name: str, project_id: int | None) -> None:
    """Remove a deleted project's directory, unless its name already belongs to a newer
    project (deleted, then created again under the same name); None: whoever's it is."""
    if project_id is not None and _marked(site_dir(cache, name), project_id) is False:
        return
    aside = take_site_down(cache, name)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def _marked(site: Path, project_id: int) -> bool | None:
    """Whether the directory is marked as the project's (None: not marked at all)."""
    try:
        return int((site / PROJECT_ID_FILE).read_text()) == project_id
    except (OSError, ValueError):
        return None


def _delete_release(release: Path) -> None:
    """Set the release aside in one rename, then delete it: a fetch of the same release at
    that moment finds it gone, never half deleted (what a crash leaves, the next start
    sweeps as a cut-short fetch)."""
    aside = release.with_name(f".fetch-evicted-{release.name}-{secrets.token_hex(4)}")
    try:
        release.rename(aside)
    except FileNotFoundError:
        return
    shutil.rmtree(aside, ignore_errors=True)


def _tree_size(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total
