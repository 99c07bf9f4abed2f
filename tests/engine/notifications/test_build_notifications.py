"""Notifications from real builds: the engine's own events queue them, and a target that is
down changes nothing about the build."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from dataclasses import replace

import pytest

from tests.support.accounts import sign_in_local_admin
from tests.support.app import close_app, open_app
from tests.support.builds import Builds
from tests.support.http import ApiClient
from tests.support.receiver import Receiver, closed_port_url
from tests.support.repos import make_repo

ALL_EVENTS = ["deploy_succeeded", "deploy_failed", "build_started"]


@pytest.fixture
def session(config, io_loop, docker_client):
    """An app running builds, with the local administrator signed in. A static site needs
    no image: the build is a clone and a copy."""
    running = io_loop.run_sync(lambda: open_app(replace(config, build_timeout=60),
                                                run_builds=True))
    api = ApiClient(running.url)
    yield Builds(running, api, io_loop.run_sync(lambda: sign_in_local_admin(running, api)))
    api.close()
    io_loop.run_sync(lambda: close_app(running), timeout=60)


async def _project_notifying(session, tmp_path, url: str, format: str = "json") -> dict:
    """A project whose first build has ended, then a notification of every event."""
    repo = make_repo(tmp_path / "repo", {"index.html": "<h1>hello</h1>"})
    project = await session.project(repo)
    await session.finished(project["latest_build"]["id"])
    return {**project, "notification": await _add_notification(session, project, url, format)}


async def _add_notification(session, project, url: str, format: str = "json") -> dict:
    response = await session.api.post(
        f"/api/projects/{project['id']}/notifications", headers=session.owner.headers,
        json_body={"url": url, "events": ALL_EVENTS, "format": format})
    assert response.status == 201, response.body
    return response.json()["notification"]


async def _attempted(session, project, count: int, seconds: float = 20) -> list[dict]:
    """The delivery log once `count` deliveries have been attempted at least once."""
    deadline = time.monotonic() + seconds
    while True:
        log = await _log(session, project)
        if len(log) >= count and all(d["attempts"] > 0 for d in log):
            return log
        assert time.monotonic() < deadline, f"not attempted yet: {log}"
        await asyncio.sleep(0.05)


async def _log(session, project) -> list[dict]:
    path = (f"/api/projects/{project['id']}/notifications/{project['notification']['id']}"
            "/deliveries")
    return (await session.api.get(path, headers=session.owner.headers)).json()


@pytest.mark.gen_test(timeout=120)
async def test_a_build_notifies_when_it_starts_and_when_it_is_live(session, tmp_path):
    receiver = Receiver()
    try:
        project = await _project_notifying(session, tmp_path, receiver.url)
        build = await session.rebuild(project["id"])
        requests = await receiver.received(2)
    finally:
        await receiver.close()

    assert build["status"] == "passed"
    payloads = {r.headers["X-Slipway-Event"]: json.loads(r.body) for r in requests}
    assert set(payloads) == {"build_started", "deploy_succeeded"}
    started, live = payloads["build_started"], payloads["deploy_succeeded"]
    assert started["build"]["id"] == live["build"]["id"] == build["id"]
    assert started["build"]["status"] == "running"
    assert live["build"]["status"] == "passed"
    assert live["build"]["commit_sha"] == build["commit_sha"]
    [deployment] = [d for d in (await session.api.get(
        f"/api/projects/{project['id']}/deployments", headers=session.owner.headers)).json()
        if d["build_id"] == build["id"]]
    assert live["deployment"] == {"id": deployment["id"], "url": deployment["url"]}


@pytest.mark.gen_test(timeout=120)
async def test_a_failed_build_notifies_with_its_reason(config, io_loop, tmp_path):
    receiver = Receiver()
    running = await open_app(replace(config, docker_host=f"unix://{tmp_path}/no-docker.sock"),
                             run_builds=True)
    api = ApiClient(running.url)
    try:
        session = Builds(running, api, await sign_in_local_admin(running, api))
        project = await _project_notifying(session, tmp_path, receiver.url, "discord")
        build = await session.rebuild(project["id"])
        requests = await receiver.received(2)
    finally:
        api.close()
        await close_app(running)
        await receiver.close()

    assert build["status"] == "failed"
    failed = [json.loads(r.body) for r in requests if r.headers["X-Slipway-Event"]
              == "deploy_failed"]
    [embed] = failed[0]["embeds"]
    assert embed["title"] == "site: build failed"
    assert "Docker engine not reachable" in embed["description"]


@pytest.mark.gen_test(timeout=120)
async def test_targets_that_hang_or_are_down_change_nothing_about_the_build(session, tmp_path):
    hanging = socket.socket()  # accepts connections (the kernel does) and never answers
    hanging.bind(("127.0.0.1", 0))
    hanging.listen(8)
    try:
        project = await _project_notifying(
            session, tmp_path, f"http://127.0.0.1:{hanging.getsockname()[1]}/hook")
        down = await _add_notification(session, project, closed_port_url())
        build = await session.rebuild(project["id"])

        assert build["status"] == "passed" and build["error"] is None
        # The build ended while its notifications were still being sent (10 s timeout).
        in_flight = await _log(session, project)
        assert {d["event"] for d in in_flight} == {"build_started", "deploy_succeeded"}
        assert all(d["attempts"] == 0 for d in in_flight)
        refused = await _attempted(session, {**project, "notification": down}, 2)
    finally:
        hanging.close()
    assert all(d["status"] == "pending" and d["response_status"] is None for d in refused)
    assert all("refused" in d["error"].lower() for d in refused), refused  # retried later
