"""Socket.io: authenticated connections, one room per user, and the engine's event emitter.

A client connects with `auth: {token}`, a session JWT or a personal access token of any scope
(events are reading); a missing, invalid, expired or revoked one is refused at the
handshake, so an unauthenticated socket never joins a room. Each socket joins the room of its
user, and every event goes to one user's room only. Cross-origin connections are accepted only
from the dashboard's public origin.

With several processes (SLIPWAY_REDIS_URL), the rooms span them through Redis: an event
emitted by any process (a worker running a build, say) reaches the user's browsers on every
web process. A worker-only process publishes and never listens.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import socketio
from psycopg_pool import AsyncConnectionPool

from engine.accounts.credentials import Credential
from sql.notices import SOCKETS_REVOKED, NoticeListener, notify

log = logging.getLogger(__name__)

Authenticator = Callable[[str], Awaitable[Credential | None]]


class JsonOnlyPacket(socketio.packet.Packet):
    """Slipway's events are plain JSON. The default packet walks every element of every
    payload looking for binary data; with 1,000 log lines an event that scan cost more CPU
    than all the rest of the server's work (2.5 of 4 s in a 100k-line flood, under a
    profiler), stalling the IOLoop."""

    uses_binary_events = False


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


class OncePerMinute(logging.Filter):
    """Lets each distinct message through once a minute: while Redis is away, every event
    (ten a second during a build) would otherwise log the same two lines."""

    def __init__(self) -> None:
        super().__init__()
        self._last: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        message = record.getMessage()
        if now - self._last.get(message, -60.0) < 60.0:
            return False
        self._last[message] = now
        return True


def redis_manager(url: str, secret_key: bytes, *,
                  write_only: bool) -> socketio.AsyncRedisManager:
    """The Redis channel of one installation: named after its secret key (which all of its
    processes share), so that two Slipways on one Redis never see each other's events.
    Connecting gives up after 2 s, so an unreachable Redis delays events, never the loop's
    other work; the events of an outage are lost to other processes' browsers (the stored
    log replays them on the next page load)."""
    channel = "slipway-" + hashlib.sha256(b"socket.io channel\0" + secret_key).hexdigest()[:16]
    logger = logging.getLogger("slipway.events")
    if not any(isinstance(f, OncePerMinute) for f in logger.filters):
        logger.addFilter(OncePerMinute())
    return socketio.AsyncRedisManager(url, channel=channel, write_only=write_only,
                                      logger=logger,
                                      redis_options={"socket_connect_timeout": 2})


def create_socket_server(public_url: str, authenticate: Authenticator,
                         manager: socketio.AsyncManager | None = None) -> socketio.AsyncServer:
    parts = urlsplit(public_url)
    sio = socketio.AsyncServer(
        client_manager=manager,
        async_mode="tornado",
        serializer=JsonOnlyPacket,
        cors_allowed_origins=[f"{parts.scheme}://{parts.netloc}"],
        logger=False,
        engineio_logger=False,
    )

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        credential = await authenticate(token) if isinstance(token, str) and token else None
        if credential is None:
            raise socketio.exceptions.ConnectionRefusedError(
                "unauthorized: a valid session token is required")
        user_id = credential.user["id"]
        await sio.save_session(sid, {"user_id": user_id, "token_id": credential.token_id})
        await sio.enter_room(sid, user_room(user_id))

    return sio


class SocketRevocations:
    """Closing the sockets of a user who signed out, or of a revoked token, on every web
    process: this one's at once, the others' through a NOTIFY (each knows only its own
    sockets; Redis carries events, not who is connected where)."""

    def __init__(self, sio: socketio.AsyncServer, pool: AsyncConnectionPool,
                 notices: NoticeListener) -> None:
        self._sio, self._pool = sio, pool
        self._tasks: set[asyncio.Task[None]] = set()
        notices.subscribe(SOCKETS_REVOKED, self._on_notice)

    async def revoke(self, user_id: int, token_id: int | None = None) -> None:
        await self._disconnect(user_id, token_id)
        async with self._pool.connection() as conn:
            await notify(conn, SOCKETS_REVOKED, json.dumps({"user": user_id,
                                                            "token": token_id}))

    def _on_notice(self, payload: str) -> None:
        try:
            notice = json.loads(payload)
            user_id, token_id = int(notice["user"]), notice["token"]
        except (ValueError, KeyError, TypeError):
            return
        task = asyncio.get_running_loop().create_task(
            self._disconnect(user_id, int(token_id) if token_id is not None else None))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _disconnect(self, user_id: int, token_id: int | None) -> None:
        if token_id is None:
            await disconnect_user(self._sio, user_id)
        else:
            await disconnect_token(self._sio, user_id, token_id)


async def disconnect_user(sio: socketio.AsyncServer, user_id: int) -> None:
    """Close every socket of a user (after logout their token no longer holds)."""
    sids = [sid for sid, _ in sio.manager.get_participants("/", user_room(user_id))]
    for sid in sids:
        await sio.disconnect(sid)


async def disconnect_token(sio: socketio.AsyncServer, user_id: int, token_id: int) -> None:
    """Close the sockets a revoked API token opened (its owner's other sockets stay)."""
    sids = [sid for sid, _ in sio.manager.get_participants("/", user_room(user_id))]
    for sid in sids:
        session = await sio.get_session(sid)
        if session.get("token_id") == token_id:
            await sio.disconnect(sid)


class SocketEmitter:
    """The engine's way to send events: `emit` may be called from any thread and returns at once.

    Events are queued and a task on the IOLoop sends them in order, so a worker thread never
    touches the Socket.io server directly, and a burst costs one wake-up of the loop, not one
    per event.
    """

    def __init__(self, sio: socketio.AsyncServer, loop: asyncio.AbstractEventLoop) -> None:
        self._sio = sio
        self._loop = loop
        self._pending: collections.deque[tuple[int, str, dict[str, Any]]] = collections.deque()
        self._lock = threading.Lock()
        self._scheduled = False
        self._task: asyncio.Task[None] | None = None  # held so the loop cannot drop it

    def emit(self, user_id: int, event: str, payload: dict[str, Any]) -> None:
        with self._lock:
            self._pending.append((user_id, event, payload))
            if self._scheduled:
                return
            self._scheduled = True
        self._loop.call_soon_threadsafe(self._start_drain)

    def _start_drain(self) -> None:
        self._task = self._loop.create_task(self._drain())

    async def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    self._scheduled = False
                    return
                user_id, event, payload = self._pending.popleft()
            try:
                await self._sio.emit(event, payload, room=user_room(user_id))
            except Exception:
                log.exception("could not emit %s to user %s", event, user_id)
