"""The Socket.io server, mounted in the same Tornado Application at `/socket.io/`.

Every event goes to one user's room. Cross-origin connections are accepted only from the
dashboard's public origin.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import socketio


def create_socket_server(public_url: str) -> socketio.AsyncServer:
    """The AsyncServer; connections are refused until sign-in exists to authenticate them."""
    parts = urlsplit(public_url)
    sio = socketio.AsyncServer(
        async_mode="tornado",
        cors_allowed_origins=[f"{parts.scheme}://{parts.netloc}"],
        logger=False,
        engineio_logger=False,
    )

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        raise socketio.exceptions.ConnectionRefusedError("sign-in is required")

    return sio
