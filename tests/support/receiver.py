"""A real HTTP server on 127.0.0.1 standing in for a notification's target (a CI hook, Slack,
Discord): it records every request and answers with the statuses a test scripts."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import tornado.httpserver
import tornado.netutil
import tornado.web
from tornado.httputil import HTTPHeaders


@dataclass
class Received:
    path: str
    headers: HTTPHeaders
    body: bytes


class _Record(tornado.web.RequestHandler):
    def initialize(self, receiver: Receiver) -> None:
        self.receiver = receiver

    def post(self, _path: str) -> None:
        self.receiver.requests.append(
            Received(self.request.path, self.request.headers, self.request.body))
        status = self.receiver.statuses.pop(0) if self.receiver.statuses else 200
        self.set_status(status)
        self.finish("ok" if status < 300 else "not now")


class Receiver:
    """Answers `statuses` in order, then 200s."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.requests: list[Received] = []
        [sock] = tornado.netutil.bind_sockets(0, "127.0.0.1")
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/slipway"
        app = tornado.web.Application([(r"/(.*)", _Record, {"receiver": self})])
        self._server = tornado.httpserver.HTTPServer(app)
        self._server.add_sockets([sock])

    async def received(self, count: int, seconds: float = 20) -> list[Received]:
        """The first `count` requests, once they have arrived."""
        deadline = time.monotonic() + seconds
        while len(self.requests) < count:
            assert time.monotonic() < deadline, (
                f"{len(self.requests)} of {count} notification requests arrived")
            await asyncio.sleep(0.02)
        return self.requests[:count]

    async def close(self) -> None:
        self._server.stop()
        await self._server.close_all_connections()


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: connections are refused."""
    [sock] = tornado.netutil.bind_sockets(0, "127.0.0.1")
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/down"
