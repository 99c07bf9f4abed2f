"""Plain HTTP with HTTPS on: every request but ACME's challenges gets a 308 to the same host,
path and query over https, on the HTTPS port (308 keeps a POST a POST)."""

from __future__ import annotations

import re

import tornado.web

_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
_BAD_HOST = (b"<!doctype html>\n<meta charset=utf-8>\n<title>Bad request</title>\n"
             b"<h1>Bad request</h1>\n<p>The Host header does not name a host.</p>\n")


class HTTPSRedirectHandler(tornado.web.RequestHandler):
    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

    def prepare(self) -> None:
        host = self.request.host_name.lower().rstrip(".")
        self.set_header("Cache-Control", "no-cache")
        if len(host) > 253 or not _HOST.match(host):
            self.set_status(400)
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.finish(_BAD_HOST)
            return
        self.redirect(self.application.config.https_url(host) + self.request.uri, status=308)
