"""The real Slipway Application, served in-process on an ephemeral port of 127.0.0.1."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import tornado.httpserver
import tornado.ioloop
import tornado.netutil

from engine.config import Config
from handlers.http_server import SlipwayHTTPServer
from server import DASHBOARD_DIR, Slipway
from sql.database import Database


class RunningApp:
    def __init__(self, app: Slipway, server: tornado.httpserver.HTTPServer, port: int) -> None:
        self.app = app
        self.server = server
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        """Where the suite's Python clients reach it (Python does not resolve `*.localhost`)."""
        self.public_url = app.config.public_url
        """Its configured public URL: the dashboard's address, and OAuth's."""


async def open_app(config: Config, *, run_builds: bool = False, public_host: str = "127.0.0.1",
                   dashboard_dir: Path = DASHBOARD_DIR) -> RunningApp:
    """Serve the app on 127.0.0.1; its public URL is `http://<public_host>:<port>`, so OAuth
    redirects come back here (a browser test uses `localhost`, the dashboard's usual address).
    Builds stay queued unless `run_builds` starts the dispatcher (tests of the build engine).
    `dashboard_dir` is the built dashboard it serves (frontend/dist unless a test has its own)."""
    [sock] = tornado.netutil.bind_sockets(0, "127.0.0.1")
    port = sock.getsockname()[1]
    config = replace(config, public_url=f"http://{public_host}:{port}")
    db = await Database.open(config.database_url, config.data_dir)
    app = Slipway(config, db, dashboard_dir=dashboard_dir)
    await app.start(builds=run_builds)
    # The same server class as `server.py serve`, so its request limits are what tests meet.
    server = SlipwayHTTPServer(app)
    server.add_sockets([sock])
    return RunningApp(app, server, port)


async def close_app(running: RunningApp) -> None:
    running.server.stop()
    await running.server.close_all_connections()
    await running.app.close()


def start_app(config: Config, io_loop: tornado.ioloop.IOLoop, **options) -> RunningApp:
    """`open_app` for synchronous fixtures."""
    return io_loop.run_sync(lambda: open_app(config, **options))


def stop_app(running: RunningApp, io_loop: tornado.ioloop.IOLoop) -> None:
    io_loop.run_sync(lambda: close_app(running))
