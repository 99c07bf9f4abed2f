from dataclasses import replace

import pytest

from engine import __version__
from tests.support.app import start_app, stop_app
from tests.support.http import ApiClient


@pytest.mark.gen_test
async def test_health_reports_database_and_docker_ok(api, docker_client):
    response = await api.get("/api/health")
    assert response.status == 200
    assert response.json() == {"status": "ok", "db": "ok", "docker": "ok",
                               "version": __version__}


@pytest.fixture
def app_without_docker(config, io_loop, tmp_path):
    missing = f"unix://{tmp_path}/no-docker.sock"
    running = start_app(replace(config, docker_host=missing), io_loop)
    client = ApiClient(running.url)
    yield client, missing
    client.close()
    stop_app(running, io_loop)


@pytest.mark.gen_test
async def test_health_without_docker_reports_the_reason_and_still_answers(app_without_docker):
    client, missing = app_without_docker
    response = await client.get("/api/health")
    assert response.status == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["db"] == "ok"
    assert body["docker"] == f"Docker engine not reachable at {missing}: No such file or directory"


@pytest.mark.gen_test
async def test_health_with_database_down_is_a_503(api, app_server, postgres, io_loop):
    await app_server.app.db.pool.close()
    response = await api.get("/api/health")
    assert response.status == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["db"].startswith("database not reachable")
