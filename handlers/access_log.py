"""The access log line: method, path, status and time, with nothing secret in it.

Tornado's default line includes the query string, which would put OAuth codes and states in the
log, and the full path, which for deploy hooks is a bearer token. Neither is written here.
"""

from __future__ import annotations

import logging
import re

import tornado.web

access_log = logging.getLogger("slipway.access")

_HOOK_TOKEN = re.compile(r"^(/api/hooks/)[^/]+")


def log_request(handler: tornado.web.RequestHandler) -> None:
    """Application `log_function`: one line per request, at a level matching its status."""
    status = handler.get_status()
    if status < 400:
        level = logging.INFO
    elif status < 500:
        level = logging.WARNING
    else:
        level = logging.ERROR
    request = handler.request
    access_log.log(
        level, "%d %s %s%s (%s) %.1fms", status, request.method, request.host_name,
        loggable_path(request.path), request.remote_ip, 1000.0 * request.request_time(),
    )


def loggable_path(path: str) -> str:
    """The request path with bearer tokens in it replaced."""
    return _HOOK_TOKEN.sub(r"\1[token]", path)
