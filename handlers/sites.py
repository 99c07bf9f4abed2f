"""Deployed sites: any host under the configured domain, served from the deployments directory.

`<project>.<domain>` (and the preview hosts `<x>--<project>.<domain>`) belong to sites, matched
case-insensitively, on any port, with or without a trailing dot. Hosts whose first label is a
reserved name (www, api, app...) and every other host belong to the dashboard and the API.

This is the hot path, so sites are not served by a `RequestHandler`: the site host rule routes to
`SiteServer`, a Tornado `Router` whose delegates answer straight on the HTTP/1 connection, from
routes and files that `engine.sites.site_files` keeps in memory, with header blocks encoded once per
file and URL. The HTTP side lives here: methods, conditional requests (ETag, If-None-Match,
If-Modified-Since), ranges, negotiation of the pre-compressed siblings, cache and security headers.

Cache-Control: HTML `no-cache`; content-hashed file names `public, max-age=31536000, immutable`;
anything else `public, max-age=0, must-revalidate` (cache, but ask every time; the ETag makes
that a 304). On a build-id host (`<build-id>--<project>`) the content can never change, so all
but HTML is immutable. Error pages and redirects are `no-cache`. A site's `_headers` may
override these (see engine.sites.site_rules for what it may not set).
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from pathlib import Path
from typing import Any, Protocol

import tornado.httputil
import tornado.ioloop
import tornado.iostream
import tornado.routing
import tornado.web

from engine.domains.served_domains import ServedDomains
from engine.sites.names import site_label
from engine.sites.site_files import Site, SiteFile, SiteFiles, Variant, is_text
from engine.sites.site_routes import Route
from handlers.access_log import access_log
from handlers.site_lock import PAGE_HEADERS, PRIVATE_CACHE, SiteLock, password_page
from handlers.strict_transport import HSTS_LINE

log = logging.getLogger("slipway.sites")

FOREVER = "public, max-age=31536000, immutable"
REVALIDATE = "public, max-age=0, must-revalidate"
NO_CACHE = "no-cache"
ALLOWED_METHODS = "GET, HEAD"
STREAM_CHUNK_BYTES = 256 * 1024
PREPARED_ANSWERS = 20_000

_NO_SITE_PAGE = (b"<!doctype html>\n<meta charset=utf-8>\n<title>No site here</title>\n"
                 b"<h1>No site is published at this address.</h1>\n")
_NOT_FOUND_PAGE = (b"<!doctype html>\n<meta charset=utf-8>\n<title>Not found</title>\n"
                   b"<h1>Not found</h1>\n<p>Nothing is published at this path.</p>\n")
_NOT_ALLOWED_PAGE = (b"<!doctype html>\n<meta charset=utf-8>\n<title>Method not allowed</title>\n"
                     b"<h1>Method not allowed</h1>\n<p>Sites answer GET and HEAD.</p>\n")
_ERROR_PAGE = (b"<!doctype html>\n<meta charset=utf-8>\n<title>Server error</title>\n"
               b"<h1>Server error</h1>\n")
_HTML = "text/html; charset=utf-8"

Headers = tuple[tuple[str, str], ...]


class ReleaseFetcher(Protocol):
    """Fetches releases this process does not have yet (engine.storage.release_mirror)."""

    def wants(self, label: str) -> bool: ...
    async def fetch_host(self, label: str) -> None: ...


class SiteHostMatcher(tornado.routing.Matcher):
    """Matches requests whose Host is a site under `domain` or a verified custom domain;
    passes the site label along (and, for a domain that redirects, where to)."""

    def __init__(self, domain: str, custom: ServedDomains | None = None) -> None:
        self.suffix = "." + domain.lower().rstrip(".")
        self.custom = custom

    def match(self, request: tornado.httputil.HTTPServerRequest) -> dict[str, Any] | None:
        label = site_label(request.host_name, self.suffix)
        if label is not None:
            return {"path_args": [], "path_kwargs": {"site": label}}
        if self.custom is None:
            return None
        domain = self.custom.get(request.host_name.lower().rstrip("."))
        if domain is None:
            return None
        return {"path_args": [], "path_kwargs": {"site": domain.project,
                                                  "redirect": domain.redirect_url}}


class SiteServer(tornado.routing.Router):
    """The target of the site host rule: `Rule(SiteHostMatcher(domain), SiteServer(dir))`.

    Each request gets a small `HTTPMessageDelegate` that answers once the request is read."""

    def __init__(self, deployments_dir: Path, *, cache_bytes: int = 64 * 1024 * 1024,
                 max_file_bytes: int = 1024 * 1024, lock: SiteLock | None = None,
                 fetcher: ReleaseFetcher | None = None) -> None:
        self.files = SiteFiles(deployments_dir, cache_bytes=cache_bytes,
                               max_file_bytes=max_file_bytes)
        self.lock = lock  # protected previews: asked before anything of the site is read
        # S3 storage: an immutable host's release this process has not fetched yet.
        self.fetcher = fetcher
        self._prepared: dict[tuple[str, str, str | None, bool], _Prepared] = {}

    def find_handler(self, request: tornado.httputil.HTTPServerRequest,
                     **kwargs: Any) -> tornado.httputil.HTTPMessageDelegate:
        found = kwargs["path_kwargs"]
        return _SiteExchange(self, request, found["site"], found.get("redirect"))

    def respond(self, request: tornado.httputil.HTTPServerRequest, label: str,
                redirect: str | None = None) -> None:
        """Answer `request` for the site `label`, or send it to the origin `redirect` (a
        custom domain redirecting to another); never raises, never shows a traceback."""
        try:
            reply = _moved(redirect + request.uri) if redirect else self._reply(request, label)
        except Exception:
            log.exception("error serving %s%s", request.host_name, request.path)
            reply = _page(500, _ERROR_PAGE)
        try:
            _write(request, reply)
        except Exception:
            log.exception("error writing %s%s", request.host_name, request.path)
            request.connection.close()

    def _reply(self, request: tornado.httputil.HTTPServerRequest, label: str) -> _Reply:
        lock = self.lock
        protected = lock.protected(label) if lock is not None else None
        if lock is None or protected is None:
            return self._site_reply(request, label)
        if not lock.admits(request, protected):
            return _locked(request)
        return _private(self._site_reply(request, label))

    def admits(self, request: tornado.httputil.HTTPServerRequest, label: str) -> bool:
        """Whether the request may see the site (open, or unlocked by its cookie)."""
        lock = self.lock
        protected = lock.protected(label) if lock is not None else None
        return lock is None or protected is None or lock.admits(request, protected)

    def _site_reply(self, request: tornado.httputil.HTTPServerRequest, label: str) -> _Reply:
        site = self.files.site(label)
        if site is None:
            return _page(404, _NO_SITE_PAGE)
        method = request.method
        if method != "GET" and method != "HEAD":
            return _page(405, _NOT_ALLOWED_PAGE, (("Allow", ALLOWED_METHODS),))
        route = self.files.route(site.release, request.path)
        if route.location is not None:
            return _redirect(request, route)
        found = self.files.file(site.release, route.file) if route.file is not None else None
        if found is None:
            return _page(404, _NOT_FOUND_PAGE, route.headers)
        return self._file_reply(request, site, route, found)

    def _file_reply(self, request: tornado.httputil.HTTPServerRequest, site: Site,
                    route: Route, found: SiteFile) -> _Reply:
        asked = request.headers
        status = route.status
        range_header = _header(asked, "Range") if status == 200 else None
        variant = found.identity
        if found.compressible and range_header is None and "Accept-Encoding" in asked:
            variant = _negotiate(found, asked["Accept-Encoding"])

        key = (site.release.real, request.path, variant.encoding, site.pinned)
        prepared = self._prepared.get(key)
        if prepared is None or prepared.etag != variant.etag:
            prepared = _prepare(site, route, found, variant)
            if len(self._prepared) >= PREPARED_ANSWERS:
                del self._prepared[next(iter(self._prepared))]
            self._prepared[key] = prepared
        if status == 200:
            if _not_modified(asked, prepared):
                return _Reply(304, prepared.not_modified_head)
            if range_header is not None and _if_range_holds(_header(asked, "If-Range"),
                                                            prepared):
                partial = _partial_reply(prepared, variant, range_header)
                if partial is not None:
                    return partial
        return _body_reply(status, prepared.full_head, variant, 0, variant.size)


class _SiteExchange(tornado.httputil.HTTPMessageDelegate):
    """One request to a site; the answer is written once the request is fully read."""

    __slots__ = ("server", "request", "label", "redirect")

    def __init__(self, server: SiteServer, request: tornado.httputil.HTTPServerRequest,
                 label: str, redirect: str | None) -> None:
        self.server = server
        self.request = request
        self.label = label
        self.redirect = redirect

    def data_received(self, chunk: bytes) -> None:
        """Sites take no request bodies: whatever is sent is read and dropped."""

    def finish(self) -> None:
        fetcher = self.server.fetcher
        # A locked door fetches nothing: only a visitor it admits makes this process download.
        if (fetcher is not None and self.redirect is None and fetcher.wants(self.label)
                and self.server.admits(self.request, self.label)):
            fetched = asyncio.ensure_future(fetcher.fetch_host(self.label))
            fetched.add_done_callback(
                lambda _: self.server.respond(self.request, self.label, self.redirect))
            return
        self.server.respond(self.request, self.label, self.redirect)


class _Reply:
    """What to answer: the status, its encoded status line and headers (all but Date and
    Connection), and a body in memory or a range of a file to stream."""

    __slots__ = ("status", "head", "body", "stream", "start", "length")

    def __init__(self, status: int, head: bytes, body: bytes | None = None,
                 stream: Variant | None = None, start: int = 0, length: int = 0) -> None:
        self.status = status
        self.head = head
        self.body = body
        self.stream = stream
        self.start = start
        self.length = length


class _Prepared:
    """One file's answer at one URL, encoded once: it changes only with the release and the
    path (the key) or with the file itself (its ETag, checked on every use)."""

    __slots__ = ("etag", "mtime", "status", "common", "content", "full_head",
                 "not_modified_head")

    def __init__(self, etag: str, mtime: int, status: int, common: Headers, content: Headers,
                 length: Headers) -> None:
        self.etag = etag
        self.mtime = mtime
        self.status = status
        self.common = common  # what a 304 repeats
        self.content = content  # Content-Type and Content-Encoding
        self.full_head = _encode_head(status, content + length + common)
        self.not_modified_head = _encode_head(304, common)


def log_site_request(request: tornado.httputil.HTTPServerRequest, status: int) -> None:
    """The access log line, as `handlers.access_log.log_request` writes it for handlers."""
    level = logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
    if access_log.isEnabledFor(level):
        access_log.log(level, "%d %s %s%s (%s) %.1fms", status, request.method,
                       request.host_name, request.path, request.remote_ip,
                       1000.0 * request.request_time())


def _prepare(site: Site, route: Route, found: SiteFile, variant: Variant) -> _Prepared:
    common = [("X-Content-Type-Options", "nosniff")]
    if found.compressible:
        common.append(("Vary", "Accept-Encoding"))
    if route.status == 200:
        common += [("Cache-Control", _cache_control(site, route, found)),
                   ("ETag", variant.etag),
                   ("Last-Modified", email.utils.formatdate(variant.mtime, usegmt=True)),
                   ("Accept-Ranges", "bytes")]
    else:
        common.append(("Cache-Control", NO_CACHE))
    media = found.media_type
    content = [("Content-Type", media + "; charset=utf-8" if is_text(media) else media)]
    if variant.encoding is not None:
        content.append(("Content-Encoding", variant.encoding))
    overridden = {name.lower() for name, _ in route.headers}
    return _Prepared(variant.etag, int(variant.mtime), route.status,
                     _with_site_headers(common, route.headers),
                     tuple(pair for pair in content if pair[0].lower() not in overridden),
                     (("Content-Length", str(variant.size)),))


def _with_site_headers(defaults: list[tuple[str, str]], site_headers: Headers) -> Headers:
    """The defaults with the site's own `_headers` winning, except that a Vary of ours is
    extended rather than replaced: a cache must still tell the encodings apart."""
    ours = {name.lower(): value for name, value in defaults}
    merged = [pair for pair in defaults if pair[0].lower() not in
              {name.lower() for name, _ in site_headers}]
    for name, value in site_headers:
        if name.lower() == "vary" and "vary" in ours:
            value = f"{ours['vary']}, {value}"
        merged.append((name, value))
    return tuple(merged)


def _cache_control(site: Site, route: Route, found: SiteFile) -> str:
    if found.media_type == "text/html":
        return NO_CACHE
    if route.hashed_name or site.pinned:
        return FOREVER
    return REVALIDATE


def _partial_reply(prepared: _Prepared, variant: Variant, range_header: str) -> _Reply | None:
    size = variant.size
    wanted = _parse_range(range_header, size)
    if wanted is None:
        return None
    if wanted == "unsatisfiable":
        return _Reply(416, _encode_head(416, prepared.common + (
            ("Content-Range", f"bytes */{size}"), ("Content-Length", "0"))))
    start, end = wanted
    length = end + 1 - start
    head = _encode_head(206, prepared.content + prepared.common + (
        ("Content-Range", f"bytes {start}-{end}/{size}"), ("Content-Length", str(length))))
    return _body_reply(206, head, variant, start, length)


def _body_reply(status: int, head: bytes, variant: Variant, start: int,
                length: int) -> _Reply:
    body = variant.body
    if body is None:
        return _Reply(status, head, stream=variant, start=start, length=length)
    if length != len(body):
        body = body[start:start + length]
    return _Reply(status, head, body)


def _redirect(request: tornado.httputil.HTTPServerRequest, route: Route) -> _Reply:
    location = route.location or "/"
    query = request.query
    if query and "?" not in location and query.isascii() and query.isprintable():
        location += "?" + query
    headers = _with_site_headers(
        [("X-Content-Type-Options", "nosniff"), ("Cache-Control", NO_CACHE)], route.headers)
    return _Reply(route.status, _encode_head(route.status, headers + (
        ("Location", location), ("Content-Length", "0"))))


def _moved(location: str) -> _Reply:
    """308 to another of the project's domains, path and query kept (apex → www)."""
    return _Reply(308, _encode_head(308, (
        ("X-Content-Type-Options", "nosniff"), ("Cache-Control", NO_CACHE),
        ("Location", location), ("Content-Length", "0"))))


def _page(status: int, page: bytes, site_headers: Headers = ()) -> _Reply:
    """One of Slipway's own small pages; the site's `_headers` apply, but not to its type."""
    site_headers = tuple(pair for pair in site_headers if pair[0].lower() != "content-type")
    headers = _with_site_headers(
        [("X-Content-Type-Options", "nosniff"), ("Cache-Control", NO_CACHE)], site_headers)
    return _Reply(status, _encode_head(status, headers + (
        ("Content-Type", _HTML), ("Content-Length", str(len(page))))), page)


def _locked(request: tornado.httputil.HTTPServerRequest) -> _Reply:
    """The password prompt of a protected preview, whatever was asked for (even whether it
    exists), with the way back to it."""
    page = password_page(request.uri or "/")
    return _Reply(401, _encode_head(401, PAGE_HEADERS + (("Content-Length", str(len(page))),)),
                  page)


def _private(reply: _Reply) -> _Reply:
    """The reply with its Cache-Control (ours or the site's) replaced by PRIVATE_CACHE."""
    lines = [line for line in reply.head.split(b"\r\n")
             if not line.lower().startswith(b"cache-control:")]
    reply.head = b"\r\n".join(lines[:-1] + [b"Cache-Control: " + PRIVATE_CACHE.encode(), b""])
    return reply


# Writing: the head is encoded here rather than by `HTTP1Connection.write_headers`, which
# formats and checks every header line on every request (a sixth of the time of a cached hit).
# `HTTP1Connection.write` takes a pre-encoded head (a documented, if deprecated, use); the
# connection object is new for each request, so it has no framing state to keep in step: no
# chunking, no Content-Length accounting. What write_headers would add is added here: Date, and
# Connection for the keep-alive decisions Tornado makes from the request.

def _encode_head(status: int, headers: Headers) -> bytes:
    lines = [f"HTTP/1.1 {status} {tornado.httputil.responses[status]}"]
    for name, value in headers:
        line = f"{name}: {value}"
        if "\r" in line or "\n" in line:
            raise ValueError(f"refusing a header line with CR or LF: {name}")
        lines.append(line)
    return ("\r\n".join(lines) + "\r\n").encode("latin1")


def _write(request: tornado.httputil.HTTPServerRequest, reply: _Reply) -> None:
    connection = request.connection
    head = reply.head + _date_line() + _connection_line(request)
    head += HSTS_LINE + b"\r\n" if request.protocol == "https" else b"\r\n"
    if request.method == "HEAD" or reply.status in (304, 416):
        connection.write(head)
    elif reply.stream is not None:
        try:
            opened = open(reply.stream.path, "rb")  # noqa: SIM115 - closed by _stream
        except OSError:  # the release was removed since the file was looked up
            _write(request, _page(404, _NOT_FOUND_PAGE))
            return
        connection.write(head)
        tornado.ioloop.IOLoop.current().spawn_callback(
            _stream, request, reply.status, opened, reply.start, reply.length)
        return
    else:
        # One write (the body copied after the head) beats two sends, up to the largest body
        # kept in memory.
        connection.write(head + reply.body if reply.body else head)
    connection.finish()
    log_site_request(request, reply.status)


def _connection_line(request: tornado.httputil.HTTPServerRequest) -> bytes:
    # Mirrors HTTP1Connection's keep-alive rule: 1.1 unless "close", 1.0 only on "keep-alive".
    asked = request.headers
    if "Connection" not in asked:
        return b""
    tokens = {token.strip().lower() for token in asked["Connection"].split(",")}
    if request.version == "HTTP/1.1":
        return b"Connection: close\r\n" if "close" in tokens else b""
    return b"Connection: Keep-Alive\r\n" if "keep-alive" in tokens else b""


async def _stream(request: tornado.httputil.HTTPServerRequest, status: int, opened: Any,
                  start: int, length: int) -> None:
    """Send a large file in chunks, each once the previous one has left, so memory stays
    bounded whatever the file's size and the client's speed."""
    connection = request.connection
    try:
        with opened:
            opened.seek(start)
            remaining = length
            while remaining > 0:
                chunk = opened.read(min(STREAM_CHUNK_BYTES, remaining))
                if not chunk:
                    raise OSError(f"{opened.name} is shorter than when it was looked up")
                remaining -= len(chunk)
                await connection.write(chunk)
        connection.finish()
    except (tornado.iostream.StreamClosedError, OSError):
        connection.close()  # a gone client, or a file cut short: the connection cannot go on
    log_site_request(request, status)


def _header(asked: tornado.httputil.HTTPHeaders, name: str) -> str | None:
    # HTTPHeaders.get() raises and catches a KeyError for a missing header: too slow here.
    return asked[name] if name in asked else None  # noqa: SIM401


# Conditional requests and ranges (RFC 9110 sections 13 and 14)

def _not_modified(asked: tornado.httputil.HTTPHeaders, answer: _Prepared) -> bool:
    if "If-None-Match" in asked:
        return _etag_listed(asked["If-None-Match"], answer.etag)
    if "If-Modified-Since" in asked:
        since = _parse_http_date(asked["If-Modified-Since"])
        return since is not None and answer.mtime <= since
    return False


def _etag_listed(header: str, etag: str) -> bool:
    """Weak comparison, as If-None-Match uses: `W/"x"` matches `"x"`; `*` matches anything."""
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*":
            return True
        if candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate == etag:
            return True
    return False


def _if_range_holds(if_range: str | None, answer: _Prepared) -> bool:
    """A Range applies unless If-Range names another version (strong comparison)."""
    if if_range is None:
        return True
    if_range = if_range.strip()
    if if_range.startswith(('"', "W/")):
        return if_range == answer.etag
    when = _parse_http_date(if_range)
    return when is not None and when == answer.mtime


def _parse_range(header: str, size: int) -> tuple[int, int] | str | None:
    """(first, last) byte of a single `bytes=` range, "unsatisfiable", or None to ignore it
    (malformed, another unit, or several ranges: the whole file is then sent with 200)."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash or not _is_number(first, empty=True) or not _is_number(last, empty=True):
        return None
    if not first:
        if not last:
            return None
        suffix = int(last)
        if suffix == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - suffix), size - 1
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        return "unsatisfiable"
    return start, min(int(last), size - 1) if last else size - 1


def _is_number(text: str, *, empty: bool = False) -> bool:
    if not text:
        return empty
    return len(text) <= 18 and text.isascii() and text.isdigit()


# Content negotiation of the pre-compressed siblings

_ENCODING_PREFERENCES: dict[str, tuple[str, ...]] = {}


def _negotiate(found: SiteFile, accepted: str) -> Variant:
    preferences = _ENCODING_PREFERENCES.get(accepted)
    if preferences is None:
        preferences = accepted_encodings(accepted)
        if len(_ENCODING_PREFERENCES) >= 256:
            _ENCODING_PREFERENCES.clear()
        _ENCODING_PREFERENCES[accepted] = preferences
    for encoding in preferences:
        variant = found.br if encoding == "br" else found.gzip
        if variant is not None:
            return variant
    return found.identity


def accepted_encodings(header: str) -> tuple[str, ...]:
    """The stored encodings ("br", "gzip") an Accept-Encoding header accepts, best first:
    by q-value, br before gzip on a tie; q=0 refuses, `*` stands for codings not named."""
    quality: dict[str, float] = {}
    for item in header.split(","):
        coding, _, parameters = item.partition(";")
        coding = coding.strip().lower()
        if coding == "x-gzip":
            coding = "gzip"
        q = 1.0
        name, _, value = parameters.partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(value.strip())
            except ValueError:
                continue
            if not 0.0 <= q <= 1.0:
                continue
        if coding:
            quality[coding] = q
    wildcard = quality.get("*", 0.0)
    ranked = [(quality.get(coding, wildcard), order, coding)
              for order, coding in enumerate(("br", "gzip"))]
    return tuple(coding for q, _, coding in sorted(ranked, key=lambda r: (-r[0], r[1])) if q > 0)


# HTTP dates

_date_cache: list[Any] = [0, b""]


def _date_line() -> bytes:
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache[0] = now
        _date_cache[1] = f"Date: {email.utils.formatdate(now, usegmt=True)}\r\n".encode()
    return _date_cache[1]


def _parse_http_date(text: str) -> int | None:
    try:
        parsed = email.utils.parsedate_tz(text)
        return None if parsed is None else int(email.utils.mktime_tz(parsed))
    except (TypeError, ValueError, OverflowError):
        return None
