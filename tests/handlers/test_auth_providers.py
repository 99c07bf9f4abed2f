"""`GET /api/auth/providers`: the dashboard asks which sign-in buttons to show."""

import pytest

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
    assert response.json() == {"github": True}
    assert FakeGitHub.CLIENT_ID.encode() not in response.body


@pytest.mark.gen_test
async def test_without_an_oauth_app_github_is_not_offered(api):
    response = await api.get("/api/auth/providers")
    assert response.status == 200
    assert response.json() == {"github": False}
