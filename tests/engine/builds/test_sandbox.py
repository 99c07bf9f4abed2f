"""Builds run hostile code: what a repository contains or a build writes never reaches the host
outside the build's work directory, every step of the repository's code runs under the build's
limits, and a Git server cannot hold a build past its timeout or cancel (SPEC, Builds, 0).

Real Git repositories written as an attacker would, the real Docker engine (network none),
real PostgreSQL, the real API."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import docker
import pytest

from tests.support.accounts import sign_in_github_user, sign_in_local_admin
from tests.support.app import close_app, open_app
from tests.support.builds import Builds
from tests.support.hostile import (
    SilentServer,
    commit_links,
    copies_of,
    files_containing,
    kill_containers_running,
    links_leading_outside,
    processes_mentioning,
)
from tests.support.repos import make_repo

SECRET = "s4ndb0x-api-key"
INDEX = "<h1>hostile</h1>"
PACKAGE = json.dumps({"name": "site", "version": "1.0.0"})
# Bounded, so that where no limit applies (today) the host is not exhausted: 300 MB.
MEMORY_HOG = ("node -e \"const a=[];for(let i=0;i<300;i++)a.push(Buffer.alloc(1<<20,1));"
              "console.log('allocated')\"")


def _release(session: Builds, build_id: int, project: str = "site") -> Path:
    return session.running.app.config.deployments_dir / project / "releases" / str(build_id)


def _token() -> str:
    """A word to find a test's containers and processes by."""
    return f"slipway-sandbox-{uuid.uuid4().hex[:12]}"


def _marker(tmp_path: Path) -> tuple[Path, bytes]:
    """A file of the host that no build may publish."""
    marker = f"host-only-{uuid.uuid4().hex}".encode()
    host = tmp_path / "host"
    host.mkdir()
    (host / "index.html").write_bytes(marker)
    return host, marker


async def _eventually(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


async def _printed(session: Builds, build_id: int) -> list[str]:
    """The build's log lines (a word the command echoes is looked for as a whole line: the
    log also shows the command itself)."""
    return [line["log"].strip() for line in await session.logs(build_id)]


async def _log_shows(session: Builds, build_id: int, line: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while line not in await _printed(session, build_id):
        assert time.monotonic() < deadline, f"{line!r} never appeared in build {build_id}'s log"
        await asyncio.sleep(0.2)


def _ran_for(build: dict) -> float:
    """Seconds from the build's start to its end, as recorded."""
    started = datetime.fromisoformat(build["started_at"].replace("Z", "+00:00"))
    finished = datetime.fromisoformat(build["finished_at"].replace("Z", "+00:00"))
    return (finished - started).total_seconds()


async def _canceled_within(session: Builds, build_id: int, seconds: float) -> dict:
    """Cancel the build; it must end as canceled within `seconds`."""
    asked = time.monotonic()
    await _cancel(session, build_id)
    build = await session.finished(build_id, seconds=seconds + 5)
    assert time.monotonic() - asked <= seconds, "the cancel took longer than it may"
    return build


async def _cancel(session: Builds, build_id: int) -> None:
    response = await session.api.post(f"/api/builds/{build_id}/cancel",
                                      headers=session.owner.headers)
    assert response.status == 202, response.body


# -- 1. Symlinks out of the work directory are never followed to the host --------------------

@pytest.mark.gen_test(timeout=120)
async def test_an_output_directory_symlinked_to_the_host_is_refused(builds, tmp_path):
    session = await builds()
    config = session.running.app.config
    data_dir = config.data_dir.resolve()
    repo = make_repo(tmp_path / "repo", {"index.html": INDEX})
    # Inside the container the link dangles; on the host, after the build, dist is data_dir.
    project = await session.project(repo, build_command=f"rm -rf dist; ln -s {data_dir} dist",
                                    output_dir="dist")
    build = await session.finished(project["latest_build"]["id"])

    key = data_dir / "secret.key"
    if key.exists():
        site = {"Host": f"site.localhost:{session.running.port}"}
        served = await session.api.get("/secret.key", headers=site)
        assert key.read_bytes() not in served.body, "the instance's key is served to anyone"
        assert not copies_of(config.deployments_dir, key)
    assert build["status"] == "failed", await session.text(build["id"])
    assert "outside" in build["error"]
    assert not _release(session, build["id"]).exists()


@pytest.mark.parametrize("link", ["absolute", "relative"])
@pytest.mark.gen_test(timeout=120)
async def test_a_link_in_the_output_leading_to_the_host_is_never_published(builds, tmp_path,
                                                                         link):
    session = await builds()
    deployments = session.running.app.config.deployments_dir
    host, marker = _marker(tmp_path)
    # The relative one climbs out of dist/, the checkout, the work directory and builds/.
    target = host / "index.html" if link == "absolute" else "../../../.."
    repo = make_repo(tmp_path / "repo", {"index.html": INDEX})
    project = await session.project(repo, output_dir="dist", build_command=(
        f"mkdir -p dist && cp index.html dist/ && ln -s {target} dist/leak"))
    build = await session.finished(project["latest_build"]["id"])
    release = _release(session, build["id"])

    if build["status"] == "failed":
        assert "link" in build["error"] and "outside" in build["error"], build["error"]
        assert not release.exists()
    else:
        assert build["status"] == "passed", await session.text(build["id"])
        # Today the link is copied as it is, so the release on disk leads to the host (the
        # Python file server refuses it, but anything reading the release follows it).
        assert not links_leading_outside(release)
    assert not files_containing(deployments, marker)


@pytest.mark.gen_test(timeout=120)
async def test_a_link_in_the_output_to_a_file_of_the_output_stays_a_link(builds, tmp_path):
    # A guard for the fix (passes today): links within the output are legitimate.
    session = await builds()
    repo = make_repo(tmp_path / "repo", {"index.html": INDEX})
    project = await session.project(repo, output_dir="dist", build_command=(
        "mkdir -p dist && cp index.html dist/ && ln -s index.html dist/alias.html"))
    build = await session.finished(project["latest_build"]["id"])

    assert build["status"] == "passed", await session.text(build["id"])
    alias = _release(session, build["id"]) / "alias.html"
    assert alias.is_symlink() and os.readlink(alias) == "index.html"
    assert alias.read_text() == INDEX


@pytest.mark.gen_test(timeout=120)
async def test_a_root_directory_swapped_for_a_link_during_the_build_is_refused(builds,
                                                                              tmp_path):
    session = await builds()
    host, marker = _marker(tmp_path)
    (host / "dist").mkdir()
    (host / "index.html").rename(host / "dist" / "index.html")
    repo = make_repo(tmp_path / "repo", {"site/index.html": INDEX})
    # The command runs in /workspace/site; root_dir was checked before it ran.
    project = await session.project(repo, root_dir="site", output_dir="dist", build_command=(
        f"cd /workspace && mv site site.old && ln -s {host} site"))
    build = await session.finished(project["latest_build"]["id"])

    assert not files_containing(session.running.app.config.deployments_dir, marker)
    assert build["status"] == "failed", await session.text(build["id"])
    # The build runs on a copy of the checkout inside its container: the link leads to
    # nothing there, and the host's directory is never read.
    assert build["error"] == ("the build produced no dist/ directory; set the output "
                              "directory in the project's settings")
    assert not _release(session, build["id"]).exists()


# -- 2. The .env file Slipway writes ----------------------------------------------------------

@pytest.mark.parametrize("existing", [False, True], ids=["missing-target", "existing-target"])
@pytest.mark.gen_test(timeout=120)
async def test_a_committed_env_symlink_is_never_followed_to_the_host(builds, tmp_path,
                                                                    existing):
    session = await builds()
    victim = tmp_path / "victim"
    victim.mkdir()
    target = victim / "target"
    if existing:
        target.write_text("original")
        target.chmod(0o644)
    repo = make_repo(tmp_path / "repo", {"index.html": INDEX})
    commit_links(repo, {".env": str(target)})
    project = await session.project(repo, secrets={"API_KEY": SECRET}, output_dir="dist",
                                    build_command=("test ! -L .env && grep -q '^API_KEY=' .env"
                                                   " && echo regular-env-with-the-key"
                                                   " && mkdir -p dist && cp index.html dist/"))
    build = await session.finished(project["latest_build"]["id"])

    if existing:
        assert target.read_text() == "original"
        assert target.stat().st_mode & 0o777 == 0o644
    else:
        assert not target.exists() and not target.is_symlink()
    assert "regular-env-with-the-key" in await _printed(session, build["id"])
    assert build["status"] == "passed", await session.text(build["id"])


@pytest.mark.gen_test(timeout=120)
async def test_secret_values_are_literal_when_the_env_file_is_sourced(builds, tmp_path):
    session = await builds()
    repo = make_repo(tmp_path / "repo", {"index.html": INDEX})
    secrets = {"API_KEY": "$(touch /workspace/pwned)", "QUOTED": "it's"}
    # Every secret value is masked in the log, so the build compares the sourced values with
    # the ones it received in its environment and prints fixed words.
    project = await session.project(repo, secrets=secrets, output_dir="dist", build_command=(
        'want_key="$API_KEY"; want_quoted="$QUOTED"; . ./.env; '
        '[ "$API_KEY" = "$want_key" ] && echo same-key; '
        '[ "$QUOTED" = "$want_quoted" ] && echo same-quoted; '
        "test ! -e /workspace/pwned && echo not-run; mkdir -p dist && cp index.html dist/"))
    build = await session.finished(project["latest_build"]["id"])

    printed, text = await _printed(session, build["id"]), await session.text(build["id"])
    assert "not-run" in printed, text
    assert "same-key" in printed and "same-quoted" in printed, text
    assert build["status"] == "passed", text


# -- 3. The install step runs under the build's limits -----------------------------------------
# Today `docker build` has no memory or process limit, and the timeout and cancel are only
# looked at when Docker sends output: a silent step runs to its end. Each test kills what it
# left in the engine, so a failure does not hold the suite.

@pytest.mark.parametrize("step", ["dockerfile", "install_command"])
@pytest.mark.gen_test(timeout=90)
async def test_a_silent_install_step_is_stopped_by_the_timeout(builds, tmp_path, busybox_image,
                                                               docker_client, step):
    session = await builds(build_timeout=4)
    token = _token()
    if step == "dockerfile":
        repo = make_repo(tmp_path / "repo", {
            "Dockerfile": f"FROM {busybox_image}\nRUN : {token}; sleep 150\n"})
        project = await session.project(repo, output_dir="public")
    else:
        repo = make_repo(tmp_path / "repo", {"package.json": PACKAGE, "index.html": INDEX})
        project = await session.project(repo, install_command=f": {token}; sleep 150")
    try:
        build = await session.finished(project["latest_build"]["id"], seconds=15)
    finally:
        kill_containers_running(docker_client, token)
    assert build["status"] == "failed"
    assert build["error"] == "timed out after 4 s (SLIPWAY_BUILD_TIMEOUT)"
    assert _ran_for(build) <= 4 + 5


@pytest.mark.gen_test(timeout=120)
async def test_a_silent_step_of_the_repositorys_dockerfile_can_be_canceled(
        builds, tmp_path, busybox_image, docker_client):
    session = await builds()
    token = _token()
    repo = make_repo(tmp_path / "repo", {
        "Dockerfile": f"FROM {busybox_image}\nRUN : {token}; echo started && sleep 150\n"})
    project = await session.project(repo, output_dir="public")
    build_id = project["latest_build"]["id"]
    try:
        await _log_shows(session, build_id, "started")
        build = await _canceled_within(session, build_id, 5)
    finally:
        kill_containers_running(docker_client, token)
    assert (build["status"], build["error"]) == ("canceled", "canceled by the user")


@pytest.mark.gen_test(timeout=120)
async def test_a_memory_hog_in_the_repositorys_dockerfile_is_stopped_by_the_memory_limit(
        builds, tmp_path, node_image):
    session = await builds(build_memory=64 * 1024**2)
    repo = make_repo(tmp_path / "repo", {"Dockerfile": f"FROM {node_image}\nRUN {MEMORY_HOG}\n"})
    project = await session.project(repo, output_dir="public")
    build = await session.finished(project["latest_build"]["id"])
    assert build["status"] == "failed", await session.text(build["id"])
    assert build["error"].startswith("out of memory"), build["error"]


@pytest.mark.gen_test(timeout=120)
async def test_a_fork_bomb_in_the_repositorys_dockerfile_is_contained_by_the_process_limit(
        builds, tmp_path, busybox_image, docker_client):
    session = await builds(build_timeout=8)
    token = _token()
    bomb = (f": {token}; i=0; while [ $i -lt 700 ]; do sleep 30 & i=$((i+1)); done; "
            "echo procs=$(ls -d /proc/[0-9]* | wc -l); wait")
    repo = make_repo(tmp_path / "repo", {"Dockerfile": f"FROM {busybox_image}\nRUN {bomb}\n"})
    project = await session.project(repo, output_dir="public")
    build_id = project["latest_build"]["id"]
    try:
        deadline = time.monotonic() + 30
        while True:
            counted = next(filter(None, (re.fullmatch(r"procs=(\d+)", line)
                                         for line in await _printed(session, build_id))), None)
            status = (await session.api.get(f"/api/builds/{build_id}",
                                            headers=session.owner.headers)).json()["status"]
            if counted or status not in ("queued", "running"):
                break
            assert time.monotonic() < deadline, "the install step never counted its processes"
            await asyncio.sleep(0.2)
        if counted:
            assert int(counted[1]) <= 520, f"{counted[1]} processes ran in the install step"
        build = await session.finished(build_id, seconds=20)
    finally:
        kill_containers_running(docker_client, token)
    assert build["status"] == "failed"
    text = await session.text(build_id)
    assert counted or "fork" in text.lower(), text


@pytest.mark.gen_test(timeout=120)
async def test_an_install_printing_without_end_is_stopped_on_time_with_its_log_capped(
        builds, tmp_path, docker_client):
    session = await builds(build_timeout=6)
    token = _token()
    repo = make_repo(tmp_path / "repo", {"package.json": PACKAGE, "index.html": INDEX})
    project = await session.project(repo, install_command=f"yes {token}")
    try:
        build = await session.finished(project["latest_build"]["id"], seconds=30)
    finally:
        kill_containers_running(docker_client, token)
    lines = await session.logs(build["id"])
    assert build["error"] == "timed out after 6 s (SLIPWAY_BUILD_TIMEOUT)"
    assert _ran_for(build) <= 6 + 5
    assert "… log truncated after 100000 lines" in [line["log"] for line in lines]
    assert len(lines) <= 100_001 + 10  # the cap, and Slipway's own closing lines


@pytest.mark.gen_test(timeout=120)
async def test_a_memory_hog_in_the_install_command_is_stopped_by_the_memory_limit(builds,
                                                                                  tmp_path):
    session = await builds(build_memory=64 * 1024**2)
    repo = make_repo(tmp_path / "repo", {"package.json": PACKAGE, "index.html": INDEX})
    project = await session.project(repo, install_command=MEMORY_HOG)
    build = await session.finished(project["latest_build"]["id"])
    assert build["status"] == "failed", await session.text(build["id"])
    assert build["error"].startswith("out of memory"), build["error"]


# -- 4. Fetching from a Git server ---------------------------------------------------------------
# A repository git cannot reach is refused when the project is created, so these projects
# start from a reachable one and are pointed elsewhere afterwards, as a server that goes away
# (or a name that is rebound) would do.

async def _repoint(session: Builds, project_id: int, url: str) -> None:
    async with session.running.app.db.pool.connection() as conn:
        await conn.execute("UPDATE projects SET repo_url = %s WHERE id = %s", (url, project_id))


async def _build_from(session: Builds, tmp_path, url: str) -> dict:
    """A build of a project whose repository is now at `url` (its first build done)."""
    project = await session.project(make_repo(tmp_path / "reachable", {"index.html": INDEX}))
    await session.finished(project["latest_build"]["id"])
    await _repoint(session, project["id"], url)
    again = await session.api.post(f"/api/projects/{project['id']}/builds",
                                   headers=session.owner.headers)
    return again.json()["build"]
# Today git is killed on time, but the git-remote-https it started keeps the output pipes open,
# so Slipway waits for curl's own connect timeout (minutes). Closing the server ends it.

async def _no_git_left(port: int) -> None:
    """No git process for the server at `port` outlives the build."""
    leftover: list[str] = []

    def gone() -> bool:
        leftover[:] = processes_mentioning(f"127.0.0.1:{port}/")
        return not leftover

    assert await _eventually(gone, 3), leftover


@pytest.mark.gen_test(timeout=90)
async def test_a_git_server_that_never_answers_is_stopped_by_the_timeout(builds, tmp_path):
    server = SilentServer()
    try:
        session = await builds(build_timeout=4)
        build = await _build_from(session, tmp_path, f"https://127.0.0.1:{server.port}/x.git")
        build = await session.finished(build["id"], seconds=15)
        assert build["status"] == "failed"
        assert build["error"] == "timed out after 4 s (SLIPWAY_BUILD_TIMEOUT)"
        assert _ran_for(build) <= 4 + 5
        await _no_git_left(server.port)
    finally:
        server.close()


@pytest.mark.gen_test(timeout=90)
async def test_a_fetch_from_a_git_server_that_never_answers_can_be_canceled(builds,
                                                                           tmp_path):
    server = SilentServer()
    try:
        session = await builds()
        build = await _build_from(session, tmp_path, f"https://127.0.0.1:{server.port}/x.git")
        build_id = build["id"]
        assert await _eventually(lambda: server.connections > 0, 30), "git never connected"
        build = await _canceled_within(session, build_id, 5)
        assert (build["status"], build["error"]) == ("canceled", "canceled by the user")
        await _no_git_left(server.port)
    finally:
        server.close()


@pytest.mark.parametrize("url", [
    "https://127.0.0.1:{port}/x.git",
    "https://localhost:{port}/x.git",
    "https://10.0.0.1/x.git",
    "https://169.254.169.254/x.git",
    "https://[::1]/x.git",
    # Other spellings of loopback.
    "https://[::ffff:127.0.0.1]:{port}/x.git",
    "https://2130706433:{port}/x.git",
])
@pytest.mark.gen_test(timeout=60)
async def test_a_github_user_cannot_point_a_project_at_a_private_address(app_server, api,
                                                                        url):
    # No dispatcher runs here, so even today nothing connects to 10.x or 169.254.x.
    server = SilentServer(hang=False)
    try:
        user = await sign_in_github_user(app_server, api, 4242, "mallory")
        response = await api.post("/api/projects", headers=user.headers, json_body={
            "name": "inside", "repo_url": url.format(port=server.port), "branch": "main"})
        assert response.status == 400, response.body
        error = response.json()["error"]
        assert error["field"] == "repo_url"
        assert any(word in error["message"].lower()
                   for word in ("loopback", "private", "link-local")), error["message"]
        assert server.connections == 0
    finally:
        server.close()


@pytest.mark.gen_test(timeout=90)
async def test_a_host_that_later_resolves_to_loopback_is_refused_at_fetch(builds, github):
    # DNS can change between the project's creation and a fetch (rebinding): the address is
    # checked again when the build fetches, before git connects anywhere.
    server = SilentServer(hang=False)
    try:
        session = await builds()
        mallory = await sign_in_github_user(session.running, session.api, 4243, "mallory")
        refused = await session.api.post("/api/projects", headers=mallory.headers, json_body={
            "name": "later", "repo_url": "https://not-resolvable.invalid/x.git",
            "branch": "main"})
        assert refused.status == 422, refused.body  # git could not reach it either
        assert "not-resolvable.invalid could not be resolved" in refused.json()["error"][
            "message"]
        repo = github.add_repo(github.add_user("mallory"), "later", files={"index.html": INDEX})
        created = await session.api.post("/api/projects", headers=mallory.headers, json_body={
            "name": "later", "repo_url": repo.html_url})
        assert created.status == 201, created.body
        project = created.json()

        await _repoint(session, project["id"], "https://not-resolvable.invalid/x.git")
        first = await session.rebuild(project["id"], mallory)
        assert first["error"] == "the host not-resolvable.invalid could not be resolved"
        await _repoint(session, project["id"], f"https://127.0.0.1:{server.port}/x.git")
        build = await session.rebuild(project["id"], mallory)
        assert build["status"] == "failed"
        assert "resolves to a loopback address" in build["error"]
        assert server.connections == 0
    finally:
        server.close()


# -- 5. What a killed Slipway leaves behind ------------------------------------------------------

@pytest.mark.gen_test(timeout=60)
async def test_a_restart_removes_work_directories_and_staging_releases_a_crash_left(
        build_config):
    data, sites = build_config.data_dir, build_config.deployments_dir
    first = await open_app(build_config)  # the server that is killed mid-build
    try:
        work = data / "builds" / "77"
        (work / "src").mkdir(parents=True)
        (work / "src" / ".env").write_text(f'API_KEY="{SECRET}"\n')
        releases = sites / "site" / "releases"
        staging = releases / ".staging-77-abcd1234"
        staging.mkdir(parents=True)
        (staging / "index.html").write_text("half published")
        (releases / "12").mkdir()
        (releases / "12" / "index.html").write_text(INDEX)
        os.symlink("releases/12", sites / "site" / "current")
    finally:
        await close_app(first)

    second = await open_app(build_config, run_builds=True)
    try:
        await _eventually(lambda: not work.exists() and not staging.exists(), 5)
        assert not work.exists()
        assert not staging.exists()
        assert (sites / "site" / "current" / "index.html").read_text() == INDEX
    finally:
        await close_app(second)


def _labelled_image(docker_client, busybox_image: str, labels: dict[str, str],
                    tag: str | None = None) -> str:
    """An image carrying `labels`, as Slipway's builder makes them."""
    container = docker_client.containers.create(busybox_image, ["true"], network_mode="none")
    try:
        image = container.commit(conf={"Labels": labels, "Cmd": ["/bin/sh"]})
    finally:
        container.remove(force=True)
    if tag:
        repository, _, name = tag.rpartition(":")
        image.tag(repository, name)
    return image.id


def _has_image(docker_client, reference: str) -> bool:
    try:
        docker_client.images.get(reference)
    except docker.errors.ImageNotFound:
        return False
    return True


@pytest.mark.gen_test(timeout=60)
async def test_a_restart_removes_this_instances_images_no_project_needs(
        build_config, docker_client, busybox_image):
    instance = build_config.instance
    deleted_project = f"slipway-{instance}/p999:cache"
    orphan = _labelled_image(docker_client, busybox_image,
                             {"slipway.instance": instance, "slipway.project": "999"},
                             deleted_project)
    leftover = _labelled_image(docker_client, busybox_image,  # untagged: a dead build's step
                               {"slipway.instance": instance, "slipway.project": "1"})
    someone_elses = _labelled_image(docker_client, busybox_image,
                                    {"slipway.instance": "another", "slipway.project": "999"},
                                    "slipway-another/p999:cache")
    try:
        running = await open_app(build_config, run_builds=True)
        await close_app(running)
        assert not _has_image(docker_client, orphan)
        assert not _has_image(docker_client, leftover)
        assert _has_image(docker_client, someone_elses)
    finally:
        for image in (orphan, leftover, someone_elses):
            with contextlib.suppress(docker.errors.APIError):
                docker_client.images.remove(image, force=True)


@pytest.mark.gen_test(timeout=120)
async def test_deleting_a_project_removes_its_cached_install_image(builds, tmp_path,
                                                                  docker_client):
    session = await builds()
    repo = make_repo(tmp_path / "repo", {"package.json": PACKAGE, "index.html": INDEX})
    project = await session.project(repo, install_command="echo installed > /tmp/x",
                                    build_command="mkdir -p dist && cp index.html dist/")
    build = await session.finished(project["latest_build"]["id"])
    assert build["status"] == "passed", await session.text(build["id"])
    cache = f"slipway-{session.running.app.config.instance}/p{project['id']}:cache"
    assert _has_image(docker_client, cache)

    response = await session.api.request("DELETE", f"/api/projects/{project['id']}",
                                         headers=session.owner.headers)
    assert response.status == 204
    assert not _has_image(docker_client, cache)
    mine = {"label": [f"slipway.instance={session.running.app.config.instance}"]}
    assert not docker_client.images.list(all=True, filters=mine)


# -- 6. Two instances on one Docker engine ------------------------------------------------------

@pytest.fixture
def other_database(postgres):
    """A second, empty database, for a second Slipway (dropped after its app is closed)."""
    url = postgres.new_database()
    yield url
    postgres.drop_database(url)


@pytest.mark.gen_test(timeout=180)
async def test_two_instances_on_one_docker_engine_keep_their_own_cache_images(
        other_database, builds, tmp_path, docker_client):
    before = {image.id for image in docker_client.images.list()}

    def labelled() -> dict[str, dict[str, str]]:
        """The images made during this test that carry an instance label."""
        return {image.id: image.labels for image in
                docker_client.images.list(filters={"label": "slipway.instance"})
                if image.id not in before}

    repo = make_repo(tmp_path / "repo", {"package.json": PACKAGE, "index.html": INDEX})
    settings = {"install_command": "echo installed > /tmp/x",
                "build_command": "mkdir -p dist && cp index.html dist/", "output_dir": "dist"}
    try:
        first = await builds()
        one = await first.project(repo, **settings)
        built = await first.finished(one["latest_build"]["id"])
        assert built["status"] == "passed", await first.text(built["id"])
        firsts = labelled()
        assert firsts, "the first instance kept no image labelled slipway.instance"

        other = tmp_path / "other"
        (other / "data").mkdir(parents=True)
        (other / "sites").mkdir()
        second = await builds(data_dir=other / "data", deployments_dir=other / "sites",
                              database_url=other_database)
        two = await second.project(repo, **settings)
        assert two["id"] == one["id"]  # the same project id on both instances
        built = await second.finished(two["latest_build"]["id"])
        assert built["status"] == "passed", await second.text(built["id"])
        both = labelled()
        assert set(firsts) <= set(both), "the second instance removed the first's cache"
        assert len({labels["slipway.instance"] for labels in both.values()}) == 2
        assert all(labels.get("slipway.project") == str(one["id"]) for labels in both.values())

        response = await second.api.request("DELETE", f"/api/projects/{two['id']}/build-cache",
                                            headers=second.owner.headers)
        assert response.status == 204
        left = labelled()
        assert set(firsts) <= set(left), "clearing the second's cache removed the first's"
        assert set(left) == set(firsts)
    finally:
        for image_id in labelled():
            with contextlib.suppress(docker.errors.APIError):
                docker_client.images.remove(image_id, force=True)


# -- 7. Secret values Slipway cannot write safely -----------------------------------------------

async def _local_project(app_server, api, tmp_path) -> tuple[dict, dict[str, str]]:
    owner = await sign_in_local_admin(app_server, api)
    repo = make_repo(tmp_path / "repo", {"index.html": INDEX})
    response = await api.post("/api/projects", headers=owner.headers,
                              json_body={"name": "site", "repo_url": str(repo)})
    assert response.status == 201, response.body
    return response.json(), owner.headers


@pytest.mark.parametrize("value", ["a\u0000b", "a\u0007b", "a\u001b[2Jb"],
                         ids=["nul", "bell", "escape"])
@pytest.mark.gen_test(timeout=60)
async def test_a_secret_value_with_control_characters_is_refused(app_server, api, tmp_path,
                                                                value):
    project, headers = await _local_project(app_server, api, tmp_path)

    put = await api.request("PUT", f"/api/projects/{project['id']}/secrets/API_KEY",
                            json_body={"value": value}, headers=headers)
    assert put.status == 400, put.body
    assert put.json()["error"]["message"]

    created = await api.post("/api/projects", headers=headers, json_body={
        "name": "other", "repo_url": project["repo_url"], "secrets": {"API_KEY": value}})
    assert created.status == 400, created.body
    assert created.json()["error"]["message"]


@pytest.mark.gen_test(timeout=60)
async def test_tabs_and_newlines_in_secret_values_are_accepted(app_server, api, tmp_path):
    # A guard for the fix (passes today).
    project, headers = await _local_project(app_server, api, tmp_path)
    for value in ("a\tb", "-----BEGIN KEY-----\nabc\n-----END KEY-----\n"):
        put = await api.request("PUT", f"/api/projects/{project['id']}/secrets/API_KEY",
                                json_body={"value": value}, headers=headers)
        assert put.status in (201, 204), put.body
    created = await api.post("/api/projects", headers=headers, json_body={
        "name": "other", "repo_url": project["repo_url"],
        "secrets": {"A": "a\tb", "B": "one\ntwo"}})
    assert created.status == 201, created.body


# -- 8. The size of a build's output -----------------------------------------------------------

@pytest.mark.gen_test(timeout=120)
async def test_an_output_over_the_size_limit_is_not_published(builds, tmp_path):
    # Today: builds() raises TypeError, Config has no max_output (SLIPWAY_MAX_OUTPUT) yet.
    session = await builds(max_output=1024 * 1024)
    repo = make_repo(tmp_path / "repo", {"index.html": INDEX})
    project = await session.project(repo, output_dir="dist", build_command=(
        "mkdir -p dist && cp index.html dist/ && "
        "dd if=/dev/zero of=dist/big.bin bs=1048576 count=3 2>/dev/null"))
    build = await session.finished(project["latest_build"]["id"])
    assert build["status"] == "failed", await session.text(build["id"])
    assert "SLIPWAY_MAX_OUTPUT" in build["error"]
    assert not _release(session, build["id"]).exists()


@pytest.mark.gen_test(timeout=120)
async def test_an_output_copied_out_of_an_image_is_held_to_the_size_limit(builds, tmp_path,
                                                                          busybox_image):
    session = await builds(max_output=1024 * 1024)
    repo = make_repo(tmp_path / "repo", {"Dockerfile": (
        f"FROM {busybox_image}\nWORKDIR /site\n"
        "RUN mkdir public && dd if=/dev/zero of=public/big.bin bs=1048576 count=3\n")})
    project = await session.project(repo, output_dir="public")
    build = await session.finished(project["latest_build"]["id"])
    assert build["status"] == "failed", await session.text(build["id"])
    assert build["error"] == "the output is larger than 1m (SLIPWAY_MAX_OUTPUT)"
    assert not _release(session, build["id"]).exists()


@pytest.mark.gen_test(timeout=90)
async def test_a_github_users_dockerfile_cannot_pull_from_a_private_registry(builds, github):
    # The Docker engine pulls from the host's network: a registry on loopback would let a user
    # probe the host's services as a repository URL would.
    server = SilentServer(hang=False)
    try:
        session = await builds()
        mallory_github = github.add_user("mallory")
        repo = github.add_repo(mallory_github, "registry-probe", files={
            "Dockerfile": f"FROM 127.0.0.1:{server.port}/probe:1\n"})
        mallory = await sign_in_github_user(session.running, session.api, mallory_github.id,
                                            "mallory", mallory_github.token)
        response = await session.api.post("/api/projects", headers=mallory.headers, json_body={
            "name": "probe", "repo_url": repo.html_url, "output_dir": "public"})
        assert response.status == 201, response.body
        build = await session.finished(response.json()["latest_build"]["id"], who=mallory)
        assert build["status"] == "failed"
        assert "resolves to a loopback address" in build["error"], build["error"]
        assert server.connections == 0
    finally:
        server.close()


@pytest.mark.gen_test(timeout=90)
async def test_a_pull_from_a_registry_that_never_answers_is_stopped_by_the_timeout(builds,
                                                                                  tmp_path):
    server = SilentServer()  # the administrator may name it, but it must not hold the build
    try:
        session = await builds(build_timeout=4)
        repo = make_repo(tmp_path / "repo", {
            "Dockerfile": f"FROM 127.0.0.1:{server.port}/never:1\n"})
        project = await session.project(repo, output_dir="public")
        build = await session.finished(project["latest_build"]["id"], seconds=15)
        assert build["error"] == "timed out after 4 s (SLIPWAY_BUILD_TIMEOUT)"
        assert _ran_for(build) <= 4 + 5
    finally:
        server.close()
