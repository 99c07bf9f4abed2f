"""HTTPS end to end: a TLS client asking Slipway for a name gets a certificate Pebble issued on
demand (validated over HTTP-01 through Slipway's plain-HTTP port), chained to Pebble's root,
and the page behind it; a name Slipway does not serve gets no certificate and no CA request.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Iterator

import pytest
import tornado.netutil

from engine.tls.certificates import AcmeSettings, Certificates
from engine.tls.tls_contexts import TLSContexts
from handlers.https_server import HTTPSServer
from tests.support import pebble as pebble_support
from tests.support.repos import make_repo
from tests.support.sites import publish_site

SERVED = {"demo.localhost", "dashboard.example.test", "git-feature--demo.localhost"}


@pytest.fixture
def ca(tmp_path, app_server) -> Iterator[pebble_support.Pebble]:
    with pebble_support.running(tmp_path / "pebble", http_port=app_server.port) as pebble:
        yield pebble


@pytest.fixture
def https(app_server, ca, tmp_path, io_loop):
    app = app_server.app
    certificates = Certificates(app.db.pool, app.keys.box, AcmeSettings(
        ca.directory_url, "ops@example.test", str(ca.directory_ca)))

    async def allowed(name: str) -> bool:
        return name in SERVED

    contexts = TLSContexts(certificates, allowed, tmp_path / "tls")
    server = HTTPSServer(app, tls=contexts)
    [sock] = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server.add_sockets([sock])
    server.port = sock.getsockname()[1]
    server.certificates = certificates
    yield server
    server.stop()
    io_loop.run_sync(server.close_all_connections)


def _trusting(ca) -> ssl.SSLContext:
    context = ssl.create_default_context(cadata=ca.issuing_root_pem())
    return context


async def _get(port: int, name: str, path: str, context: ssl.SSLContext) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context,
                                                   server_hostname=name)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n"
                     .encode())
        return await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()


@pytest.mark.gen_test(timeout=90)
async def test_a_site_is_served_over_https_with_a_certificate_issued_on_demand(
        https, ca, app_server, capsys):
    publish_site(app_server.app.config.deployments_dir, "demo",
                 {"index.html": "<h1>demo over https</h1>"})

    started = time.monotonic()
    answer = await _get(https.port, "demo.localhost", "/", _trusting(ca))
    first = time.monotonic() - started
    started = time.monotonic()
    again = await _get(https.port, "demo.localhost", "/", _trusting(ca))
    second = time.monotonic() - started

    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"<h1>demo over https</h1>")
    assert again.startswith(b"HTTP/1.1 200 ")
    status = await https.certificates.status("demo.localhost")
    assert status["status"] == "issued"
    with capsys.disabled():
        print(f"\nfirst https request (issuance included): {first:.2f} s, next: {second:.3f} s")


@pytest.mark.gen_test(timeout=90)
async def test_a_protected_previews_cookie_is_secure_over_https(https, ca, app_server, api,
                                                                owner, tmp_path):
    created = await api.post("/api/projects", headers=owner.headers, json_body={
        "name": "demo", "repo_url": str(make_repo(tmp_path / "demo", {"index.html": "x"}))})
    await api.request("PATCH", f"/api/projects/{created.json()['id']}", headers=owner.headers,
                      json_body={"preview_password": "open sesame 42"})
    form = b"password=open+sesame+42&next=%2F"
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", https.port, ssl=_trusting(ca), server_hostname="git-feature--demo.localhost")
    try:
        writer.write(b"POST /.slipway/unlock HTTP/1.1\r\nHost: git-feature--demo.localhost\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(form), form))
        answer = await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 303 ")
    [set_cookie] = [line for line in answer.split(b"\r\n") if line.startswith(b"Set-Cookie:")]
    assert b"; Secure" in set_cookie and b"HttpOnly" in set_cookie


@pytest.mark.gen_test(timeout=90)
async def test_the_dashboard_host_is_served_over_https(https, ca):
    answer = await _get(https.port, "dashboard.example.test", "/api/health", _trusting(ca))
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert b'"status"' in answer


@pytest.mark.gen_test(timeout=60)
@pytest.mark.parametrize("name", ["evil.example.test", "unknown.localhost"])
async def test_a_name_slipway_does_not_serve_gets_no_certificate_and_no_ca_request(
        https, ca, name):
    with pytest.raises(ssl.SSLError):
        await _get(https.port, name, "/", _trusting(ca))
    assert await https.certificates.status(name) is None


@pytest.mark.gen_test(timeout=60)
async def test_a_client_that_never_says_hello_is_dropped_without_harm(https, ca):
    reader, writer = await asyncio.open_connection("127.0.0.1", https.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: demo.localhost\r\n\r\n")  # plain HTTP to TLS
    # Closed with nothing answered (a reset, as the request was left unread).
    with contextlib.suppress(ConnectionResetError):
        assert await asyncio.wait_for(reader.read(), 15) == b""
    writer.close()
    silent = await asyncio.open_connection("127.0.0.1", https.port)  # never sends anything
    answer = await _get(https.port, "dashboard.example.test", "/api/health", _trusting(ca))
    assert answer.startswith(b"HTTP/1.1 200 ")
    silent[1].close()
