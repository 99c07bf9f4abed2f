"""Notifications hear about builds through the engine's one event interface, so the build
and deploy code stays unaware of them.

`NotifyingEmitter` wraps the emitter the engine is given: every event is passed on unchanged,
and the three that notifications are about (a build running, a build failed, a deployment
live) also queue notifications, in a task of their own on the IOLoop. `emit` stays what the
engine relies on (thread-safe, never blocking); a failure to queue is logged and never
reaches the build.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from engine.events import EventEmitter

log = logging.getLogger(__name__)

# A deployment that went live: production (and a rollback to it), or a branch preview.
LIVE_STATUSES = ("live", "preview")


@dataclass(frozen=True)
class Occasion:
    """An engine event, as notifications see it."""

    project_id: int
    event: str
    build_id: int
    deployment: dict[str, Any] | None = None


def occasion_for(event: str, payload: dict[str, Any]) -> Occasion | None:
    """The notification event an engine event is, or None for the others (log lines...)."""
    if event == "buildStatusUpdate":
        kind = {"running": "build_started", "failed": "deploy_failed"}.get(payload["status"])
        if kind:
            return Occasion(payload["projectId"], kind, payload["buildId"])
    elif event == "deploymentUpdate" and payload.get("status") in LIVE_STATUSES:
        return Occasion(payload["projectId"], "deploy_succeeded", payload["buildId"],
                        {"id": payload.get("deploymentId"), "url": payload.get("url")})
    return None


Notify = Callable[..., Awaitable[Any]]


class NotifyingEmitter:
    """An EventEmitter passing events to `inner` and queuing notifications through `notify`
    (`Notifications.notify`)."""

    def __init__(self, inner: EventEmitter, notify: Notify,
                 loop: asyncio.AbstractEventLoop) -> None:
        self._inner, self._notify, self._loop = inner, notify, loop
        self._tasks: set[asyncio.Task[None]] = set()

    def emit(self, user_id: int, event: str, payload: dict[str, Any]) -> None:
        self._inner.emit(user_id, event, payload)
        if event not in ("buildStatusUpdate", "deploymentUpdate"):
            return  # the hot path: thousands of log batches
        try:
            occasion = occasion_for(event, payload)
            if occasion is not None:
                self._loop.call_soon_threadsafe(self._start, occasion)
        except Exception:
            log.exception("could not queue notifications for %s", event)

    async def idle(self) -> None:
        """Wait until what was emitted so far is queued (shutdown, tests)."""
        await asyncio.sleep(0)  # run the `_start` callbacks already scheduled
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _start(self, occasion: Occasion) -> None:
        task = self._loop.create_task(self._queue(occasion))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _queue(self, occasion: Occasion) -> None:
        try:
            await self._notify(occasion.project_id, occasion.event, build_id=occasion.build_id,
                               deployment=occasion.deployment)
        except Exception as exc:
            log.warning("project %s: %s notifications not queued: %s", occasion.project_id,
                        occasion.event, exc)
