"""The dashboard: the single-page app built into `frontend/dist`, for every non-API path.

Until the app has been built this answers with a short page saying so. Both are served with a
strict Content-Security-Policy, since deployed sites are untrusted content on sibling hosts.
"""

from __future__ import annotations

from pathlib import Path

import tornado.web

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: https:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)

_NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Slipway</title></head>
<body><h1>Slipway is running</h1>
<p>The dashboard has not been built yet.
The API answers at <a href="/api/health">/api/health</a>.</p>
</body></html>
"""


class DashboardHandler(tornado.web.RequestHandler):
    """Serves the SPA's index.html for client-side routes (history fallback)."""

    def initialize(self, dist_dir: Path) -> None:
        self.dist_dir = dist_dir

    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "same-origin")
        self.set_header("X-Frame-Options", "DENY")

    def get(self, path: str) -> None:
        index = self.dist_dir / "index.html"
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.finish(index.read_bytes() if index.is_file() else _NOT_BUILT)
