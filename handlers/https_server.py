"""The HTTPS listener: the same server as plain HTTP, with each connection's certificate made
ready (engine.tls.tls_contexts) before its TLS handshake begins.

Tornado wraps an accepted socket and starts the handshake at once; here the ClientHello is
first peeked at (MSG_PEEK leaves it for the handshake), its server name prepared, and only then
is the connection handed to Tornado as usual. A client that sends nothing within
HELLO_SECONDS is dropped, as are ClientHellos that never complete and connections that do not
start with a TLS handshake (plain HTTP sent to the HTTPS port).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

import tornado.ioloop

from engine.tls.client_hello import HANDSHAKE, MAX_HELLO, Incomplete, server_name
from engine.tls.tls_contexts import TLSContexts
from handlers.http_server import SlipwayHTTPServer

log = logging.getLogger("slipway.tls")

HELLO_SECONDS = 10


class HTTPSServer(SlipwayHTTPServer):
    """`HTTPSServer(app, tls=contexts, ...)`: HTTPS with certificates chosen by name."""

    def initialize(self, *args: Any, tls: TLSContexts, **kwargs: Any) -> None:
        self.tls = tls
        super().initialize(*args, ssl_options=tls.default_context, **kwargs)

    def _handle_connection(self, connection: socket.socket, address: Any) -> None:
        tornado.ioloop.IOLoop.current().spawn_callback(self._prepare_then_handle, connection,
                                                       address)

    async def _prepare_then_handle(self, connection: socket.socket, address: Any) -> None:
        try:
            name = await asyncio.wait_for(_peek_server_name(connection), HELLO_SECONDS)
            if name is not None:
                await self.tls.prepare(name)
        except (TimeoutError, OSError):
            connection.close()
            return
        except Exception:
            log.exception("preparing a TLS connection from %s", address)
            connection.close()
            return
        super()._handle_connection(connection, address)


async def _peek_server_name(connection: socket.socket) -> str | None:
    """The server name of the ClientHello waiting on `connection`, without reading it."""
    connection.setblocking(False)
    await _readable(connection)
    while True:
        data = connection.recv(MAX_HELLO, socket.MSG_PEEK)
        if not data:
            raise ConnectionResetError("closed before its ClientHello")
        if data[0] != HANDSHAKE:  # plain HTTP sent to the HTTPS port, say: not TLS at all
            raise ConnectionAbortedError("not a TLS handshake")
        try:
            return server_name(data)
        except Incomplete:
            if len(data) >= MAX_HELLO:
                return None
            # The rest is on its way; the peeked bytes keep the socket readable, so poll.
            await asyncio.sleep(0.01)


async def _readable(connection: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    readable = loop.create_future()
    loop.add_reader(connection.fileno(), lambda: readable.done() or readable.set_result(None))
    try:
        await readable
    finally:
        loop.remove_reader(connection.fileno())
