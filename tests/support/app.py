"""The real Slipway Application, served in-process on an ephemeral port of 127.0.0.1."""

from __future__ import annotations

import tornado.httpserver
import tornado.ioloop
import tornado.netutil

from engine.config import Config
from server import Slipway
from sql.database import Database


class RunningApp:
    def __init__(self, app: Slipway, server: tornado.httpserver.HTTPServer, port: int) -> None:
        self.app = app
        self.server = server
        self.port = port
        self.url = f"http://127.0.0.1:{port}"


def start_app(config: Config, io_loop: tornado.ioloop.IOLoop) -> RunningApp:
    db = io_loop.run_sync(lambda: Database.open(config.database_url, config.data_dir))
    app = Slipway(config, db)
    [sock] = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server = tornado.httpserver.HTTPServer(app)
    server.add_sockets([sock])
    return RunningApp(app, server, sock.getsockname()[1])


def stop_app(running: RunningApp, io_loop: tornado.ioloop.IOLoop) -> None:
    running.server.stop()
    io_loop.run_sync(running.server.close_all_connections)
    io_loop.run_sync(running.app.close)
