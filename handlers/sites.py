"""Which requests are for a deployed site: any host under the configured domain.

`<project>.<domain>` (and the preview hosts `<x>--<project>.<domain>`) belong to sites, matched
case-insensitively, on any port, with or without a trailing dot. Hosts whose first label is a
reserved name (www, api, app...) and every other host belong to the dashboard and the API.
"""

from __future__ import annotations

from typing import Any

import tornado.httputil
import tornado.routing
import tornado.web

from engine.names import RESERVED_NAMES


class SiteHostMatcher(tornado.routing.Matcher):
    """Matches requests whose Host is a site under `domain`; passes the site label along."""

    def __init__(self, domain: str) -> None:
        self.suffix = "." + domain.lower().rstrip(".")

    def match(self, request: tornado.httputil.HTTPServerRequest) -> dict[str, Any] | None:
        label = site_label(request.host_name, self.suffix)
        if label is None:
            return None
        return {"path_args": [], "path_kwargs": {"site": label}}


def site_label(host_name: str, suffix: str) -> str | None:
    """The part of `host_name` before the domain suffix, if it names a site."""
    host = host_name.lower().rstrip(".")
    if not host.endswith(suffix):
        return None
    label = host[: -len(suffix)]
    if not label or label.split(".")[-1] in RESERVED_NAMES:
        return None
    return label


class SiteHandler(tornado.web.RequestHandler):
    """Answers for hosts with no published site (publishing arrives with the deployer)."""

    def get(self, site: str) -> None:
        self.set_status(404)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.finish(f"No site is published at {site}.\n")
