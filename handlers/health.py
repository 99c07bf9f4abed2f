"""`GET /api/health`: is the server up, can it reach its database and the Docker engine.

A missing Docker engine (or build network) is reported, with the reason, but is not an outage
of the dashboard: the answer stays 200 ("degraded"); only an unreachable database makes it 503.
The engine's state is cached for a few seconds (`EngineStatus`), so the check stays cheap.
A web-only process (SLIPWAY_ROLES=web) runs no builds, so its Docker engine is not looked at;
instead `workers` says how many worker processes are alive, and none is "degraded": builds
would wait in the queue.
"""

from __future__ import annotations

import asyncio

from engine import __version__
from engine.builds.liveness import ABANDONED_AFTER_SECONDS
from handlers.base import APIHandler
from sql.instances import live_workers

NOT_USED = "not used: this process runs no builds (SLIPWAY_ROLES=web)"


class HealthHandler(APIHandler):
    async def get(self) -> None:
        app = self.application
        if app.config.runs_builds:
            db, docker = await asyncio.gather(app.db.check(), app.engine_status.get())
        else:
            db, docker = await app.db.check(), NOT_USED
        answer = {"db": db, "docker": docker, "version": __version__}
        if db == "ok" and not app.config.runs_builds:
            answer["workers"] = await self._workers()
        if db != "ok":
            status, code = "unavailable", 503
        elif docker not in ("ok", NOT_USED) or answer.get("workers") == 0:
            status, code = "degraded", 200
        else:
            status, code = "ok", 200
        self.write_json({"status": status, **answer}, code)

    async def _workers(self) -> int:
        async with self.application.db.pool.connection() as conn:
            return await live_workers(conn, ABANDONED_AFTER_SECONDS)
