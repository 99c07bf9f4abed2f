"""The HTTP server in front of the Application: request-line and header limits answered in JSON,
and request targets in absolute form routed by their path.

Tornado enforces its `max_header_size` by closing the connection, with no answer at all, so a
client with an oversized cookie or URL sees only a reset. Here Tornado's own limit is a far
ceiling that only guards memory, and Slipway's limits are checked once the headers are parsed:
a request target over `MAX_TARGET_BYTES` gets a 414 and headers over `MAX_HEADER_BYTES` a 431,
each with the API's JSON error body. Requests beyond the ceiling are still dropped by Tornado.

HTTP/1.1 lets a client send `GET http://host/path` (proxies do); the path then routes as
`GET /path` would, with the target's host in place of the Host header (RFC 9112, 3.2.2),
instead of matching no route at all.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import Any
from urllib.parse import urlsplit

import tornado.httpserver
from tornado import httputil

from handlers.base import ERROR_CODES

MAX_TARGET_BYTES = 16 * 1024
MAX_HEADER_BYTES = 64 * 1024  # Tornado's own default, so nothing accepted before is refused
# What Tornado buffers before giving up on a request's head; only memory is at stake.
HEADER_CEILING_BYTES = 1024 * 1024


class SlipwayHTTPServer(tornado.httpserver.HTTPServer):
    """An HTTPServer whose every request passes through `RequestLimits` first."""

    def initialize(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_header_size", HEADER_CEILING_BYTES)
        super().initialize(*args, **kwargs)

    def start_request(self, server_conn: object,
                      request_conn: httputil.HTTPConnection) -> httputil.HTTPMessageDelegate:
        return RequestLimits(super().start_request(server_conn, request_conn), request_conn)


class RequestLimits(httputil.HTTPMessageDelegate):
    """Refuses an oversized request head itself, or hands the request on in origin form."""

    def __init__(self, delegate: httputil.HTTPMessageDelegate,
                 connection: httputil.HTTPConnection) -> None:
        self.delegate, self.connection = delegate, connection
        self.refused = False

    def headers_received(self, start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
                         headers: httputil.HTTPHeaders) -> Awaitable[None] | None:
        assert isinstance(start_line, httputil.RequestStartLine)
        if len(start_line.path) > MAX_TARGET_BYTES:
            return self._refuse(414, f"the request target is longer than {MAX_TARGET_BYTES} "
                                     "bytes")
        size = sum(len(name) + len(value) + 4 for name, value in headers.get_all())
        if size > MAX_HEADER_BYTES:
            return self._refuse(431, f"the request headers are larger than {MAX_HEADER_BYTES} "
                                     "bytes")
        return self.delegate.headers_received(origin_form(start_line, headers), headers)

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        return None if self.refused else self.delegate.data_received(chunk)

    def finish(self) -> None:
        if not self.refused:
            self.delegate.finish()

    def on_connection_close(self) -> None:
        if not self.refused:
            self.delegate.on_connection_close()

    def _refuse(self, status: int, message: str) -> None:
        # The Application never sees this request, so the answer is written here, in the same
        # shape as every API error. The connection closes after it: the body is never read.
        self.refused = True
        body = json.dumps({"error": {"code": ERROR_CODES[status], "message": message}}).encode()
        headers = httputil.HTTPHeaders({
            "Content-Type": "application/json; charset=utf-8",
            "Content-Length": str(len(body)),
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Connection": "close",
        })
        start = httputil.ResponseStartLine("HTTP/1.1", status, httputil.responses[status])
        self.connection.write_headers(start, headers, body)
        self.connection.finish()


def origin_form(start_line: httputil.RequestStartLine,
                headers: httputil.HTTPHeaders) -> httputil.RequestStartLine:
    """`start_line` with an absolute-form target (`http://host/path?q`) made `/path?q`, and
    Host set to the target's host; any other target is returned as it is."""
    target = start_line.path
    if not target.lower().startswith(("http://", "https://")):
        return start_line
    parts = urlsplit(target)
    host = parts.netloc.rpartition("@")[2]  # never credentials, should a client send them
    if host:
        headers["Host"] = host
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return start_line._replace(path=path)
