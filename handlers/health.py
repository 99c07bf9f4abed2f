"""`GET /api/health`: is the server up, can it reach its database and the Docker engine.

A missing Docker engine (or build network) is reported, with the reason, but is not an outage
of the dashboard: the answer stays 200 ("degraded"); only an unreachable database makes it 503.
The engine's state is cached for a few seconds (`EngineStatus`), so the check stays cheap.
"""

from __future__ import annotations

import asyncio

from engine import __version__
from handlers.base import APIHandler


class HealthHandler(APIHandler):
    async def get(self) -> None:
        app = self.application
        db, docker = await asyncio.gather(app.db.check(), app.engine_status.get())
        if db != "ok":
            status, code = "unavailable", 503
        elif docker != "ok":
            status, code = "degraded", 200
        else:
            status, code = "ok", 200
        self.write_json(
            {"status": status, "db": db, "docker": docker, "version": __version__}, code
        )
