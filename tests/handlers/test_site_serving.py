"""Deployed sites as visitors see them: hosts to releases, files, caching, ranges, encodings,
rules, and the atomic swap of `current`, over real HTTP against a real Tornado server.

Requests are written by hand (`_fetch`) so that the path and the headers reach the server
byte for byte as a hostile client would send them, and nothing is decompressed on the way back.
"""

from __future__ import annotations

import asyncio
import email.utils
import gzip
import logging
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import tornado.httpserver
import tornado.httputil
import tornado.netutil
import tornado.web
from tornado.routing import Rule

from handlers.sites import FOREVER, NO_CACHE, REVALIDATE, SiteHostMatcher, SiteServer
from tests.support import route_table

MAX_FILE_BYTES = 64 * 1024
BIG_FILE = bytes(range(256)) * 1200  # above the test server's in-memory limit: streamed

APP_JS = b"console.log('version 1');\n" * 40
REDIRECTS = """\
# comments and junk lines must not break anything
this line is junk
/old /new.html
/temp /new.html 302
/blog/* /posts/:splat 301
/news/:year/:slug /articles/:year-:slug.html 302
/app/* /app-shell.html 200
/exists /new.html 301
/forced.html /new.html 302!
/external https://example.com/landing 302
/proxy https://example.com/ 200
/removed /gone.html 404
"""
HEADERS = """\
/*
  X-Frame-Options: DENY
  Set-Cookie: stolen=1
  Content-Length: 1
/app.js
  Cache-Control: public, max-age=60
/data.json
  Access-Control-Allow-Origin: *
  Vary: Origin
"""


@dataclass
class Reply:
    status: int
    headers: tornado.httputil.HTTPHeaders
    body: bytes


def _write(path: Path, content: bytes | str, *, mtime: float | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def _link(link: Path, target: str) -> None:
    """Point `link` at `target` atomically, as the deployer does (rename over the old link)."""
    link.parent.mkdir(parents=True, exist_ok=True)
    temporary = link.with_name(link.name + ".new")
    temporary.unlink(missing_ok=True)
    os.symlink(target, temporary)
    os.replace(temporary, link)


def _build_deployments(root: Path) -> None:
    then = 1_700_000_000
    one = root / "demo" / "releases" / "1"
    _write(one / "index.html", "<!doctype html><title>v1</title>release-one index\n", mtime=then)
    _write(one / "app.js", APP_JS, mtime=then)
    _write(one / "app.js.gz", gzip.compress(APP_JS), mtime=then + 1)
    _write(one / "app.js.br", b"fake brotli bytes", mtime=then + 1)
    _write(one / "style.css", "body{color:red}\n" * 20, mtime=then)
    _write(one / "style.css.gz", gzip.compress(b"stale"), mtime=then - 100)  # older: unused
    _write(one / "app.3f9a2c1d.js", "hashed();\n")
    _write(one / "index-BxK2aQ9c.js", "hashed();\n")
    _write(one / "chunk.a1b2c3d4e5.css", "a{}\n")
    _write(one / "index-D_1pQ7xR.js", "hashed();\n")
    _write(one / "html5shiv.js", "not a hash\n")
    _write(one / "main.abcdefgh.js", "no digit, not a hash\n")
    for folder in ("_next/static/chunks/2sw98e3qbqddw.js", "_app/immutable/entry/app.js",
                   "_astro/index.css", "_nuxt/entry.js", "_nuxt/builds/latest.json",
                   "assets/index-CsUDhMuy.css", "assets/index-CAoPt-vL.js",
                   "assets/logo-original.png"):
        _write(one / folder, "a framework's file\n")
    _write(one / "data.json", '{"ok": true}\n')
    _write(one / "module.wasm", b"\0asm\1\0\0\0")
    _write(one / "site.webmanifest", "{}\n")
    _write(one / "font.woff2", b"wOF2")
    _write(one / "image.avif", b"avif")
    _write(one / "logo.svg", "<svg/>\n")
    _write(one / "photo.png", b"\x89PNG")
    _write(one / "blob.bin", b"\0\1\2")
    _write(one / "big.bin", BIG_FILE)
    _write(one / "docs" / "index.html", "docs index\n")
    _write(one / "404.html", "custom not found page\n")
    _write(one / "new.html", "the new page\n")
    _write(one / "exists.html", "a file shadows a soft rule\n")
    _write(one / "forced.html", "never served: a forced rule wins\n")
    _write(one / "app-shell.html", "app shell\n")
    _write(one / "gone.html", "this page is gone\n")
    _write(one / ".env", "SECRET=hunter2\n")
    _write(one / ".git" / "config", "[core] SECRET\n")
    _write(one / "docs" / ".secret", "SECRET\n")
    _write(one / ".well-known" / "security.txt", "Contact: mailto:security@example.com\n")
    _write(one / ".well-known" / ".hidden", "SECRET\n")
    _write(one / "_redirects", REDIRECTS)
    _write(one / "_headers", HEADERS)
    os.symlink("/etc/passwd", one / "passwd.txt")
    os.symlink("../2/index.html", one / "sibling.html")
    os.symlink("docs/index.html", one / "alias.html")
    os.symlink(".env", one / "env.txt")
    os.mkfifo(one / "pipe.js")
    two = root / "demo" / "releases" / "2"
    _write(two / "index.html", "<!doctype html><title>v2</title>release-two index\n")
    _write(two / "app.js", "console.log('version 2');\n")
    _link(root / "demo" / "current", "releases/1")
    _link(root / "demo" / "previews" / "feature-x", "../releases/2")

    _write(root / "plain" / "releases" / "7" / "index.html", "plain index\n")
    _write(root / "plain" / "releases" / "7" / "_headers",
           "/*\n  Cache-Control: max-age=5\n  Content-Type: text/plain\n")
    _link(root / "plain" / "current", "releases/7")
    (root / "never-deployed" / "releases").mkdir(parents=True)
    _write(root / "escape" / "releases" / "1" / "index.html", "escape\n")
    _link(root / "escape" / "current", "../demo/releases/1")


class _Dashboard(tornado.web.RequestHandler):
    def get(self) -> None:
        self.finish("dashboard")


class RunningSites:
    def __init__(self, root: Path, io_loop) -> None:
        self.root = root
        self.sites = SiteServer(root, max_file_bytes=MAX_FILE_BYTES)
        app = tornado.web.Application([
            Rule(SiteHostMatcher("localhost"), self.sites),
            (r"/.*", _Dashboard),
        ])
        [sock] = tornado.netutil.bind_sockets(0, "127.0.0.1")
        self.port = sock.getsockname()[1]
        self.server = tornado.httpserver.HTTPServer(app)
        self.server.add_sockets([sock])
        self.io_loop = io_loop

    async def fetch(self, path: str, host: str = "demo.localhost", method: str = "GET",
                    headers: dict[str, str] | None = None) -> Reply:
        return await _fetch(self.port, path, host, method, headers)

    async def aclose(self) -> None:
        self.server.stop()
        await self.server.close_all_connections()

    def close(self) -> None:
        self.io_loop.run_sync(self.aclose)


async def _fetch(port: int, path: str, host: str, method: str = "GET",
                 headers: dict[str, str] | None = None) -> Reply:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin1"))
        data = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, _, header_text = head.decode("latin1").partition("\r\n")
    return Reply(int(status_line.split()[1]), tornado.httputil.HTTPHeaders.parse(header_text),
                 body)


@pytest.fixture(scope="module")
def deployments(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("deployments")
    _build_deployments(root)
    route_table.write_route_sites(root)
    return root


@pytest.fixture(scope="module")
def sites(deployments, io_loop) -> Iterator[RunningSites]:
    running = RunningSites(deployments, io_loop)
    yield running
    running.close()


@pytest.fixture
def own_sites(tmp_path, io_loop) -> Iterator[RunningSites]:
    """A server over a deployments tree of the test's own, free to change."""
    _build_deployments(tmp_path)
    running = RunningSites(tmp_path, io_loop)
    yield running
    running.close()


def assert_safe_headers(reply: Reply) -> None:
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert "Set-Cookie" not in reply.headers
    assert "Date" in reply.headers


# Hosts

@pytest.mark.gen_test
@pytest.mark.parametrize("host", ["demo.localhost", "DEMO.LocalHost:8080", "demo.localhost.",
                                  "demo.localhost.:443"])
async def test_the_project_host_serves_the_current_release(sites, host):
    reply = await sites.fetch("/", host)
    assert reply.status == 200
    assert b"release-one index" in reply.body
    assert_safe_headers(reply)
    assert "Access-Control-Allow-Origin" not in reply.headers


@pytest.mark.gen_test
async def test_a_build_id_host_serves_that_release_and_caches_all_but_html_forever(sites):
    one = await sites.fetch("/", "1--demo.localhost")
    two = await sites.fetch("/", "2--demo.localhost")
    style = await sites.fetch("/style.css", "1--demo.localhost")
    assert b"release-one" in one.body and b"release-two" in two.body
    assert one.headers["Cache-Control"] == NO_CACHE
    assert style.headers["Cache-Control"] == FOREVER


@pytest.mark.gen_test
async def test_a_git_preview_host_serves_the_preview_link(sites):
    reply = await sites.fetch("/", "git-feature-x--demo.localhost")
    assert b"release-two index" in reply.body
    assert reply.headers["Cache-Control"] == NO_CACHE


@pytest.mark.gen_test
@pytest.mark.parametrize("host", [
    "nope.localhost",                    # no such project
    "never-deployed.localhost",          # a project without `current`
    "9--demo.localhost",                 # no such release
    "git-nope--demo.localhost",          # no such preview
    "x--demo.localhost",                 # neither a build id nor a preview
    "git---demo.localhost",              # an empty slug
    "git-a_b--demo.localhost",           # not a slug
    "1x--demo.localhost",
    "-demo.localhost",                   # not a DNS label
    "a.demo.localhost",                  # a sub-subdomain
    "1--api.localhost",                  # a reserved name is never a project
    "escape.localhost",                  # `current` pointing at another project's release
])
async def test_hosts_naming_no_published_release_get_the_no_site_page(sites, host):
    reply = await sites.fetch("/", host)
    assert reply.status == 404
    assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
    assert b"No site is published at this address" in reply.body
    assert b"dashboard" not in reply.body
    assert_safe_headers(reply)


@pytest.mark.gen_test
@pytest.mark.parametrize("host", ["localhost", "www.localhost", "api.localhost", "example.com"])
async def test_the_dashboard_host_and_reserved_names_never_reach_sites(sites, host):
    reply = await sites.fetch("/", host)
    assert (reply.status, reply.body) == (200, b"dashboard")


# Paths resolve inside the release only

@pytest.mark.gen_test
@pytest.mark.parametrize("path", [
    "/../2/index.html", "/docs/../../2/index.html", "/%2e%2e/2/index.html",
    "/%2E%2E/2/index.html", "/..%2f2%2findex.html", "/%2e%2e%2fetc/passwd",
    "/..%5c2%5cindex.html", "/docs\\..\\..\\2\\index.html", "/index.html%00.js", "/%00",
    "/.env", "/.git/config", "/docs/.secret", "/%2eenv", "/.well-known/.hidden",
    "/.well-known/../.env", "/passwd.txt", "/sibling.html", "/env.txt", "/_redirects",
    "/_headers", "/%5fredirects", "/%ff%fe",
])
async def test_paths_leaving_the_release_or_naming_hidden_files_answer_404(sites, path):
    reply = await sites.fetch(path)
    assert reply.status == 404
    for secret in (b"SECRET", b"root:", b"release-two", b"/new.html"):
        assert secret not in reply.body
    assert_safe_headers(reply)


@pytest.mark.gen_test
async def test_special_files_are_never_opened(sites):
    reply = await sites.fetch("/pipe.js")  # a FIFO: opening it for reading would block
    assert reply.status == 404


@pytest.mark.gen_test
async def test_well_known_files_are_served_but_never_fall_back_to_the_app(sites):
    found = await sites.fetch("/.well-known/security.txt")
    missing = await sites.fetch("/.well-known/openid-configuration")
    assert (found.status, found.body) == (200, b"Contact: mailto:security@example.com\n")
    assert missing.status == 404


@pytest.mark.gen_test
async def test_a_symlink_inside_the_release_is_followed(sites):
    reply = await sites.fetch("/alias")
    assert (reply.status, reply.body) == (200, b"docs index\n")


# Route matching: the contract's table (shared with the nginx tests), then the details

@pytest.mark.gen_test
@pytest.mark.parametrize("row", route_table.ROUTES + route_table.CACHING, ids=str)
async def test_route_matching_follows_the_contract(sites, row):
    reply = await sites.fetch(row.path, f"{row.site}.localhost")
    route_table.check(row, reply.status, reply.headers, reply.body)
    assert reply.headers["Cache-Control"] == (row.cache or NO_CACHE) or row.status == 200


@pytest.mark.gen_test
async def test_a_canonical_redirect_keeps_an_encoded_query_as_sent(sites):
    reply = await sites.fetch("/about.html?q=a%20b&next=%2Fx", "mpa.localhost")
    assert (reply.status, reply.headers["Location"]) == (308, "/about?q=a%20b&next=%2Fx")
    assert reply.headers["Cache-Control"] == NO_CACHE


@pytest.mark.gen_test
async def test_a_site_that_gains_a_root_404_page_in_a_new_release_stops_being_an_app(own_sites):
    release = own_sites.root / "shop" / "releases"
    _write(release / "1" / "index.html", "app shell\n")
    _write(release / "2" / "index.html", "home\n")
    _write(release / "2" / "404.html", "no such page\n")
    _link(own_sites.root / "shop" / "current", "releases/1")
    assert (await own_sites.fetch("/pricing", "shop.localhost")).status == 200
    _link(own_sites.root / "shop" / "current", "releases/2")
    reply = await own_sites.fetch("/pricing", "shop.localhost")
    assert (reply.status, reply.body) == (404, b"no such page\n")


@pytest.mark.gen_test
async def test_a_missing_asset_answers_the_sites_own_404_page(sites):
    reply = await sites.fetch("/missing.js")
    assert (reply.status, reply.body) == (404, b"custom not found page\n")
    assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
    assert reply.headers["Cache-Control"] == NO_CACHE


@pytest.mark.gen_test
async def test_a_missing_asset_of_a_site_without_404_page_answers_a_plain_404(sites):
    reply = await sites.fetch("/missing.js", "plain.localhost")
    assert reply.status == 404
    assert b"Nothing is published at this path" in reply.body


@pytest.mark.gen_test
async def test_a_file_path_with_a_trailing_slash_is_not_the_file(sites):
    reply = await sites.fetch("/new.html/")
    assert (reply.status, reply.body) == (404, b"custom not found page\n")


# Methods

@pytest.mark.gen_test
async def test_head_answers_the_same_headers_without_a_body(sites):
    get = await sites.fetch("/app.js")
    head = await sites.fetch("/app.js", method="HEAD")
    assert (head.status, head.body) == (200, b"")
    assert head.headers["Content-Length"] == get.headers["Content-Length"] == str(len(APP_JS))
    assert head.headers["ETag"] == get.headers["ETag"]


@pytest.mark.gen_test
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
async def test_other_methods_are_not_allowed(sites, method):
    reply = await sites.fetch("/", method=method)
    assert reply.status == 405
    assert reply.headers["Allow"] == "GET, HEAD"
    assert_safe_headers(reply)


# Types and caching

@pytest.mark.gen_test
@pytest.mark.parametrize(("path", "media_type"), [
    ("/", "text/html; charset=utf-8"),
    ("/app.js", "text/javascript; charset=utf-8"),
    ("/style.css", "text/css; charset=utf-8"),
    ("/data.json", "application/json; charset=utf-8"),
    ("/module.wasm", "application/wasm"),
    ("/site.webmanifest", "application/manifest+json; charset=utf-8"),
    ("/font.woff2", "font/woff2"),
    ("/image.avif", "image/avif"),
    ("/logo.svg", "image/svg+xml; charset=utf-8"),
    ("/photo.png", "image/png"),
    ("/blob.bin", "application/octet-stream"),
    ("/app.js.gz", "application/gzip"),
])
async def test_content_type_follows_the_extension(sites, path, media_type):
    reply = await sites.fetch(path, headers={"Accept-Encoding": "gzip"})
    assert reply.status == 200
    assert reply.headers["Content-Type"] == media_type


@pytest.mark.gen_test
@pytest.mark.parametrize(("path", "cache_control"), [
    ("/app.3f9a2c1d.js", FOREVER),
    ("/index-BxK2aQ9c.js", FOREVER),
    ("/chunk.a1b2c3d4e5.css", FOREVER),
    ("/index-D_1pQ7xR.js", FOREVER),
    # The frameworks' immutable folders, whatever the names in them look like.
    ("/_next/static/chunks/2sw98e3qbqddw.js", FOREVER),
    ("/_app/immutable/entry/app.js", FOREVER),
    ("/_astro/index.css", FOREVER),
    ("/_nuxt/entry.js", FOREVER),
    ("/_nuxt/builds/latest.json", REVALIDATE),
    # Vite's hashes need hold no digit.
    ("/assets/index-CsUDhMuy.css", FOREVER),
    ("/assets/index-CAoPt-vL.js", FOREVER),
    ("/assets/logo-original.png", REVALIDATE),
    ("/html5shiv.js", REVALIDATE),
    ("/main.abcdefgh.js", REVALIDATE),
    ("/style.css", REVALIDATE),
    ("/photo.png", REVALIDATE),
    ("/", NO_CACHE),
    ("/docs/", NO_CACHE),
])
async def test_hashed_names_are_immutable_html_is_revalidated_and_the_rest_must_revalidate(
        sites, path, cache_control):
    reply = await sites.fetch(path)
    assert reply.headers["Cache-Control"] == cache_control


# Conditional requests

@pytest.mark.gen_test
async def test_a_matching_etag_answers_304_without_a_body(sites):
    first = await sites.fetch("/app.js")
    etag = first.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    for if_none_match in (etag, f'"other", {etag}', f"W/{etag}", "*"):
        reply = await sites.fetch("/app.js", headers={"If-None-Match": if_none_match})
        assert (reply.status, reply.body) == (304, b"")
        assert reply.headers["ETag"] == etag
        assert reply.headers["Cache-Control"] == first.headers["Cache-Control"]
        assert reply.headers["Vary"] == "Accept-Encoding"
        assert_safe_headers(reply)


@pytest.mark.gen_test
async def test_another_etag_answers_the_file(sites):
    reply = await sites.fetch("/app.js", headers={"If-None-Match": '"stale", W/"older"'})
    assert (reply.status, reply.body) == (200, APP_JS)


@pytest.mark.gen_test
async def test_if_modified_since_applies_only_without_if_none_match(sites):
    first = await sites.fetch("/app.js")
    modified = first.headers["Last-Modified"]
    earlier = email.utils.formatdate(1_600_000_000, usegmt=True)
    same = await sites.fetch("/app.js", headers={"If-Modified-Since": modified})
    older = await sites.fetch("/app.js", headers={"If-Modified-Since": earlier})
    both = await sites.fetch("/app.js", headers={"If-Modified-Since": modified,
                                                 "If-None-Match": '"stale"'})
    garbage = await sites.fetch("/app.js", headers={"If-Modified-Since": "yesterday-ish"})
    assert [r.status for r in (same, older, both, garbage)] == [304, 200, 200, 200]


@pytest.mark.gen_test
async def test_the_same_file_keeps_its_etag_and_each_encoding_has_its_own(sites):
    plain = await sites.fetch("/app.js")
    again = await sites.fetch("/app.js")
    zipped = await sites.fetch("/app.js", headers={"Accept-Encoding": "gzip"})
    assert plain.headers["ETag"] == again.headers["ETag"] != zipped.headers["ETag"]


# Ranges

@pytest.mark.gen_test
@pytest.mark.parametrize(("header", "first", "last"), [
    ("bytes=0-9", 0, 9), ("bytes=10-", 10, len(APP_JS) - 1),
    ("bytes=-5", len(APP_JS) - 5, len(APP_JS) - 1), ("bytes=5-99999999", 5, len(APP_JS) - 1),
    ("bytes=-99999999", 0, len(APP_JS) - 1),
])
async def test_a_range_answers_206_with_that_part(sites, header, first, last):
    reply = await sites.fetch("/app.js", headers={"Range": header, "Accept-Encoding": "gzip"})
    assert reply.status == 206
    assert reply.headers["Content-Range"] == f"bytes {first}-{last}/{len(APP_JS)}"
    assert reply.body == APP_JS[first:last + 1]
    assert "Content-Encoding" not in reply.headers  # ranges are of the identity encoding
    assert reply.headers["Accept-Ranges"] == "bytes"


@pytest.mark.gen_test
@pytest.mark.parametrize("header", [f"bytes={len(APP_JS)}-", "bytes=99999-", "bytes=-0"])
async def test_an_unsatisfiable_range_answers_416(sites, header):
    reply = await sites.fetch("/app.js", headers={"Range": header})
    assert (reply.status, reply.body) == (416, b"")
    assert reply.headers["Content-Range"] == f"bytes */{len(APP_JS)}"


@pytest.mark.gen_test
@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "bytes=x-y", "bytes=9-2", "pages=1-2",
                                    "bytes=" + "9" * 40 + "-"])
async def test_several_or_malformed_ranges_answer_the_whole_file(sites, header):
    reply = await sites.fetch("/app.js", headers={"Range": header})
    assert (reply.status, reply.body) == (200, APP_JS)


@pytest.mark.gen_test
async def test_if_range_keeps_a_range_only_for_the_same_version(sites):
    etag = (await sites.fetch("/app.js")).headers["ETag"]
    same = await sites.fetch("/app.js", headers={"Range": "bytes=0-3", "If-Range": etag})
    other = await sites.fetch("/app.js", headers={"Range": "bytes=0-3", "If-Range": '"old"'})
    assert (same.status, other.status) == (206, 200)


@pytest.mark.gen_test
async def test_a_large_file_is_streamed_whole_and_in_ranges(sites):
    content = BIG_FILE
    whole = await sites.fetch("/big.bin")
    part = await sites.fetch("/big.bin", headers={"Range": "bytes=100000-199999"})
    head = await sites.fetch("/big.bin", method="HEAD")
    assert (whole.status, whole.body) == (200, content)
    assert (part.status, part.body) == (206, content[100_000:200_000])
    assert (head.status, head.body, head.headers["Content-Length"]) == (
        200, b"", str(len(content)))


# Pre-compressed siblings

@pytest.mark.gen_test
@pytest.mark.parametrize(("accept", "encoding"), [
    ("gzip", "gzip"),
    ("br, gzip", "br"),
    ("gzip, deflate, br, zstd", "br"),
    ("gzip;q=1, br;q=0.5", "gzip"),
    ("br;q=0, gzip", "gzip"),
    ("BR;Q=0.9", "br"),
    ("*", "br"),
    ("*;q=0.1, br;q=0", "gzip"),
    ("*;q=0", None),
    ("identity", None),
    ("deflate", None),
    ("gzip;q=bogus", None),
    ("", None),
])
async def test_a_precompressed_sibling_is_chosen_by_the_clients_preferences(
        sites, accept, encoding):
    reply = await sites.fetch("/app.js", headers={"Accept-Encoding": accept})
    assert reply.status == 200
    assert reply.headers.get("Content-Encoding") == encoding
    assert reply.headers["Vary"] == "Accept-Encoding"
    expected = {"gzip": gzip.compress(APP_JS), "br": b"fake brotli bytes", None: APP_JS}
    if encoding == "gzip":
        assert gzip.decompress(reply.body) == APP_JS
    else:
        assert reply.body == expected[encoding]
    assert reply.headers["Content-Length"] == str(len(reply.body))


@pytest.mark.gen_test
async def test_a_sibling_older_than_its_file_is_not_used(sites):
    reply = await sites.fetch("/style.css", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in reply.headers
    assert reply.body.startswith(b"body{color:red}")


@pytest.mark.gen_test
async def test_types_not_worth_compressing_do_not_vary(sites):
    reply = await sites.fetch("/photo.png", headers={"Accept-Encoding": "gzip"})
    assert "Vary" not in reply.headers


@pytest.mark.gen_test
async def test_a_sibling_written_after_go_live_is_served_once_noticed(own_sites):
    own_sites.sites.files.sibling_recheck = 0
    css = own_sites.root / "demo" / "releases" / "1" / "style.css"
    before = await own_sites.fetch("/style.css", headers={"Accept-Encoding": "gzip"})
    _write(css.with_name("style.css.gz"), gzip.compress(css.read_bytes()))
    after = await own_sites.fetch("/style.css", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in before.headers
    assert after.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(after.body) == css.read_bytes()


# The site's own rules

@pytest.mark.gen_test
@pytest.mark.parametrize(("path", "status", "location"), [
    ("/old", 301, "/new.html"),
    ("/old/", 301, "/new.html"),
    ("/temp", 302, "/new.html"),
    ("/blog/2024/hello", 301, "/posts/2024/hello"),
    ("/blog/a?page=2", 301, "/posts/a?page=2"),
    ("/news/2024/launch", 302, "/articles/2024-launch.html"),
    ("/forced.html", 302, "/new.html"),
    ("/external", 302, "https://example.com/landing"),
])
async def test_redirect_rules_answer_with_a_location(sites, path, status, location):
    reply = await sites.fetch(path)
    assert (reply.status, reply.headers["Location"], reply.body) == (status, location, b"")
    assert reply.headers["Cache-Control"] == NO_CACHE
    assert_safe_headers(reply)


@pytest.mark.gen_test
async def test_a_rewrite_serves_another_file_of_the_release_at_the_same_url(sites):
    reply = await sites.fetch("/app/users/7")
    assert (reply.status, reply.body) == (200, b"app shell\n")
    assert "Location" not in reply.headers


@pytest.mark.gen_test
async def test_an_existing_file_wins_over_a_rule_that_is_not_forced(sites):
    reply = await sites.fetch("/exists")
    assert (reply.status, reply.body) == (200, b"a file shadows a soft rule\n")


@pytest.mark.gen_test
async def test_a_404_rule_serves_its_page_with_status_404(sites):
    reply = await sites.fetch("/removed")
    assert (reply.status, reply.body) == (404, b"this page is gone\n")
    # A rule applies only where no file matches: /gone is gone.html's clean URL.
    assert (await sites.fetch("/gone")).status == 200


@pytest.mark.gen_test
async def test_a_rewrite_to_another_site_is_ignored(sites):
    reply = await sites.fetch("/proxy")
    assert (reply.status, reply.body) == (404, b"custom not found page\n")


@pytest.mark.gen_test
async def test_headers_rules_add_headers_but_never_cookies_or_framing(sites):
    page = await sites.fetch("/")
    script = await sites.fetch("/app.js")
    data = await sites.fetch("/data.json")
    missing = await sites.fetch("/missing.js")
    assert page.headers["X-Frame-Options"] == "DENY"
    assert missing.headers["X-Frame-Options"] == "DENY"
    assert script.headers["Cache-Control"] == "public, max-age=60"
    assert data.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Origin" not in page.headers
    for reply in (page, script, data, missing):
        assert_safe_headers(reply)
        assert reply.headers["Content-Length"] == str(len(reply.body))


@pytest.mark.gen_test
async def test_headers_rules_replace_defaults_once_and_extend_vary(sites):
    data = await sites.fetch("/data.json")
    page = await sites.fetch("/missing.js", "plain.localhost")
    assert data.headers.get_list("Vary") == ["Accept-Encoding, Origin"]
    assert page.headers.get_list("Cache-Control") == ["max-age=5"]
    assert page.headers.get_list("Content-Type") == ["text/html; charset=utf-8"]


@pytest.mark.gen_test
async def test_unreadable_rules_files_never_break_the_site(own_sites):
    release = own_sites.root / "demo" / "releases" / "1"
    (release / "_redirects").write_bytes(os.urandom(4096))
    (release / "_headers").unlink()
    (release / "_headers").mkdir()
    reply = await own_sites.fetch("/old")
    assert (reply.status, reply.body) == (404, b"custom not found page\n")  # no rule
    assert (await own_sites.fetch("/")).status == 200


# Deploys and rollbacks

@pytest.mark.gen_test
async def test_a_swap_of_current_is_seen_by_the_very_next_request(own_sites):
    current = own_sites.root / "demo" / "current"
    assert b"release-one" in (await own_sites.fetch("/")).body
    _link(current, "releases/2")
    assert b"release-two" in (await own_sites.fetch("/")).body
    assert b"version 2" in (await own_sites.fetch("/app.js")).body
    _link(current, "releases/1")  # a rollback
    assert b"release-one" in (await own_sites.fetch("/")).body
    assert (await own_sites.fetch("/app.js")).body == APP_JS


@pytest.mark.gen_test(timeout=60)
async def test_visitors_see_the_old_or_the_new_release_never_a_mix_during_swaps(tmp_path,
                                                                                io_loop):
    versions = {}
    for version in ("1", "2"):
        release = tmp_path / "demo" / "releases" / version
        marker = f"version-{version} " * 200
        _write(release / "index.html", f"<!doctype html><p>{marker}</p>\n")
        _write(release / "app.js", f"/* {marker} */\n")
        versions[version] = {"/": (release / "index.html").read_bytes(),
                             "/app.js": (release / "app.js").read_bytes()}
    _link(tmp_path / "demo" / "current", "releases/1")
    running = RunningSites(tmp_path, io_loop)
    seen: dict[tuple[str, str], set[str]] = {}
    stop = asyncio.Event()

    async def visitor(path: str) -> None:
        while not stop.is_set():
            reply = await running.fetch(path)
            assert reply.status == 200, reply
            assert reply.body in (versions["1"][path], versions["2"][path]), reply.body[:40]
            version = "1" if reply.body == versions["1"][path] else "2"
            assert reply.headers["Content-Length"] == str(len(reply.body))
            seen.setdefault((path, version), set()).add(reply.headers["ETag"])

    try:
        visitors = [asyncio.ensure_future(visitor(path)) for path in ("/", "/app.js") * 3]
        for swap in range(40):
            version = "2" if swap % 2 == 0 else "1"
            _link(tmp_path / "demo" / "current", f"releases/{version}")
            assert (await running.fetch("/")).body == versions[version]["/"]
            await asyncio.sleep(0.005)
        stop.set()
        await asyncio.gather(*visitors)
    finally:
        stop.set()
        await running.aclose()
    assert set(seen) == {(p, v) for p in ("/", "/app.js") for v in ("1", "2")}
    assert all(len(etags) == 1 for etags in seen.values())  # headers always match the body
    assert seen[("/", "1")] != seen[("/", "2")]


@pytest.mark.gen_test
async def test_a_pruned_release_stops_answering_on_its_build_host(own_sites):
    assert (await own_sites.fetch("/", "2--demo.localhost")).status == 200
    (own_sites.root / "demo" / "previews" / "feature-x").unlink()
    shutil.rmtree(own_sites.root / "demo" / "releases" / "2")
    reply = await own_sites.fetch("/", "2--demo.localhost")
    assert (reply.status, b"No site is published" in reply.body) == (404, True)


# Connections

async def _read_reply(reader: asyncio.StreamReader, method: str = "GET") -> Reply:
    head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)).decode("latin1")
    status_line, _, header_text = head.partition("\r\n")
    headers = tornado.httputil.HTTPHeaders.parse(header_text)
    length = 0 if method == "HEAD" else int(headers.get("Content-Length", "0"))
    return Reply(int(status_line.split()[1]), headers, await reader.readexactly(length))


@pytest.mark.gen_test
@pytest.mark.parametrize(("version", "connection", "kept_alive"), [
    ("HTTP/1.1", None, True), ("HTTP/1.1", "close", False),
    ("HTTP/1.0", "keep-alive", True), ("HTTP/1.0", None, False),
])
async def test_connections_are_kept_alive_as_the_client_asks(sites, version, connection,
                                                             kept_alive):
    reader, writer = await asyncio.open_connection("127.0.0.1", sites.port)
    try:
        extra = f"Connection: {connection}\r\n" if connection else ""
        request = f"GET /app.js {version}\r\nHost: demo.localhost\r\n{extra}\r\n"
        writer.write(request.encode())
        reply = await _read_reply(reader)
        assert (reply.status, reply.body) == (200, APP_JS)
        if kept_alive:
            assert reply.headers.get("Connection", "keep-alive").lower() == "keep-alive"
            writer.write(request.replace("/app.js", "/docs/").encode())
            assert (await _read_reply(reader)).body == b"docs index\n"
        else:
            assert await asyncio.wait_for(reader.read(), 10) == b""  # closed by the server
    finally:
        writer.close()


@pytest.mark.gen_test
async def test_one_connection_can_alternate_between_the_dashboard_and_a_site(sites):
    reader, writer = await asyncio.open_connection("127.0.0.1", sites.port)
    try:
        for host, path, body in [("localhost", "/", b"dashboard"),
                                 ("demo.localhost", "/docs/", b"docs index\n"),
                                 ("localhost", "/x", b"dashboard"),
                                 ("demo.localhost", "/big.bin", None),
                                 ("demo.localhost", "/new", b"the new page\n")]:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            reply = await _read_reply(reader)
            assert reply.status == 200
            assert body is None or reply.body == body
    finally:
        writer.close()


@pytest.mark.gen_test
async def test_a_client_leaving_during_a_stream_does_not_disturb_the_server(sites):
    reader, writer = await asyncio.open_connection("127.0.0.1", sites.port)
    writer.write(b"GET /big.bin HTTP/1.1\r\nHost: demo.localhost\r\n\r\n")
    await reader.readexactly(1000)
    writer.close()
    await asyncio.sleep(0.05)
    reply = await sites.fetch("/big.bin")
    assert (reply.status, reply.body) == (200, BIG_FILE)


# Logging

@pytest.mark.gen_test
async def test_site_requests_are_logged_without_their_query(sites, caplog):
    with caplog.at_level(logging.INFO, logger="slipway.access"):
        await sites.fetch("/docs/?token=secret")
        await sites.fetch("/missing.js")
    lines = [record.getMessage() for record in caplog.records]
    assert any(line.startswith("200 GET demo.localhost/docs/ ") for line in lines)
    assert any(line.startswith("404 GET demo.localhost/missing.js ") for line in lines)
    assert not any("secret" in line for line in lines)
