"""Deleting a project while it builds, or when its site's files cannot be removed: nothing of
it stays served, and a refused deletion loses nothing. Real builds, real files, real API."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.builds import Builds
from tests.support.repos import make_repo

INDEX = "<h1>site</h1>"
SLOW_BUILD = "echo started; sleep 3; mkdir -p dist && cp index.html dist/"


async def _served(session: Builds, label: str) -> int:
    """The status a visitor of `<label>.localhost` gets."""
    response = await session.api.get("/", headers={
        "Host": f"{label}.localhost:{session.running.port}"})
    return response.status


async def _wait_for_line(session: Builds, build_id: int, line: str) -> None:
    deadline = time.monotonic() + 60
    while line not in [entry["log"] for entry in await session.logs(build_id)]:
        assert time.monotonic() < deadline, f"{line!r} never appeared"
        await asyncio.sleep(0.1)


def _leftovers(deployments: Path) -> list[str]:
    return sorted(path.name for path in deployments.iterdir()) if deployments.exists() else []


@pytest.mark.gen_test(timeout=120)
async def test_deleting_a_project_while_it_builds_leaves_nothing_published(builds, tmp_path,
                                                                          caplog):
    session = await builds()
    repo = make_repo(tmp_path / "repo", {"index.html": INDEX})
    project = await session.project(repo, build_command=SLOW_BUILD, output_dir="dist")
    build_id = project["latest_build"]["id"]
    await _wait_for_line(session, build_id, "started")

    response = await session.api.request("DELETE", f"/api/projects/{project['id']}",
                                         headers=session.owner.headers)
    assert response.status == 204
    await asyncio.sleep(4)  # past the moment the build would have published

    deployments = session.running.app.config.deployments_dir
    assert _leftovers(deployments) == []
    assert await _served(session, "site") == 404
    assert await _served(session, f"{build_id}--site") == 404
    assert "ForeignKeyViolation" not in caplog.text


@pytest.mark.gen_test(timeout=120)
async def test_a_new_project_with_a_deleted_ones_name_serves_nothing_of_the_old_one(builds,
                                                                                   tmp_path):
    session = await builds()
    repo = make_repo(tmp_path / "repo", {"index.html": INDEX})
    old = await session.project(repo, build_command=SLOW_BUILD, output_dir="dist")
    old_build = old["latest_build"]["id"]
    await _wait_for_line(session, old_build, "started")
    response = await session.api.request("DELETE", f"/api/projects/{old['id']}",
                                         headers=session.owner.headers)
    assert response.status == 204
    await asyncio.sleep(4)  # past the moment the old build would have published

    new = await session.project(repo, build_command="exit 1", output_dir="dist")
    failed = await session.finished(new["latest_build"]["id"])
    assert failed["status"] == "failed"
    assert await _served(session, "site") == 404
    assert await _served(session, f"{old_build}--site") == 404


@contextlib.contextmanager
def _immutable(path: Path):
    """The directory cannot be renamed or changed, even by root, while inside."""
    subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@pytest.mark.gen_test(timeout=120)
async def test_a_project_whose_site_cannot_be_removed_is_not_deleted(builds, tmp_path):
    session = await builds()
    repo = make_repo(tmp_path / "repo", {"index.html": INDEX})
    project = await session.project(repo)
    assert (await session.finished(project["latest_build"]["id"]))["status"] == "passed"
    site = session.running.app.config.deployments_dir / "site"

    with _immutable(site):
        response = await session.api.request("DELETE", f"/api/projects/{project['id']}",
                                             headers=session.owner.headers)
        assert response.status == 503
        assert "nothing was deleted" in response.json()["error"]["message"]
        assert await _served(session, "site") == 200
    kept = await session.api.get(f"/api/projects/{project['id']}",
                                 headers=session.owner.headers)
    assert kept.status == 200
    again = await session.api.request("DELETE", f"/api/projects/{project['id']}",
                                      headers=session.owner.headers)
    assert again.status == 204
    assert await _served(session, "site") == 404
