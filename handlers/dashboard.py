"""The dashboard: the single-page app built into `frontend/dist`, for every non-API path.

Real files of the build are served as they are (`/assets/index-D_1pQ7xR.js`, `/favicon.svg`);
any other path without a file extension is a client-side route (`/projects/3`, `/login`) and
gets `index.html` (history fallback); a missing path with an extension answers a plain 404, so
a stale asset URL never receives HTML. `/api/...` and `/socket.io/...` never reach the app: the
API and Socket.io own them, and an unknown path there is a 404, not the dashboard.

Paths stay inside the build: encoded separators, control characters, dot segments (`..`,
`.env`) and symlinks leading out of it answer 404, checked as for deployed sites
(`engine.sites.site_files`).

Vite writes only content-hashed names into `assets/`, so those are cached for a year as
immutable; `index.html` (which names the current assets) is `no-cache`, anything else
revalidates. ETag / If-None-Match → 304; gzip when the client accepts it. Files are read once
per version (path, size, mtime) and kept in memory: the build is small and a rebuild changes
the version. Until the app has been built, extension-less paths answer a short page saying so.

Everything is served with a strict Content-Security-Policy, since deployed sites are untrusted
content on sibling hosts.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import tornado.web

from engine.sites.request_paths import decode_request_path, has_extension, path_segments
from engine.sites.site_files import is_compressible, is_text, media_type

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: https:{avatars}; connect-src 'self'; font-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


def content_security_policy(github_url: str) -> str:
    """The dashboard's policy. Images may come from https (GitHub's avatars) and from the
    configured GitHub itself, which may be a GitHub Enterprise (or the tests' fake) on http."""
    parts = urlsplit(github_url)
    origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme == "http" else ""
    return CONTENT_SECURITY_POLICY.format(avatars=f" {origin}" if origin else "")
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, max-age=0, must-revalidate"
NO_CACHE = "no-cache"
ASSETS_DIR = "assets"
# First path segments that belong to the API and Socket.io even when nothing there matched.
NOT_THE_DASHBOARD = frozenset({"api", "socket.io"})
MAX_CACHED_FILE_BYTES = 8 * 1024 * 1024
MAX_CACHED_FILES = 512
GZIP_MIN_BYTES = 1024

_NOT_BUILT = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Slipway</title></head>
<body><h1>Slipway is running</h1>
<p>The dashboard has not been built yet (<code>./scripts/run</code> builds it with Node and npm).
The API answers at <a href="/api/health">/api/health</a>.</p>
</body></html>
"""
_NOT_FOUND = b"Not found\n"


@dataclass(frozen=True)
class DashboardFile:
    """One file of the build, read and prepared once per version."""

    body: bytes
    gzipped: bytes | None
    content_type: str
    etag: str  # a content hash, without quotes


class DashboardFiles:
    """The built app in `dist_dir`: which file a request path names, and its prepared bytes."""

    def __init__(self, dist_dir: Path) -> None:
        self.dist_dir = Path(dist_dir)
        self._cache: dict[tuple[str, int, int, int], DashboardFile] = {}

    def is_built(self) -> bool:
        return (self.dist_dir / "index.html").is_file()

    def find(self, segments: list[str]) -> str | None:
        """The real path of the regular file `segments` name inside the build, or None."""
        real = self._inside(segments)
        return real if real is not None and os.path.isfile(real) else None

    def leads_out(self, segments: list[str]) -> bool:
        """Whether the path exists but leaves the build (a symlink to /etc): a 404, never the
        app's index as a missing route would get."""
        candidate = os.path.join(self.dist_dir, *segments)
        return os.path.lexists(candidate) and self._inside(segments) is None

    def _inside(self, segments: list[str]) -> str | None:
        root = os.path.realpath(self.dist_dir)
        real = os.path.realpath(os.path.join(root, *segments))
        if real == root:
            return real
        if not real.startswith(root + os.sep):
            return None
        # A symlink inside the build may still point at one of its hidden files.
        if path_segments(real[len(root):]) is None:
            return None
        return real

    def load(self, real: str) -> DashboardFile:
        status = os.stat(real)
        key = (real, status.st_size, status.st_mtime_ns, status.st_ino)
        found = self._cache.get(key)
        if found is None:
            found = self._prepare(real)
            if status.st_size <= MAX_CACHED_FILE_BYTES:
                if len(self._cache) >= MAX_CACHED_FILES:
                    self._cache.clear()
                self._cache[key] = found
        return found

    @staticmethod
    def _prepare(real: str) -> DashboardFile:
        with open(real, "rb") as file:
            body = file.read()
        media = media_type(real)
        gzipped = None
        if is_compressible(media) and len(body) >= GZIP_MIN_BYTES:
            gzipped = gzip.compress(body, compresslevel=6, mtime=0)
        digest = base64.urlsafe_b64encode(hashlib.sha256(body).digest()[:18]).decode()
        return DashboardFile(body, gzipped, media + ("; charset=utf-8" if is_text(media) else ""),
                             digest)


class DashboardHandler(tornado.web.RequestHandler):
    """Serves the built app's files, and `index.html` for client-side routes."""

    policy: str | None = None

    def initialize(self, files: DashboardFiles, policy: str) -> None:
        self.files = files
        self.policy = policy
        # Tornado set the default headers before initialize(); an error page sets them again.
        self.set_default_headers()

    def set_default_headers(self) -> None:
        if self.policy:
            self.set_header("Content-Security-Policy", self.policy)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "same-origin")
        self.set_header("X-Frame-Options", "DENY")

    def get(self, path: str) -> None:
        # The raw path, not Tornado's decoded argument: encoded tricks are refused before the
        # filesystem is touched.
        decoded = decode_request_path(self.request.path)
        segments = path_segments(decoded) if decoded is not None else None
        if segments is None or (segments and segments[0] in NOT_THE_DASHBOARD):
            return self._not_found()
        if not self.files.is_built():
            if has_extension(segments):
                return self._not_found()
            return self._answer(_NOT_BUILT, "text/html; charset=utf-8", NO_CACHE)
        real = self.files.find(segments) if segments else None
        if real is None:
            if has_extension(segments) or self.files.leads_out(segments):
                return self._not_found()
            real = self.files.find(["index.html"])
            if real is None:  # removed since is_built(): a rebuild in progress
                return self._not_found()
        file = self.files.load(real)
        self._send_file(file, _cache_control(segments, file))

    # Tornado sends no body for HEAD but keeps the headers, Content-Length included.
    head = get

    def _send_file(self, file: DashboardFile, cache_control: str) -> None:
        body, etag = file.body, file.etag
        if file.gzipped is not None:
            self.set_header("Vary", "Accept-Encoding")
            if "gzip" in self.request.headers.get("Accept-Encoding", ""):
                body, etag = file.gzipped, etag + "-gz"
                self.set_header("Content-Encoding", "gzip")
        self.set_header("Cache-Control", cache_control)
        self.set_header("Etag", f'"{etag}"')
        if self.check_etag_header():
            self.set_status(304)
            return self.finish()
        self.set_header("Content-Type", file.content_type)
        self.finish(body)

    def _answer(self, body: bytes, content_type: str, cache_control: str) -> None:
        self.set_header("Content-Type", content_type)
        self.set_header("Cache-Control", cache_control)
        self.finish(body)

    def _not_found(self) -> None:
        self.set_status(404)
        self._answer(_NOT_FOUND, "text/plain; charset=utf-8", NO_CACHE)

    def compute_etag(self) -> str | None:
        # Files carry their own content hash; other answers (the 404, the "not built" page)
        # need none.
        return None


def _cache_control(segments: list[str], file: DashboardFile) -> str:
    if file.content_type.startswith("text/html"):
        return NO_CACHE
    if len(segments) > 1 and segments[0] == ASSETS_DIR:
        return IMMUTABLE
    return REVALIDATE
