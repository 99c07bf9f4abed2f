"""The toolchain of a real build (SPEC, Builds, 4-6), offline: where dependencies are, which
Node image is used, what the install step streams, and what its cache survives. The same
things with real frameworks and the npm registry are in tests/frameworks/."""

from __future__ import annotations

import json

import pytest

from engine.deploys.releases import release_dir
from tests.support.repos import commit_files, make_repo

# An install that writes node_modules as a package manager would, with no registry.
FAKE_INSTALL = ("echo installing-$((6*7)); mkdir -p node_modules/dep && "
                "echo 'module.exports = 42' > node_modules/dep/index.js")
CHECK_DEPENDENCIES = """
const fs = require('fs'), path = require('path');
const modules = path.join(process.cwd(), 'node_modules');
if (fs.lstatSync(modules).isSymbolicLink()) throw new Error('node_modules is a link');
const resolved = fs.realpathSync(require.resolve('dep'));
if (!resolved.startsWith(process.cwd() + '/')) throw new Error('dep resolved to ' + resolved);
fs.mkdirSync('dist', {recursive: true});
fs.writeFileSync('dist/index.html', '<p>dep=' + require('dep') + ' in ' + process.cwd() + '</p>');
"""
PACKAGE = json.dumps({"name": "site", "version": "1.0.0",
                      "scripts": {"build": "node check.js"}})


def _app(**extra: str) -> dict[str, str]:
    return {"package.json": PACKAGE, "check.js": CHECK_DEPENDENCIES, **extra}


def _release(session, build_id: int):
    return release_dir(session.running.app.config.deployments_dir, "site", build_id)


@pytest.mark.gen_test(timeout=120)
async def test_dependencies_are_a_real_directory_inside_the_workspace(builds, tmp_path):
    # Turbopack (Next.js 16) refuses a node_modules reached through a link out of the
    # directory it builds in: installed packages must be where the framework looks.
    session = await builds()
    repo = make_repo(tmp_path / "repo", {"web/" + name: text for name, text in _app().items()})
    project = await session.project(repo, root_dir="web", install_command=FAKE_INSTALL)
    build = await session.finished(project["latest_build"]["id"])
    assert build["status"] == "passed", await session.text(build["id"])
    assert (_release(session, build["id"]) / "index.html").read_text() == \
        "<p>dep=42 in /workspace/web</p>"


@pytest.mark.gen_test(timeout=180)
async def test_the_install_layer_outlives_commits_that_change_only_sources(builds, tmp_path):
    session = await builds()
    repo = make_repo(tmp_path / "repo", _app(**{"src.txt": "one"}))
    project = await session.project(repo, install_command=FAKE_INSTALL)
    first = await session.finished(project["latest_build"]["id"])
    assert first["status"] == "passed", await session.text(first["id"])
    assert await _installed(session, first)

    commit_files(repo, {"src.txt": "two"})
    second = await session.rebuild(project["id"])
    assert second["status"] == "passed", await session.text(second["id"])
    assert not await _installed(session, second)

    commit_files(repo, {"package.json": PACKAGE.replace("1.0.0", "1.0.1")})
    third = await session.rebuild(project["id"])
    assert await _installed(session, third), "a changed manifest reinstalls"


@pytest.mark.gen_test(timeout=120)
async def test_the_install_steps_stderr_is_marked_as_errors(builds, tmp_path):
    session = await builds()
    repo = make_repo(tmp_path / "repo", _app())
    project = await session.project(
        repo, install_command="echo fetching; echo 'npm error 404 Not Found' >&2; exit 1")
    build = await session.finished(project["latest_build"]["id"])
    assert build["status"] == "failed"
    streams = {line["log"]: line["stream"] for line in await session.logs(build["id"])}
    assert streams["npm error 404 Not Found"] == "build_stderr"
    assert streams["fetching"] == "build_stdout"


@pytest.mark.gen_test(timeout=120)
async def test_the_node_image_is_chosen_by_major(builds, tmp_path, node_image, docker_client):
    # Only Node 24's image exists under this template: engines.node chooses it, and the
    # project's node_version setting, asking for 20, names the image it lacks.
    template = "slipway-test/node-by-major:{major}"
    docker_client.images.get(node_image).tag("slipway-test/node-by-major", "24")
    try:
        session = await builds(node_image=template)
        repo = make_repo(tmp_path / "repo", _app(**{
            "package.json": json.dumps({**json.loads(PACKAGE), "engines": {"node": ">=23"}})}))
        project = await session.project(repo, install_command=FAKE_INSTALL)
        build = await session.finished(project["latest_build"]["id"])
        text = await session.text(build["id"])
        assert build["status"] == "passed", text
        assert ("Node 24 (the highest offered major satisfying engines.node '>=23' in "
                "package.json)") in text

        changed = await session.api.request("PATCH", f"/api/projects/{project['id']}",
                                          json_body={"node_version": 20},
                                          headers=session.owner.headers)
        assert changed.status == 200 and changed.json()["node_version"] == 20
        pinned = await session.rebuild(project["id"])
        assert pinned["status"] == "failed"
        assert "slipway-test/node-by-major:20" in pinned["error"]
        assert "Node 20 (node_version in project settings)" in await session.text(pinned["id"])
    finally:
        docker_client.images.remove("slipway-test/node-by-major:24")


@pytest.mark.gen_test(timeout=60)
async def test_a_node_version_not_offered_is_refused_by_the_api(builds, tmp_path):
    session = await builds()
    repo = make_repo(tmp_path / "repo", {"index.html": "<h1>hi</h1>"})
    response = await session.api.post("/api/projects", json_body={
        "name": "site", "repo_url": str(repo), "node_version": 18}, headers=session.owner.headers)
    assert response.status == 400
    error = response.json()["error"]
    assert error["field"] == "node_version" and "20, 22, 24" in error["message"]


async def _installed(session, build: dict) -> bool:
    """Whether the install command ran in this build (rather than its layer being reused)."""
    return any(line["log"] == "installing-42" for line in await session.logs(build["id"]))
