"""The one interface through which the engine tells browsers what happened.

The engine calls `emit` from worker threads; the HTTP side provides the implementation
(Socket.io, in `handlers/realtime.py`). The engine never imports anything about sockets.
"""

from __future__ import annotations

from typing import Any, Protocol


class EventEmitter(Protocol):
    def emit(self, user_id: int, event: str, payload: dict[str, Any]) -> None:
        """Send `event` to every browser of `user_id`. Thread-safe; never blocks."""
