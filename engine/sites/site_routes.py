"""Route matching: what a request path answers in one release, as Cloudflare Pages and Netlify
answer it, so that static exports work on deep links and refreshes (SPEC, serving).

In order, for a path that is not hidden (see `request_paths`):

1. A forced (`!`) rule of the site's `_redirects`.
2. A file, through its clean URL:
   - `/about` serves `about.html`, `/docs/` serves `docs/index.html`, `/` serves `index.html`;
     any other existing file is served at its own path;
   - canonical forms answer 308 (the query string is kept by the server): `/about.html` →
     `/about` (unless a file `about` exists, which `/about` would serve), `/about/` (no
     `about/index.html`) → `/about`, `/docs` (no `docs` nor `docs.html`) → `/docs/`,
     `/docs/index.html` → `/docs/`, `/index.html` → `/`.
3. Any other `_redirects` rule (rules apply only where no file matches).
4. Nothing: a release with a root `404.html` is a multi-page site and answers 404 with the
   nearest `404.html`, walking up from the path's directory to the root. A release without
   one is a single-page app: its root `index.html` with 200, dotted routes (`/users/john.doe`)
   included, except paths ending in a static-asset extension (STATIC_ASSET_EXTENSIONS) and
   `/.well-known/` paths, which are plain 404s.

A path through a link that leads out of the release, or to a hidden file of it, is a 404, never
a page. Every file is checked to be a regular file inside the release's real path.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass

from engine.sites import site_rules
from engine.sites.immutable_paths import is_immutable_path
from engine.sites.request_paths import (
    WELL_KNOWN,
    decode_request_path,
    extension,
    path_segments,
    url_path,
)

log = logging.getLogger("slipway.sites")

CANONICAL_REDIRECT = 308
INDEX, PAGE_SUFFIX, NOT_FOUND_PAGE = "index.html", ".html", "404.html"
# A missing file with one of these extensions is a 404 even in a single-page app: a browser
# asking for a script or an image must not be given HTML.
STATIC_ASSET_EXTENSIONS = frozenset({
    "js", "mjs", "cjs", "css", "map", "json", "jsonld", "wasm", "webmanifest", "xml", "rss",
    "atom", "txt", "csv", "vtt", "svg", "png", "jpg", "jpeg", "gif", "webp", "avif", "apng",
    "ico", "bmp", "woff", "woff2", "ttf", "otf", "eot", "pdf", "zip", "gz", "br", "mp4", "webm",
    "mp3", "ogg", "wav",
})
# Rules files larger than this are read only up to it.
_RULES_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Route:
    """What a request path answers in one release."""

    status: int  # 200, 404, or a redirect status
    file: str | None = None  # the file to send (relative to the release), None for no body
    location: str | None = None  # for redirects
    hashed_name: bool = False  # the URL names content that never changes: cacheable forever
    headers: tuple[tuple[str, str], ...] = ()  # from the site's `_headers`


@dataclass(slots=True)
class Release:
    """A published release directory, identified by its real path, with what is read of it
    once: its rules files and whether it is a single-page app (no root `404.html`)."""

    real: str
    redirects: tuple[site_rules.Redirect, ...] = ()
    header_rules: tuple[site_rules.HeaderRule, ...] = ()
    single_page: bool = True
    loaded: bool = False


Headers = tuple[tuple[str, str], ...]


def find_route(release: Release, raw_path: str) -> Route:
    """What `raw_path` (as sent, still percent-encoded) answers in `release`."""
    _load(release)
    path = decode_request_path(raw_path)
    segments = path_segments(path) if path is not None else None
    if path is None or segments is None:
        return _not_found(release, [])
    headers = site_rules.headers_for(release.header_rules, path)
    first = site_rules.match_redirect(release.redirects, path)
    if first is not None and first.force:
        return _follow(release, first, headers)
    trailing_slash = path.endswith("/") and bool(segments)
    matched = _match_file(release, segments, trailing_slash, headers)
    if matched is not None:
        forced = first and site_rules.match_redirect(release.redirects, path, forced_only=True)
        return _follow(release, forced, headers) if forced else matched
    directory = segments if trailing_slash else segments[:-1]
    if _refused(release, segments):
        return _not_found(release, directory, headers)  # a link out of the release
    if first is not None:
        return _follow(release, first, headers)
    if not release.single_page:
        return _not_found(release, directory, headers)
    if (segments and segments[0] == WELL_KNOWN) or extension(segments) in STATIC_ASSET_EXTENSIONS:
        return Route(404, headers=headers)
    index = regular_file(release, [INDEX])
    if index is None:
        return Route(404, headers=headers)
    return Route(200, index, headers=headers)  # the single-page app's own routes


def _match_file(release: Release, segments: list[str], trailing_slash: bool,
                headers: Headers) -> Route | None:
    """The file a path names through its clean URL, or the redirect to its canonical form."""
    if not segments:
        index = regular_file(release, [INDEX])
        return Route(200, index, headers=headers) if index is not None else None
    parent, last = segments[:-1], segments[-1]
    if trailing_slash:
        index = regular_file(release, [*segments, INDEX])
        if index is not None:
            return Route(200, index, headers=headers)
        if regular_file(release, [*parent, last + PAGE_SUFFIX]) is not None:
            return _canonical(segments, headers)
        return None
    name = regular_file(release, segments)
    if name is not None:
        if last == INDEX:
            return _canonical(parent, headers, slash=True)
        stem = last[: -len(PAGE_SUFFIX)]
        if (last.endswith(PAGE_SUFFIX) and stem and not stem.startswith(".")
                and regular_file(release, [*parent, stem]) is None):
            return _canonical([*parent, stem], headers)
        hashed = is_immutable_path("/" + "/".join(segments))
        return Route(200, name, hashed_name=hashed, headers=headers)
    page = regular_file(release, [*parent, last + PAGE_SUFFIX])
    if page is not None:
        return Route(200, page, headers=headers)
    if regular_file(release, [*segments, INDEX]) is not None:
        return _canonical(segments, headers, slash=True)
    return None


def _canonical(segments: list[str], headers: Headers, *, slash: bool = False) -> Route:
    return Route(CANONICAL_REDIRECT, location=url_path(segments, slash=slash), headers=headers)


def _follow(release: Release, match: site_rules.RedirectMatch, headers: Headers) -> Route:
    if not match.is_rewrite:
        return Route(match.status, location=match.target, headers=headers)
    target = decode_request_path(match.target.partition("?")[0])
    segments = path_segments(target) if target is not None else None
    name = _page_file(release, segments) if segments is not None else None
    if name is None:
        return _not_found(release, [], headers)
    return Route(match.status, name, headers=headers)


def _page_file(release: Release, segments: list[str]) -> str | None:
    """A rewrite's target: the file itself, a directory's index or a clean URL's page."""
    if not segments:
        return regular_file(release, [INDEX])
    return (regular_file(release, segments) or regular_file(release, [*segments, INDEX])
            or regular_file(release, [*segments[:-1], segments[-1] + PAGE_SUFFIX]))


def _not_found(release: Release, directory: list[str], headers: Headers = ()) -> Route:
    """404, with the nearest `404.html` from `directory` up when the site has a root one."""
    if release.single_page:
        return Route(404, headers=headers)
    for depth in range(len(directory), -1, -1):
        page = regular_file(release, [*directory[:depth], NOT_FOUND_PAGE])
        if page is not None:
            return Route(404, page, headers=headers)
    return Route(404, headers=headers)  # the root 404.html went away since it was seen


def regular_file(release: Release, segments: list[str]) -> str | None:
    """The release-relative real path of the regular file `segments` names, or None if there
    is none inside the release (a directory is not a file)."""
    real = inside(release, os.path.join(release.real, *segments))
    if real is None or real == release.real:
        return None
    try:
        mode = os.stat(real).st_mode
    except OSError:
        return None
    return real[len(release.real) + 1:] if stat.S_ISREG(mode) else None


def inside(release: Release, path: str) -> str | None:
    """The real path of `path` when it is inside the release and not hidden, else None."""
    real = os.path.realpath(path)
    if real == release.real:
        return real
    if not real.startswith(release.real + "/"):
        return None
    # A symlink inside the release may still point at a hidden file of it.
    if path_segments(real[len(release.real):]) is None:
        return None
    return real


def _refused(release: Release, segments: list[str]) -> bool:
    """Whether the path exists but leads out of the release (a symlink to /etc, say): that
    answers 404, not the app's index as a missing route would."""
    candidate = os.path.join(release.real, *segments)
    return os.path.lexists(candidate) and inside(release, candidate) is None


def _load(release: Release) -> None:
    if release.loaded:
        return
    release.loaded = True
    release.single_page = regular_file(release, [NOT_FOUND_PAGE]) is None
    try:
        release.redirects = site_rules.parse_redirects(_rules_text(release, "_redirects"))
        release.header_rules = site_rules.parse_headers(_rules_text(release, "_headers"))
    except Exception:  # a bad rules file must never take a site down
        log.warning("ignoring unreadable rules in %s", release.real, exc_info=True)
        release.redirects, release.header_rules = (), ()


def _rules_text(release: Release, name: str) -> str:
    real = os.path.realpath(os.path.join(release.real, name))
    if os.path.dirname(real) != release.real or not os.path.isfile(real):
        return ""
    with open(real, "rb") as rules:
        return rules.read(_RULES_FILE_BYTES).decode("utf-8", errors="replace")
