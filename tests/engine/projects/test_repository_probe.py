"""A project's repository is asked, with `git ls-remote`, when the project is created or pointed
elsewhere: the branch it builds is one the remote has (its HEAD when none is named), and a
repository or branch git cannot reach is refused at once with git's reason (422), rather than
failing the first build. Everything through the real API, against real Git remotes: local
repositories, the fake GitHub, a closed port and a server that never answers."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time

import pytest

from tests.support.accounts import sign_in_github_user, sign_in_local_admin
from tests.support.hostile import SilentServer, processes_mentioning
from tests.support.repos import add_branch, make_repo

SITE = {"index.html": "<p>hello</p>"}


@pytest.fixture
def admin(app_server, api, io_loop):
    """The local administrator, who may name a path on this machine or any address."""
    return io_loop.run_sync(lambda: sign_in_local_admin(app_server, api))


async def _create(api, who, **body):
    return await api.post("/api/projects", json_body=body, headers=who.headers)


async def _project_names(api, who) -> list[str]:
    response = await api.get("/api/projects", headers=who.headers)
    assert response.status == 200, response.body
    return [project["name"] for project in response.json()]


def _refused(response, field: str) -> str:
    """The message of a 422 refusal of `field`."""
    assert response.status == 422, response.body
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("refused", field), error
    return error["message"]


def _closed_port() -> int:
    """A port of 127.0.0.1 that nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _head(repo) -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, check=True,
                          capture_output=True, text=True).stdout.strip()


# -- the branch a project builds ---------------------------------------------------------------

@pytest.mark.gen_test(timeout=120)
async def test_without_a_branch_a_repository_on_master_builds_master(builds, tmp_path):
    session = await builds()
    repo = make_repo(tmp_path / "repo", {"index.html": "<p>on master</p>"}, branch="master")

    project = await session.project(repo)  # no branch named

    assert project["branch"] == "master"
    assert project["latest_build"]["branch"] == "master"
    build = await session.finished(project["latest_build"]["id"])
    assert build["status"] == "passed", await session.text(build["id"])
    assert (build["branch"], build["commit_sha"]) == ("master", _head(repo))


@pytest.mark.gen_test
async def test_a_named_branch_the_repository_has_is_kept(api, admin, tmp_path):
    repo = make_repo(tmp_path / "repo", SITE)
    add_branch(repo, "release/2")
    response = await _create(api, admin, name="site", repo_url=str(repo), branch="release/2")
    assert response.status == 201, response.body
    assert response.json()["branch"] == "release/2"
    assert response.json()["latest_build"]["branch"] == "release/2"


@pytest.mark.gen_test
async def test_a_branch_the_repository_lacks_is_refused_and_nothing_is_created(api, admin,
                                                                              tmp_path):
    repo = make_repo(tmp_path / "repo", SITE)
    response = await _create(api, admin, name="site", repo_url=str(repo), branch="nope")
    assert "branch nope not found" in _refused(response, "branch")
    assert await _project_names(api, admin) == []


# -- repositories git cannot reach -------------------------------------------------------------

@pytest.mark.gen_test
async def test_a_port_nothing_listens_on_is_refused_with_gits_reason(api, admin):
    port = _closed_port()
    response = await _create(api, admin, name="site",
                             repo_url=f"https://127.0.0.1:{port}/site.git")
    message = _refused(response, "repo_url")
    assert f"127.0.0.1:{port}" in message  # git's own words, naming where it tried
    assert "connect" in message.lower()
    assert await _project_names(api, admin) == []


@pytest.mark.gen_test
async def test_an_empty_repository_is_refused_for_want_of_a_branch(api, admin, tmp_path):
    empty = tmp_path / "empty"
    subprocess.run(["git", "init", "-q", "--bare", str(empty)], check=True)
    response = await _create(api, admin, name="site", repo_url=str(empty))
    assert "no default branch" in _refused(response, "repo_url")
    assert await _project_names(api, admin) == []


@pytest.mark.gen_test
async def test_a_path_that_does_not_exist_is_refused_before_git_is_asked(api, admin, tmp_path):
    # The rules already answer for a path on this machine (400, as for any invalid field).
    response = await _create(api, admin, name="site", repo_url=str(tmp_path / "missing"))
    assert response.status == 400, response.body
    assert response.json()["error"]["field"] == "repo_url"
    assert await _project_names(api, admin) == []


@pytest.mark.gen_test
async def test_a_github_repository_that_does_not_exist_is_refused(api, app_server, github):
    ada_github = github.add_user("ada")
    ada = await sign_in_github_user(app_server, api, ada_github.id, "ada", ada_github.token)
    response = await _create(api, ada, name="site", repo_url=f"{github.url}/ada/missing")
    assert "the repository was not found" in _refused(response, "repo_url")
    assert await _project_names(api, ada) == []


@pytest.mark.gen_test
async def test_a_github_users_host_that_does_not_resolve_is_refused(api, app_server):
    mallory = await sign_in_github_user(app_server, api, 4242, "mallory")
    response = await _create(api, mallory, name="site",
                             repo_url="https://not-resolvable.invalid/site.git")
    assert "not-resolvable.invalid" in _refused(response, "repo_url")
    assert await _project_names(api, mallory) == []


@pytest.mark.gen_test(timeout=30)
async def test_a_git_server_that_never_answers_is_refused_within_the_timeout(api, admin,
                                                                            monkeypatch):
    monkeypatch.setattr("engine.projects.projects.PROBE_TIMEOUT_SECONDS", 2)
    server = SilentServer()
    try:
        started = time.monotonic()
        response = await _create(api, admin, name="site",
                                 repo_url=f"https://127.0.0.1:{server.port}/site.git")
        elapsed = time.monotonic() - started

        assert "did not answer within 2 s" in _refused(response, "repo_url")
        assert elapsed < 2 + 5, f"answered after {elapsed:.1f} s"
        assert server.connections >= 1  # git did reach the server, which then said nothing
        assert await _project_names(api, admin) == []
        for _ in range(50):  # git and its git-remote-https are killed, not left waiting
            if not processes_mentioning(f"127.0.0.1:{server.port}"):
                break
            await asyncio.sleep(0.1)
        assert processes_mentioning(f"127.0.0.1:{server.port}") == []
    finally:
        server.close()


# -- pointing a project elsewhere --------------------------------------------------------------

@pytest.mark.gen_test
async def test_a_change_to_a_missing_branch_or_an_unreachable_repository_changes_nothing(
    api, admin, tmp_path
):
    repo = make_repo(tmp_path / "repo", SITE)
    add_branch(repo, "dev")
    created = await _create(api, admin, name="site", repo_url=str(repo))
    assert created.status == 201, created.body
    path = f"/api/projects/{created.json()['id']}"

    missing = await api.request("PATCH", path, headers=admin.headers,
                                json_body={"branch": "nope"})
    assert "branch nope not found" in _refused(missing, "branch")
    unreachable = await api.request("PATCH", path, headers=admin.headers, json_body={
        "repo_url": f"https://127.0.0.1:{_closed_port()}/site.git"})
    _refused(unreachable, "repo_url")

    project = (await api.get(path, headers=admin.headers)).json()
    assert (project["repo_url"], project["branch"]) == (str(repo.resolve()), "main")

    moved = await api.request("PATCH", path, headers=admin.headers, json_body={"branch": "dev"})
    assert moved.status == 200, moved.body
    assert moved.json()["branch"] == "dev"
