"""The one ownership check every package's reads and writes start with."""

from __future__ import annotations

from typing import Any

from engine.errors import NotFound
from sql.projects import owns_project


async def require_owned_project(conn: Any, owner_id: int, project_id: int) -> None:
    """NotFound unless the project exists and is the owner's (the two are never told apart)."""
    if not await owns_project(conn, owner_id, project_id):
        raise NotFound("no such project")
