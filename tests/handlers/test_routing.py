"""Which part of Slipway answers: sites by Host first, then Socket.io, the API, the dashboard."""

import json

import pytest


async def _get(api, path, host):
    return await api.get(path, headers={"Host": host})


@pytest.mark.gen_test
@pytest.mark.parametrize(
    "host",
    ["demo.localhost", "DEMO.LocalHost:8080", "demo.localhost.", "demo.localhost.:443",
     "42--demo.localhost", "git-feature-x--demo.localhost"],
)
async def test_hosts_under_the_domain_go_to_sites(api, host):
    response = await _get(api, "/index.html", host)
    assert response.status == 404
    assert response.headers["Content-Type"].startswith("text/html")
    assert b"No site is published" in response.body


@pytest.mark.gen_test
@pytest.mark.parametrize("host", ["localhost", "localhost:8080", "127.0.0.1", "www.localhost",
                                  "API.localhost", "app.localhost.", "example.com"])
async def test_other_hosts_and_reserved_names_get_the_dashboard(api, host):
    response = await _get(api, "/projects/7", host)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.gen_test
async def test_site_hosts_never_reach_the_api(api):
    response = await _get(api, "/api/health", "demo.localhost")
    assert response.status == 404
    assert b"No site is published" in response.body


@pytest.mark.gen_test
@pytest.mark.parametrize("path", ["/api/projects/x/y", "/api"])
async def test_api_paths_never_fall_back_to_the_dashboard(api, path):
    response = await _get(api, path, "localhost")
    assert response.status == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.gen_test
async def test_socket_io_is_mounted_before_the_dashboard(api):
    response = await api.get("/socket.io/?EIO=4&transport=polling")
    # Engine.IO answers its own handshake (an "0{...}" open packet), not the dashboard's HTML.
    assert response.status == 200
    assert response.body.startswith(b"0{")
    sid = json.loads(response.body[1:])["sid"]
    await api.post(f"/socket.io/?EIO=4&transport=polling&sid={sid}", body=b"1")  # close packet
