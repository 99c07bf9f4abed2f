"""A build in flight while the database is away (its network cut) ends with a reason once the
database is back, instead of staying `running` until a restart."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.support.repos import make_repo


@pytest.mark.gen_test(timeout=120)
async def test_a_build_in_flight_during_an_outage_ends_with_a_reason(builds, database_proxy,
                                                                    tmp_path):
    session = await builds(database_url=database_proxy.url)
    repo = make_repo(tmp_path / "repo", {"index.html": "x"})
    project = await session.project(repo, build_command="echo started; sleep 3; mkdir dist",
                                    output_dir="dist")
    build_id = project["latest_build"]["id"]
    deadline = time.monotonic() + 30
    while "started" not in await session.text(build_id):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)

    await database_proxy.cut()
    await asyncio.sleep(6)  # the build ends while the database is away
    await database_proxy.restore()
    deadline = time.monotonic() + 20
    while True:
        response = await session.api.get(f"/api/builds/{build_id}",
                                         headers=session.owner.headers)
        if response.status == 200 and response.json()["status"] not in ("queued", "running"):
            break
        assert time.monotonic() < deadline, "the build stayed running after the outage"
        await asyncio.sleep(0.2)
    build = response.json()
    assert build["status"] in ("passed", "failed")
    if build["status"] == "failed":
        assert build["error"], build
