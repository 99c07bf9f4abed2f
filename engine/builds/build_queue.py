"""The durable build queue: builds are rows; a dispatcher on the IOLoop of each worker runs them.

Queued builds wait in PostgreSQL, so nothing is lost on restart, and any number of worker
processes share them: each claims the oldest (`FOR UPDATE SKIP LOCKED`) whenever fewer than its
SLIPWAY_BUILD_CONCURRENCY run, recording itself as the build's runner, and hands each to a
thread. Workers are woken by NOTIFY when a build is queued (and poll, in case one was missed).
A new build of a branch cancels that branch's older queued ones. Stopping a running build is a
request in its row plus a NOTIFY, so it reaches the worker running it wherever that is.
At start, builds this process was running when it died are failed ("interrupted by restart");
a process that dies for good has its builds failed by the others (`engine.builds.liveness`).
Every status change is sent to the owner as `buildStatusUpdate`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from psycopg_pool import AsyncConnectionPool

from engine.builds.build_runner import NO_REPOSITORY, BuildControl, BuildRunner, Outcome
from engine.builds.liveness import Liveness
from engine.containers.docker_engine import docker_status
from engine.errors import Conflict, NotFound, Unavailable
from engine.events import EventEmitter
from engine.ownership import require_owned_project
from engine.times import iso_time
from sql.builds import (
    cancel_project_queued,
    cancel_queued,
    claim_queued,
    fail_interrupted,
    finish_build,
    get_build,
    queue_build,
    request_project_stop,
    request_stop,
    running_build_ids,
    running_in_project,
    stop_requests,
    supersede_queued,
)
from sql.database import OUTAGE_ERRORS
from sql.notices import BUILD_STOP, BUILDS_QUEUED, NoticeListener, notify
from sql.projects import (
    all_project_ids,
    owned_project_branch,
    project_has_repository,
    project_owner,
)

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0  # how often the dispatcher looks for work it was not told about
RECORD_RETRY_SECONDS = 1.0
CANCELED_BY_USER = "canceled by the user"


class BuildQueue:
    def __init__(self, pool: AsyncConnectionPool, runner: BuildRunner, emitter: EventEmitter,
                 *, concurrency: int, timeout: float, runner_id: str,
                 notices: NoticeListener, roles: str = "web,worker") -> None:
        self.pool, self.runner, self.emitter = pool, runner, emitter
        self.concurrency, self.timeout = concurrency, timeout
        self.runner_id, self.notices = runner_id, notices
        self.liveness = Liveness(pool, runner_id, roles=roles, concurrency=concurrency,
                                 announce=self.announce, after_beat=self._apply_stop_requests)
        self._executor = ThreadPoolExecutor(max_workers=concurrency,
                                            thread_name_prefix="slipway-build")
        self._running: dict[int, BuildControl] = {}
        self._owners: dict[int, int] = {}
        self._finishing: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None

    async def start(self, *, dispatch: bool = True) -> None:
        """Fail what this process was running when it died, start beating, and, when it is
        a worker (`dispatch`), remove what a crash left behind (work directories,
        half-published releases, containers, images) and run queued builds."""
        await self.liveness.register()
        async with self.pool.connection() as conn:
            interrupted = await fail_interrupted(conn, self.runner_id)
        for build in interrupted:
            log.warning("build %s was interrupted by a restart", build["id"])
            await self.announce(build)
        self.notices.subscribe(BUILD_STOP, self._on_stop_notice)
        loop = asyncio.get_running_loop()
        self._heartbeat = loop.create_task(self.liveness.run())
        if not dispatch:
            return
        async with self.pool.connection() as conn:  # after ours were failed: others' builds
            projects = await all_project_ids(conn)
            running = await running_build_ids(conn)
        await loop.run_in_executor(None, self.runner.remove_leftovers, projects, running)
        engine = await loop.run_in_executor(None, docker_status, self.runner.config.docker_host,
                                            self.runner.config.build_network)
        if engine != "ok":  # said now, not at the first build
            said = "builds will fail" in engine
            log.warning("%s%s", engine, "" if said else "; builds will fail until this is fixed")
        self.notices.subscribe(BUILDS_QUEUED, lambda _: self._wake.set(),
                               on_reconnect=self._wake.set)
        self._task = loop.create_task(self._dispatch())

    async def stop(self, grace_seconds: float = 15.0) -> None:
        """Stop dispatching and end running builds ("interrupted: Slipway stopped")."""
        self._stopping = True
        self._wake.set()
        for control in self._running.values():
            control.stop_reason = "interrupted: Slipway stopped"
            control.cancel_requested.set()
        deadline = time.monotonic() + grace_seconds
        while (self._running or self._finishing) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self._task:
            await self._task
        if self._heartbeat:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            if not self._running:
                await self.liveness.forget()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def enqueue(self, project_id: int, *, trigger: str, branch: str,
                      commit_sha: str | None = None, commit_message: str | None = None,
                      commit_author: str | None = None,
                      preview: str | None = None) -> dict[str, Any]:
        """Queue a build; the branch's older queued builds are canceled in the same step."""
        async with self.pool.connection() as conn, conn.transaction():
            build = await queue_build(conn, project_id, trigger=trigger, branch=branch,
                                      commit_sha=commit_sha, commit_message=commit_message,
                                      commit_author=commit_author, preview=preview)
            superseded = await supersede_queued(conn, project_id, branch, build["id"])
            await notify(conn, BUILDS_QUEUED)
        for old in superseded:
            await self.announce(old)
        await self.announce(build)
        self._wake.set()
        return build

    async def request(self, owner_id: int, project_id: int,
                      commit: str | None = None) -> dict[str, Any]:
        """A manual build of the project's branch head, or of `commit`."""
        async with self.pool.connection() as conn:
            branch = await owned_project_branch(conn, owner_id, project_id)
            has_git = await project_has_repository(conn, project_id)
        if branch is None:
            raise NotFound("no such project")
        if not has_git:
            raise Conflict(NO_REPOSITORY)
        return await self.enqueue(project_id, trigger="manual", branch=branch, commit_sha=commit)

    async def clear_cache(self, owner_id: int, project_id: int) -> None:
        async with self.pool.connection() as conn:
            await require_owned_project(conn, owner_id, project_id)
        await asyncio.get_running_loop().run_in_executor(None, self.runner.clear_cache,
                                                         project_id)

    async def cancel(self, owner_id: int, build_id: int) -> dict[str, Any]:
        """Cancel a queued build at once, or stop a running one (its runner ends it)."""
        async with self.pool.connection() as conn:
            build = await get_build(conn, owner_id, build_id)
            if build is None:
                raise NotFound("no such build")
            if build["status"] == "queued":
                canceled = await cancel_queued(conn, build_id)
                if canceled is not None:
                    await self.announce(canceled)
                    return canceled
                build = await get_build(conn, owner_id, build_id)
        if build["status"] == "running" and build["trigger"] != "upload":
            async with self.pool.connection() as conn, conn.transaction():
                stopping = await request_stop(conn, build_id, CANCELED_BY_USER)
                if stopping is not None:
                    await notify(conn, BUILD_STOP, json.dumps({"build": build_id}))
            if stopping is not None:
                if build_id in self._running:  # here: no need to wait for the notice
                    await self._apply_stop_requests()
                return stopping
            async with self.pool.connection() as conn:
                build = await get_build(conn, owner_id, build_id)
        raise Conflict(f"build #{build_id} is already {build['status']}")

    async def stop_project(self, project_id: int, grace_seconds: float = 30.0) -> None:
        """End a project's builds before it is deleted: queued ones are canceled, running
        ones stopped, and this waits until they have ended (a build that went on could
        publish a release of a project that no longer exists)."""
        async with self.pool.connection() as conn, conn.transaction():
            await cancel_project_queued(conn, project_id)
            stopping = await request_project_stop(conn, project_id, "the project was deleted")
            for build_id in stopping:
                await notify(conn, BUILD_STOP, json.dumps({"build": build_id}))
        if not stopping:
            return
        await self._apply_stop_requests()
        deadline = time.monotonic() + grace_seconds
        while True:
            async with self.pool.connection() as conn:
                if not await running_in_project(conn, project_id):
                    return
            if time.monotonic() > deadline:
                raise Unavailable("the project's build did not stop in time; try again")
            await asyncio.sleep(0.1)

    def _on_stop_notice(self, payload: str) -> None:
        """Another process (or this one) asked for a build to stop: if it runs here, look up
        why and stop it."""
        try:
            build_id = int(json.loads(payload)["build"])
        except (ValueError, KeyError, TypeError):
            return
        if build_id in self._running:
            task = asyncio.get_running_loop().create_task(self._apply_stop_requests())
            self._finishing.add(task)
            task.add_done_callback(self._finishing.discard)

    async def _apply_stop_requests(self) -> None:
        """Stop the builds running here that were asked to stop, or that another process
        already ended (it judged this one dead): none may go on to publish. Called on a
        notice and after every heartbeat, so a missed notice costs a few seconds at most."""
        mine = list(self._running)
        if not mine:
            return
        async with self.pool.connection() as conn:
            requests = await stop_requests(conn, mine)
        for build_id, reason in requests.items():
            control = self._running.get(build_id)
            if control is None or control.cancel_requested.is_set():
                continue
            if reason != CANCELED_BY_USER:
                control.stop_reason = reason
            control.cancel_requested.set()

    def is_running(self, build_id: int) -> bool:
        return build_id in self._running

    async def _dispatch(self) -> None:
        while not self._stopping:
            free = self.concurrency - len(self._running)
            if free > 0:
                try:
                    async with self.pool.connection() as conn:
                        claimed = await claim_queued(conn, free, self.runner_id)
                except OUTAGE_ERRORS as exc:
                    log.warning("could not claim queued builds (database unavailable: %s); "
                                "retrying", exc)
                    claimed = []
                except Exception:
                    log.exception("could not claim queued builds; retrying")
                    claimed = []
                for build in claimed:
                    await self._launch(build)
                if claimed:
                    continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)

    async def _launch(self, build: dict[str, Any]) -> None:
        control = BuildControl(deadline=time.monotonic() + self.timeout,
                               project_id=build["project_id"])
        self._running[build["id"]] = control
        await self.announce(build)
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, self.runner.run, build, control)

        def done(finished: asyncio.Future[Outcome]) -> None:
            task = loop.create_task(self._finish(build, control, finished))
            self._finishing.add(task)
            task.add_done_callback(self._finishing.discard)

        future.add_done_callback(done)

    async def _finish(self, build: dict[str, Any], control: BuildControl,
                      finished: asyncio.Future[Outcome]) -> None:
        try:
            outcome = finished.result()
        except OUTAGE_ERRORS:
            log.warning("build %s ended: the database became unreachable", build["id"])
            outcome = Outcome("failed", None, "the database became unreachable during the "
                              "build")
        except Exception:
            log.exception("build %s failed in the runner", build["id"])
            outcome = Outcome("failed", None, "internal error in Slipway (see the server log)")
        if control.stop_reason and outcome.status == "canceled":
            outcome = Outcome("failed", None, control.stop_reason)
        try:
            row = await self._record_outcome(build["id"], outcome)
            if row is not None:
                await self.announce(row)
        finally:
            self._running.pop(build["id"], None)
            self._wake.set()

    async def _record_outcome(self, build_id: int, outcome: Outcome) -> dict[str, Any] | None:
        """Write how the build ended, waiting out a database outage: a build must never stay
        `running` because the database was away when it ended (a restart would call it
        interrupted, but only then)."""
        while True:
            try:
                async with self.pool.connection() as conn:
                    return await finish_build(conn, build_id, outcome.status,
                                              outcome.exit_code, outcome.error)
            except OUTAGE_ERRORS:
                if self._stopping:
                    raise
                log.warning("build %s: waiting for the database to record its end", build_id)
                await asyncio.sleep(RECORD_RETRY_SECONDS)

    async def announce(self, build: dict[str, Any]) -> None:
        """Send the build's status to its owner's browsers."""
        owner = self._owners.get(build["project_id"])
        if owner is None:
            async with self.pool.connection() as conn:
                owner = await project_owner(conn, build["project_id"])
            if owner is None:
                return
            # Projects never change owner and ids are never reused: no query per event.
            self._owners[build["project_id"]] = owner
        self.emitter.emit(owner, "buildStatusUpdate", status_event(build))


def status_event(build: dict[str, Any]) -> dict[str, Any]:
    """The `buildStatusUpdate` payload of SPEC.md (plus the error reason)."""
    return {"projectId": build["project_id"], "buildId": build["id"],
            "status": build["status"], "exitCode": build["exit_code"],
            "error": build["error"], "startedAt": iso_time(build["started_at"]),
            "finishedAt": iso_time(build["finished_at"])}
