"""Proxies in front of real servers: one a test cuts to make a real network outage between
Slipway and its PostgreSQL, one that counts the connections made to the Docker engine."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo


class DatabaseProxy:
    """A TCP proxy on 127.0.0.1 in front of the server's socket, which a test cuts (every
    connection dropped, new ones refused) and restores on the same port, as a database host
    going away and coming back would."""

    def __init__(self, database_url: str) -> None:
        params = conninfo_to_dict(database_url)
        host, port = params.get("host") or "127.0.0.1", params.get("port") or "5432"
        self._target = ((Path(host) / f".s.PGSQL.{port}", None) if host.startswith("/")
                        else (host, int(port)))
        self._params = params
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def url(self) -> str:
        """The database's address through the proxy."""
        return make_conninfo(**{**self._params, "host": "127.0.0.1", "port": str(self.port)})

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._forward, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """The database host is gone: open connections drop, new ones are refused."""
        assert self._server is not None
        self._server.close()
        for writer in list(self._pipes):
            writer.transport.abort()
        self._pipes.clear()
        await self._server.wait_closed()
        self._server = None

    async def restore(self) -> None:
        await self.start()

    async def close(self) -> None:
        if self._server is not None:
            await self.cut()

    async def _forward(self, client_reader: asyncio.StreamReader,
                       client_writer: asyncio.StreamWriter) -> None:
        try:
            where, port = self._target
            if port is None:
                server_reader, server_writer = await asyncio.open_unix_connection(where)
            else:
                server_reader, server_writer = await asyncio.open_connection(where, port)
        except OSError:
            client_writer.close()
            return
        self._pipes.update((client_writer, server_writer))
        await asyncio.gather(pump(client_reader, server_writer, self._pipes.discard),
                             pump(server_reader, client_writer, self._pipes.discard))


class CountingUnixProxy:
    """A unix socket in front of another, counting the connections made through it."""

    def __init__(self, path: Path, target: Path) -> None:
        self.path, self.target, self.connections = path, target, 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(self._forward, str(self.path))

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _forward(self, reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        upstream_reader, upstream_writer = await asyncio.open_unix_connection(str(self.target))
        await asyncio.gather(pump(reader, upstream_writer), pump(upstream_reader, writer))


async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
               closed: Callable[[asyncio.StreamWriter], None] = lambda writer: None) -> None:
    """Copy one direction of a connection until it ends."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        closed(writer)
        with contextlib.suppress(Exception):
            writer.close()
