"""Real database outages: the embedded server killed, an external server's network cut. The API
answers 503 quickly while the database is away and recovers by itself when it is back."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import replace

import pytest

from tests.support.accounts import sign_in_local_admin
from tests.support.app import close_app, open_app
from tests.support.http import ApiClient
from tests.support.repos import make_repo


async def _timed_get(api: ApiClient, path: str, headers: dict) -> tuple[int, float, dict]:
    started = time.monotonic()
    response = await api.get(path, headers=headers)
    return response.status, time.monotonic() - started, response.json()


@pytest.mark.gen_test(timeout=90)
async def test_an_unreachable_database_is_a_quick_503_and_the_api_recovers_without_restart(
        config, database_proxy):
    running = await open_app(replace(config, database_url=database_proxy.url))
    api = ApiClient(running.url)
    try:
        owner = await sign_in_local_admin(running, api)
        assert (await api.get("/api/me", headers=owner.headers)).status == 200

        await database_proxy.cut()
        for _ in range(3):
            status, seconds, body = await _timed_get(api, "/api/me", owner.headers)
            assert status == 503
            assert seconds < 3.0, f"the answer took {seconds:.1f} s"
            assert body["error"]["code"] == "database_unavailable"
        health = await api.get("/api/health")
        assert health.status == 503 and health.json()["db"].startswith("database not reach")

        await database_proxy.restore()
        deadline = time.monotonic() + 15
        while (await api.get("/api/me", headers=owner.headers)).status != 200:
            assert time.monotonic() < deadline, "the API did not come back"
            await asyncio.sleep(0.2)
        assert (await api.get("/api/projects", headers=owner.headers)).status == 200
    finally:
        api.close()
        await close_app(running)


@pytest.mark.gen_test(timeout=120)
async def test_a_killed_embedded_database_is_restarted_by_slipway(config, tmp_path):
    running = await open_app(replace(config, database_url=None, data_dir=tmp_path / "own"))
    api = ApiClient(running.url)
    try:
        owner = await sign_in_local_admin(running, api)
        pid_file = tmp_path / "own" / "pg" / "postmaster.pid"
        killed = int(pid_file.read_text().split()[0])
        os.kill(killed, signal.SIGKILL)

        deadline = time.monotonic() + 60
        while True:
            status, seconds, _ = await _timed_get(api, "/api/me", owner.headers)
            assert status in (200, 503), status
            assert seconds < 3.0, f"the answer took {seconds:.1f} s"
            if status == 200 and pid_file.exists() and \
                    int(pid_file.read_text().split()[0]) != killed:
                break
            assert time.monotonic() < deadline, "the embedded database never came back"
            await asyncio.sleep(0.2)
        created = await api.post("/api/projects", headers=owner.headers, json_body={
            "name": "after", "repo_url": str(make_repo(tmp_path / "repo", {"a.html": "a"}))})
        assert created.status == 201, created.body
    finally:
        api.close()
        await close_app(running)
