"""`GET /api/health`: the database's and the engine's state, cheap to ask often."""

import asyncio
import logging
from dataclasses import replace
from pathlib import Path

import pytest

from engine import __version__
from tests.support.app import close_app, open_app, start_app, stop_app
from tests.support.http import ApiClient
from tests.support.proxies import CountingUnixProxy

DOCKER_SOCKET = Path("/var/run/docker.sock")


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


@pytest.mark.gen_test
async def test_health_names_a_build_network_the_engine_does_not_have(config, io_loop,
                                                                     docker_client):
    running = await open_app(replace(config, build_network="slipway-no-such-network"))
    client = ApiClient(running.url)
    try:
        body = (await client.get("/api/health")).json()
    finally:
        client.close()
        await close_app(running)
    assert body["status"] == "degraded"
    assert body["docker"] == ("the Docker engine has no network 'slipway-no-such-network' "
                              "(SLIPWAY_BUILD_NETWORK): builds will fail until it exists")


@pytest.mark.gen_test
async def test_start_up_warns_when_builds_cannot_run(config, caplog, tmp_path):
    missing = f"unix://{tmp_path}/no-docker.sock"
    with caplog.at_level(logging.WARNING, logger="engine.builds.build_queue"):
        running = await open_app(replace(config, docker_host=missing), run_builds=True)
        await close_app(running)
    assert (f"Docker engine not reachable at {missing}: No such file or directory; builds "
            "will fail until this is fixed") in caplog.text


@pytest.mark.gen_test
async def test_frequent_health_checks_share_one_look_at_the_engine(config, tmp_path,
                                                                  docker_client):
    # The engine behind a counting proxy: each look at it opens a connection.
    proxy = CountingUnixProxy(tmp_path / "docker.sock", DOCKER_SOCKET)
    await proxy.start()
    running = await open_app(replace(config, docker_host=f"unix://{proxy.path}"))
    client = ApiClient(running.url)
    try:
        answers = await asyncio.gather(*(client.get("/api/health") for _ in range(50)))
        for _ in range(50):
            answers.append(await client.get("/api/health"))
    finally:
        client.close()
        await close_app(running)
        await proxy.close()
    assert {a.json()["docker"] for a in answers} == {"ok"}
    assert proxy.connections <= 3, f"{proxy.connections} connections for 100 health checks"
