"""The dashboard's files over real HTTP: a built app in a temporary dist directory, its assets,
the history fallback for client routes, caching, and paths that must not leave the build."""

from __future__ import annotations

import gzip
import os

import pytest
from tornado.httpclient import AsyncHTTPClient

from tests.support.app import start_app, stop_app
from tests.support.http import ApiClient

INDEX = b'<!doctype html><div id="app"></div><script src="/assets/index-D_1pQ7xR.js"></script>'
SCRIPT = b"console.log('dashboard');\n" * 100
IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.fixture
def dist(tmp_path):
    """A build as Vite writes it, a secret outside it, and links trying to reach the secret."""
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_bytes(INDEX)
    (root / "assets" / "index-D_1pQ7xR.js").write_bytes(SCRIPT)
    (root / "assets" / "index-Bk3mQ9zT.css").write_text("body{color:red}")
    (root / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (root / ".env").write_text("SECRET=1")
    (tmp_path / "secret.txt").write_text("outside")
    os.symlink(tmp_path / "secret.txt", root / "escape.txt")
    os.symlink(tmp_path, root / "outside")
    os.symlink(root / ".env", root / "env.txt")
    return root


@pytest.fixture
def dashboard(config, io_loop, dist):
    running = start_app(config, io_loop, dashboard_dir=dist)
    client = ApiClient(running.url)
    client.running = running
    yield client
    client.close()
    stop_app(running, io_loop)


@pytest.fixture
def unbuilt_dashboard(config, io_loop, tmp_path):
    running = start_app(config, io_loop, dashboard_dir=tmp_path / "not-built")
    client = ApiClient(running.url)
    yield client
    client.close()
    stop_app(running, io_loop)


async def _fetch_raw(dashboard, path, **options):
    """A request whose answer is not decompressed (ApiClient asks for gzip and inflates it)."""
    client = AsyncHTTPClient(force_instance=True)
    try:
        return await client.fetch(dashboard.running.url + path, decompress_response=False,
                                  **options)
    finally:
        client.close()


def _assert_security_headers(response):
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.gen_test
@pytest.mark.parametrize("path", ["/", "/projects/3", "/builds/9", "/login", "/new",
                                  "/projects/3/settings/", "/assets", "/login?next=/x"])
async def test_the_root_and_client_routes_get_the_index_uncached(dashboard, path):
    response = await dashboard.get(path)
    assert response.status == 200
    assert response.body == INDEX
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-cache"
    _assert_security_headers(response)


@pytest.mark.gen_test
async def test_hashed_assets_are_immutable_with_their_type(dashboard):
    script = await dashboard.get("/assets/index-D_1pQ7xR.js")
    assert script.status == 200
    assert script.body == SCRIPT
    assert script.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert script.headers["Cache-Control"] == IMMUTABLE
    _assert_security_headers(script)
    style = await dashboard.get("/assets/index-Bk3mQ9zT.css")
    assert style.headers["Content-Type"] == "text/css; charset=utf-8"
    assert style.headers["Cache-Control"] == IMMUTABLE


@pytest.mark.gen_test
async def test_other_files_are_served_and_revalidated(dashboard):
    response = await dashboard.get("/favicon.svg")
    assert response.status == 200
    assert response.headers["Content-Type"] == "image/svg+xml; charset=utf-8"
    assert response.headers["Cache-Control"] == "public, max-age=0, must-revalidate"


@pytest.mark.gen_test
async def test_an_unchanged_file_answers_304_to_its_etag(dashboard):
    first = await dashboard.get("/assets/index-D_1pQ7xR.js")
    etag = first.headers["Etag"]
    again = await dashboard.get("/assets/index-D_1pQ7xR.js", headers={"If-None-Match": etag})
    assert again.status == 304
    assert again.body == b""
    assert again.headers["Etag"] == etag
    index = await dashboard.get("/projects/1")
    assert (await dashboard.get("/", headers={"If-None-Match": index.headers["Etag"]})
            ).status == 304


@pytest.mark.gen_test
async def test_a_rebuilt_index_is_served_at_once_with_a_new_etag(dashboard, dist):
    first = await dashboard.get("/")
    (dist / "index.html").write_bytes(INDEX + b"<!-- rebuilt, longer -->")
    second = await dashboard.get("/", headers={"If-None-Match": first.headers["Etag"]})
    assert second.status == 200
    assert second.body.endswith(b"<!-- rebuilt, longer -->")


@pytest.mark.gen_test
async def test_text_is_gzipped_for_clients_that_accept_it(dashboard):
    plain = await _fetch_raw(dashboard, "/assets/index-D_1pQ7xR.js")
    zipped = await _fetch_raw(dashboard, "/assets/index-D_1pQ7xR.js",
                              headers={"Accept-Encoding": "gzip"})
    assert plain.body == SCRIPT and "Content-Encoding" not in plain.headers
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(zipped.body) == SCRIPT
    assert zipped.headers["Etag"] != plain.headers["Etag"]


@pytest.mark.gen_test
async def test_head_answers_the_headers_without_a_body(dashboard):
    response = await _fetch_raw(dashboard, "/assets/index-D_1pQ7xR.js", method="HEAD")
    assert response.code == 200
    assert response.body == b""
    assert response.headers["Content-Length"] == str(len(SCRIPT))
    assert response.headers["Cache-Control"] == IMMUTABLE


@pytest.mark.gen_test
@pytest.mark.parametrize("path", ["/assets/missing.js", "/assets/index-OLDHASH1.css",
                                  "/robots.txt", "/projects/3/logo.png"])
async def test_a_missing_file_with_an_extension_is_a_plain_404(dashboard, path):
    response = await dashboard.get(path)
    assert response.status == 404
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert b"app" not in response.body
    _assert_security_headers(response)


@pytest.mark.gen_test
@pytest.mark.parametrize("path", [
    "/.env", "/../secret.txt", "/%2e%2e/secret.txt", "/assets/%2e%2e/%2e%2e/secret.txt",
    "/assets%2f..%2f..%2fsecret.txt", "/escape.txt", "/outside/secret.txt", "/outside",
    "/env.txt", "/%00", "/assets/..%5c..%5csecret.txt", "/.git/config",
])
async def test_paths_never_leave_the_build(dashboard, path):
    response = await dashboard.get(path)
    assert response.status in (400, 404)
    assert b"outside" not in response.body and b"SECRET" not in response.body
    assert response.body != INDEX


@pytest.mark.gen_test
@pytest.mark.parametrize("path", ["/socket.io/anything-else", "/socket.io/x/y", "/api/",
                                  "/socket.io"])
async def test_api_and_socket_io_paths_never_get_the_app(dashboard, path):
    response = await dashboard.get(path)
    assert response.status == 404
    assert response.body != INDEX


@pytest.mark.gen_test
async def test_avatars_may_come_from_the_configured_github_even_over_http(dashboard, github):
    # Real GitHub avatars are https; a GitHub Enterprise (or the tests' fake) may be http.
    assert github.url.startswith("http://")
    policy = (await dashboard.get("/")).headers["Content-Security-Policy"]
    assert f"img-src 'self' data: https: {github.url};" in policy


@pytest.mark.gen_test
async def test_before_the_build_client_routes_say_it_is_not_built(unbuilt_dashboard):
    response = await unbuilt_dashboard.get("/projects/1")
    assert response.status == 200
    assert b"has not been built yet" in response.body
    assert response.headers["Cache-Control"] == "no-cache"
    _assert_security_headers(response)
    assert (await unbuilt_dashboard.get("/assets/index-D_1pQ7xR.js")).status == 404
