"""Keeping an in-memory copy of a table fresh, for the tables the hot paths read instead of
the database (custom domains, protected previews)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from sql.database import OUTAGE_ERRORS


async def keep_reloading(reload: Callable[[], Awaitable[None]], every: float, what: str,
                         log: logging.Logger) -> None:
    """Call `reload` every `every` seconds until cancelled, so changes other instances make
    arrive; during a database outage the last copy is kept and served."""
    while True:
        await asyncio.sleep(every)
        try:
            await reload()
        except OUTAGE_ERRORS as exc:
            log.warning("%s not reloaded: %s", what, exc)
