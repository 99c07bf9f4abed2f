"""`GET /api/auth/providers`: the dashboard asks which sign-in buttons to show, and where
sites live (a new project's address, shown before it has one)."""

import pytest

from handlers.models import sites_model
from tests.support.app import start_app, stop_app
from tests.support.fake_github import FakeGitHub
from tests.support.http import ApiClient


@pytest.fixture
def oauth_api(oauth_config, io_loop):
    running = start_app(oauth_config, io_loop)
    client = ApiClient(running.url)
    yield client
    client.close()
    stop_app(running, io_loop)


@pytest.mark.gen_test
async def test_github_is_offered_when_its_oauth_app_is_configured(oauth_api):
    response = await oauth_api.get("/api/auth/providers")
    assert response.status == 200
    assert response.json()["github"] is True
    assert FakeGitHub.CLIENT_ID.encode() not in response.body


@pytest.mark.gen_test
async def test_without_an_oauth_app_github_is_not_offered(api):
    response = await api.get("/api/auth/providers")
    assert response.status == 200
    assert response.json()["github"] is False


@pytest.mark.gen_test
async def test_sites_are_described_as_their_addresses_are_made(app_server, api):
    """`http://127.0.0.1:<port>` serves `<project>.localhost:<port>` (SLIPWAY_DOMAIN)."""
    response = await api.get("/api/auth/providers")
    assert response.json()["sites"] == {"scheme": "http", "domain": "localhost",
                                        "port": app_server.port}


def test_a_sites_default_port_is_left_out():
    assert sites_model("https://slipway.example.com", "sites.example.com") == {
        "scheme": "https", "domain": "sites.example.com", "port": None}
