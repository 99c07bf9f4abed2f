"""HTTPS only, from the first visit on: `Strict-Transport-Security` on every https answer
(SPEC). Handlers get it through the Application's output transform; the sites, which write
their answers themselves (handlers.sites), add HSTS_LINE."""

from __future__ import annotations

from typing import Any

import tornado.httputil
import tornado.web

HSTS = "max-age=31536000"  # a year, as Let's Encrypt and the HSTS preload list expect
HSTS_LINE = f"Strict-Transport-Security: {HSTS}\r\n".encode()


class StrictTransportSecurity(tornado.web.OutputTransform):
    def __init__(self, request: tornado.httputil.HTTPServerRequest) -> None:
        self.https = request.protocol == "https"

    def transform_first_chunk(self, status_code: int, headers: tornado.httputil.HTTPHeaders,
                              chunk: bytes, finishing: bool) -> tuple[int, Any, bytes]:
        if self.https:
            headers["Strict-Transport-Security"] = HSTS
        return status_code, headers, chunk

    def transform_chunk(self, chunk: bytes, finishing: bool) -> bytes:
        return chunk
