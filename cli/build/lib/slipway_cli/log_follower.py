"""`slipway logs BUILD --follow`: the build's log, stored lines then live ones, with no gap and
no line twice, exactly as the dashboard's build page does it.

The socket is connected first and live lines are held back; then the stored lines are read
page by page from the API; then the held lines newer than the last stored one are printed, and
from there live ones as they come. A batch that skips numbers (the socket dropped lines while
reconnecting) is filled in from the API. When the build ends, whatever was stored after the
last printed line is read until the API says the log is complete.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import socketio

from slipway_cli.client import ApiError, Client

# Each live event's lines, as the stream the API names for stored ones.
LINE_EVENTS = {"build_logs": "build_stdout", "build_errors": "build_stderr",
               "run_logs": "run_stdout", "run_error": "run_stderr"}
FINISHED = ("passed", "failed", "canceled")
Printer = Callable[[dict[str, Any]], None]


class LogFollower:
    def __init__(self, client: Client, build_id: int, show: Printer) -> None:
        self.client, self.build_id, self.show = client, build_id, show
        self.last = 0  # the newest line number shown
        self._held: list[dict[str, Any]] = []
        self._live = False
        self._ended = asyncio.Event()
        self._catching_up = asyncio.Lock()

    async def print_stored(self) -> str:
        """Show every stored line after the last shown one; the build's status."""
        async with self._catching_up:
            while True:
                page = await self.client.get(f"/api/builds/{self.build_id}/logs",
                                             after=self.last, limit=1000)
                for line in page["lines"]:
                    self._show(line)
                if not page["lines"] or page["complete"]:
                    return page["status"]

    async def follow(self) -> str:
        """Show the log until the build ends; its final status."""
        # On the client's own HTTP session, closed with it: a failed connection leaves no
        # session for aiohttp to complain about at exit.
        sio = socketio.AsyncClient(reconnection=True, logger=False, engineio_logger=False,
                                   http_session=self.client.session)
        for event, stream in LINE_EVENTS.items():
            sio.on(event, self._receiver(stream))
        sio.on("buildStatusUpdate", self._on_status)
        try:
            await sio.connect(self.client.url, auth={"token": self.client.token},
                              transports=["websocket"], socketio_path="socket.io",
                              wait_timeout=30)
        except socketio.exceptions.ConnectionError as exc:
            raise ApiError(f"cannot follow the log over Socket.io: {exc}") from None
        try:
            status = await self.print_stored()
            self._live = True
            for line in sorted(self._held, key=lambda held: held["lineNumber"]):
                self._show(line)
            self._held.clear()
            if status not in FINISHED:
                await self._ended.wait()
            return await self.print_stored()
        finally:
            await sio.disconnect()

    def _receiver(self, stream: str) -> Callable[[dict[str, Any]], Any]:
        async def receive(payload: dict[str, Any]) -> None:
            if payload.get("buildId") == self.build_id:
                await self._on_lines([{**line, "stream": stream}
                                      for line in payload.get("lines") or []])
        return receive

    async def _on_lines(self, lines: list[dict[str, Any]]) -> None:
        if not self._live:
            self._held.extend(lines)
            return
        if lines and lines[0]["lineNumber"] > self.last + 1:
            await self.print_stored()  # a gap: fill it from what is stored
        for line in lines:
            self._show(line)

    async def _on_status(self, payload: dict[str, Any]) -> None:
        if payload.get("buildId") == self.build_id and payload.get("status") in FINISHED:
            self._ended.set()

    def _show(self, line: dict[str, Any]) -> None:
        if line["lineNumber"] > self.last:
            self.last = line["lineNumber"]
            self.show(line)
