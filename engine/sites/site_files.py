"""Published sites on disk: which release a host names, and the files a release serves.

The deployer's layout (releases are immutable once published):

    <deployments>/<project>/releases/<build-id>/...              one directory per build
    <deployments>/<project>/current -> releases/<build-id>        swapped atomically on deploy
    <deployments>/<project>/previews/<slug> -> ../releases/<id>   branch previews

Everything is resolved from the filesystem, at request time, so a deploy or a rollback is
visible on the very next request. The per-request cost of a hot site is one `readlink` (one
`stat` for a build-id host): what a path resolves to and the small files themselves are cached
in memory, keyed by the release's real path, which no swap can change. Which file a path
names is `engine.sites.site_routes`' route matching, computed once per release and path.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import stat
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.sites.names import PROJECT_NAME, RESERVED_NAMES
from engine.sites.site_routes import Release, Route, find_route, inside

log = logging.getLogger("slipway.sites")

LIVE, BUILD, PREVIEW = "live", "build", "preview"

_BUILD_ID = re.compile(r"^[0-9]{1,18}$")
_PREVIEW_SLUG = re.compile(r"^[a-z0-9-]{1,63}$")

# Media types by extension: the web's usual types, fixed here rather than read from the system's
# mime.types, so that a site is served the same on every machine. Others are octet-stream.
MEDIA_TYPES = {
    ".html": "text/html", ".htm": "text/html", ".css": "text/css",
    ".js": "text/javascript", ".mjs": "text/javascript", ".cjs": "text/javascript",
    ".json": "application/json", ".map": "application/json", ".jsonld": "application/ld+json",
    ".webmanifest": "application/manifest+json", ".xml": "application/xml",
    ".rss": "application/rss+xml", ".atom": "application/atom+xml",
    ".txt": "text/plain", ".md": "text/markdown", ".csv": "text/csv",
    ".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
    ".gif": "image/gif", ".webp": "image/webp", ".avif": "image/avif", ".apng": "image/apng",
    ".ico": "image/x-icon", ".bmp": "image/bmp",
    ".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf", ".otf": "font/otf",
    ".eot": "application/vnd.ms-fontobject", ".wasm": "application/wasm",
    ".pdf": "application/pdf", ".zip": "application/zip", ".gz": "application/gzip",
    ".mp4": "video/mp4", ".webm": "video/webm", ".mp3": "audio/mpeg", ".ogg": "audio/ogg",
    ".wav": "audio/wav", ".vtt": "text/vtt",
}
DEFAULT_MEDIA_TYPE = "application/octet-stream"
# Types that are text (served with `; charset=utf-8`) and types worth compressing.
_TEXT_TYPES = frozenset({
    "application/json", "application/ld+json", "application/manifest+json", "application/xml",
    "application/rss+xml", "application/atom+xml", "image/svg+xml",
})
_COMPRESSIBLE_TYPES = _TEXT_TYPES | {
    "application/wasm", "font/ttf", "font/otf", "image/x-icon", "image/bmp",
    "application/vnd.ms-fontobject",
}

def media_type(name: str) -> str:
    """The media type for a file name, by its last extension."""
    extension = os.path.splitext(name)[1].lower()
    return MEDIA_TYPES.get(extension, DEFAULT_MEDIA_TYPE)


def is_text(media: str) -> bool:
    return media.startswith("text/") or media in _TEXT_TYPES


def is_compressible(media: str) -> bool:
    return media.startswith("text/") or media in _COMPRESSIBLE_TYPES


@dataclass(frozen=True, slots=True)
class SiteAddress:
    """What a host label names: a project's live release, one build, or a branch preview."""

    project: str
    kind: str  # LIVE, BUILD or PREVIEW
    ref: str = ""  # the build id or the preview slug


def parse_site_label(label: str) -> SiteAddress | None:
    """`demo` → live, `42--demo` → build 42, `git-feat--demo` → preview `feat`; else None.

    The label is split at its last `--` (project names never contain `--`)."""
    prefix, separator, project = label.rpartition("--")
    if not PROJECT_NAME.match(project) or "--" in project or project in RESERVED_NAMES:
        return None
    if not separator:
        return SiteAddress(project, LIVE)
    if _BUILD_ID.match(prefix):
        return SiteAddress(project, BUILD, prefix)
    if prefix.startswith("git-") and _PREVIEW_SLUG.match(prefix[4:]):
        return SiteAddress(project, PREVIEW, prefix[4:])
    return None


@dataclass(slots=True)
class Variant:
    """One stored encoding of a file: the file itself, or its `.br` / `.gz` sibling."""

    path: str
    encoding: str | None  # None (identity), "br" or "gzip"
    size: int
    mtime: float
    etag: str
    body: bytes | None  # None when too large to keep in memory: stream it from `path`


@dataclass(slots=True)
class SiteFile:
    """A file of a release, with its compressed siblings."""

    name: str  # the real path, relative to the release
    media_type: str
    compressible: bool
    identity: Variant
    br: Variant | None = None
    gzip: Variant | None = None
    checked_at: float = 0.0  # when the siblings were last looked for (monotonic)

    @property
    def cached_bytes(self) -> int:
        return sum(len(v.body) for v in (self.identity, self.br, self.gzip)
                   if v is not None and v.body is not None)


@dataclass(frozen=True, slots=True)
class Site:
    """The release a host serves; `pinned` for build-id hosts, whose content never changes."""

    release: Release
    pinned: bool


@dataclass(frozen=True, slots=True)
class _Place:
    """Where a host label's release is found: a link to read, or a build's directory."""

    project_dir: str
    path: str
    pinned: bool


@dataclass(slots=True)
class _Lru:
    """An LRU mapping bounded by entries and by a size the caller gives each value."""

    max_entries: int
    max_size: int = 0  # 0: entries only
    size: int = 0
    items: OrderedDict[Any, Any] = field(default_factory=OrderedDict)
    sizes: dict[Any, int] = field(default_factory=dict)

    def get(self, key: Any) -> Any:
        value = self.items.get(key)
        if value is not None:
            self.items.move_to_end(key)
        return value

    def put(self, key: Any, value: Any, size: int = 0) -> None:
        self.pop(key)
        self.items[key] = value
        self.sizes[key] = size
        self.size += size
        while len(self.items) > self.max_entries or (self.max_size and self.size > self.max_size):
            oldest = next(iter(self.items))
            self.pop(oldest)

    def pop(self, key: Any) -> None:
        if self.items.pop(key, None) is not None:
            self.size -= self.sizes.pop(key)

    def clear(self) -> None:
        self.items.clear()
        self.sizes.clear()
        self.size = 0


class SiteFiles:
    """Releases, routes and files of every published site under `deployments_dir`.

    Not thread-safe: used from the IOLoop only. Blocking calls are short local filesystem
    calls (stat, readlink, reading files of at most `max_file_bytes`), as Tornado's own static
    file handler makes."""

    def __init__(self, deployments_dir: Path, *, cache_bytes: int = 64 * 1024 * 1024,
                 max_file_bytes: int = 1024 * 1024, sibling_recheck: float = 10.0,
                 max_routes: int = 20_000) -> None:
        self.root = os.path.realpath(deployments_dir)
        self.max_file_bytes = max_file_bytes
        self.sibling_recheck = sibling_recheck
        self._places: dict[str, _Place | None] = {}
        self._sites: _Lru = _Lru(4096)
        self._releases: _Lru = _Lru(1024)
        self._routes: _Lru = _Lru(max_routes)
        self._files: _Lru = _Lru(max_routes, cache_bytes)

    # Hosts → releases

    def site(self, label: str) -> Site | None:
        """The release a host label serves now, or None when nothing is published there."""
        place = self._places.get(label)
        if place is None:
            if label in self._places:
                return None
            place = self._place(label)
            if place is None:
                return None
        if place.pinned:
            # Immutable, but a pruned release must stop answering: one stat per request.
            if not os.path.isdir(place.path):
                return None
            key: object = place.path
        else:
            try:
                key = (place.path, os.readlink(place.path))
            except OSError:
                return None
        site = self._sites.get(key)
        if site is None:
            site = self._resolve(place, key)
            if site is not None:
                self._sites.put(key, site)
        return site

    def _place(self, label: str) -> _Place | None:
        address = parse_site_label(label)
        place = None
        if address is not None:
            project_dir = f"{self.root}/{address.project}"
            if address.kind == BUILD:
                place = _Place(project_dir, f"{project_dir}/releases/{address.ref}", True)
            elif address.kind == LIVE:
                place = _Place(project_dir, f"{project_dir}/current", False)
            else:
                place = _Place(project_dir, f"{project_dir}/previews/{address.ref}", False)
        if len(self._places) >= 4096:
            self._places.clear()
        self._places[label] = place
        return place

    def _resolve(self, place: _Place, key: object) -> Site | None:
        # For a link, its target as read is resolved (not the link, which may have been swapped
        # since). The release must be a directory directly inside the project's releases.
        path = place.path
        if isinstance(key, tuple):
            path = os.path.join(os.path.dirname(place.path), key[1])
        real = os.path.realpath(path)
        if (os.path.dirname(real) != os.path.realpath(f"{place.project_dir}/releases")
                or not os.path.isdir(real)):
            return None
        release = self._releases.get(real)
        if release is None:
            release = Release(real)
            self._releases.put(real, release)
        return Site(release, place.pinned)

    # Paths → routes

    def route(self, release: Release, raw_path: str) -> Route:
        """What `raw_path` (as sent, still percent-encoded) answers in `release`."""
        key = (release.real, raw_path)
        route = self._routes.get(key)
        if route is None:
            route = find_route(release, raw_path)
            if len(raw_path) <= 1024:  # random long paths must not flush the cache
                self._routes.put(key, route)
        return route

    # Files

    def file(self, release: Release, name: str) -> SiteFile | None:
        """The file `name` (as a route gives it) of `release`, from memory when it can be."""
        key = (release.real, name)
        found: SiteFile | None = self._files.get(key)
        if found is None:
            found = self._load_file(release, name)
            if found is None:
                return None
            self._files.put(key, found, found.cached_bytes)
        elif (found.compressible and (found.br is None or found.gzip is None)
              and time.monotonic() - found.checked_at > self.sibling_recheck):
            # Compressed siblings are written after go-live: look again now and then.
            self._find_siblings(release, found)
            self._files.put(key, found, found.cached_bytes)
        return found

    def _load_file(self, release: Release, name: str) -> SiteFile | None:
        path = f"{release.real}/{name}"
        identity = self._variant(path, None)
        if identity is None:
            return None
        media = media_type(name)
        found = SiteFile(name, media, is_compressible(media), identity)
        if found.compressible:
            self._find_siblings(release, found)
        return found

    def _find_siblings(self, release: Release, found: SiteFile) -> None:
        found.checked_at = time.monotonic()
        for encoding, suffix in (("br", ".br"), ("gzip", ".gz")):
            if getattr(found, encoding) is not None:
                continue
            real = inside(release, f"{release.real}/{found.name}{suffix}")
            sibling = self._variant(real, encoding) if real is not None else None
            # A sibling older than its file was compressed from another version of it.
            if sibling is not None and sibling.mtime >= found.identity.mtime:
                setattr(found, encoding, sibling)

    def _variant(self, path: str, encoding: str | None) -> Variant | None:
        try:
            # Non-blocking, so that a FIFO planted in a release cannot stall the IOLoop.
            with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as opened:
                info = os.fstat(opened.fileno())
                if not stat.S_ISREG(info.st_mode):
                    return None
                body = opened.read() if info.st_size <= self.max_file_bytes else None
        except OSError:
            return None
        if body is not None and len(body) == info.st_size:
            digest = hashlib.blake2b(body, digest_size=12).digest()
            etag = '"' + base64.urlsafe_b64encode(digest).decode() + '"'
        else:
            body = None
            etag = f'"{info.st_ino:x}-{info.st_size:x}-{info.st_mtime_ns:x}"'
        return Variant(path, encoding, info.st_size, info.st_mtime, etag, body)

    def clear(self) -> None:
        """Forget everything cached (tests; a cache is never needed for correctness)."""
        for cache in (self._sites, self._releases, self._routes, self._files):
            cache.clear()
        self._places.clear()

