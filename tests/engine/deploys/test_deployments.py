"""Deploy, redeploy, roll back and prune through the real engine: real builds, real releases
on disk, the real API."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest

from engine.deploys.releases import live_build_id, release_dir
from tests.support.repos import make_repo

GIT_ENV = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "PATH": "/usr/bin:/bin",
           "GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.com",
           "GIT_COMMITTER_NAME": "Ada", "GIT_COMMITTER_EMAIL": "ada@example.com"}


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    for name, content in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(content)
    env = {**GIT_ENV, "HOME": str(repo)}
    subprocess.run(["git", "add", "-A"], cwd=repo, env=env, check=True)
    subprocess.run(["git", "commit", "-q", "-m", message], cwd=repo, env=env, check=True)
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, env=env, check=True,
                          capture_output=True, text=True).stdout.strip()


async def deploy(session, project: dict) -> dict:
    queued = await session.api.post(f"/api/projects/{project['id']}/builds",
                                    headers=session.owner.headers)
    build = await session.finished(queued.json()["build"]["id"])
    assert build["status"] == "passed", await session.text(build["id"])
    return build


async def deployments(session, project: dict) -> list[dict]:
    response = await session.api.get(f"/api/projects/{project['id']}/deployments",
                                     headers=session.owner.headers)
    return response.json()


@pytest.mark.gen_test(timeout=180)
async def test_deploys_supersede_and_rollback_swaps_back_without_building(builds, tmp_path):
    session = await builds()
    sites = session.running.app.config.deployments_dir
    repo = make_repo(tmp_path / "repo", {"index.html": "v1", "big.bin": "x" * 50_000})
    project = await session.project(repo)
    first = await session.finished(project["latest_build"]["id"])
    commit(repo, {"index.html": "v2"}, "second")
    second = await deploy(session, project)

    assert live_build_id(sites, "site") == second["id"]
    assert (sites / "site" / "current" / "index.html").read_text() == "v2"
    # An unchanged file is a hard link to the previous release's copy, not a second copy.
    old_big = release_dir(sites, "site", first["id"]) / "big.bin"
    new_big = release_dir(sites, "site", second["id"]) / "big.bin"
    assert os.stat(old_big).st_ino == os.stat(new_big).st_ino

    history = await deployments(session, project)
    assert [(d["build_id"], d["status"]) for d in history] == [
        (second["id"], "live"), (first["id"], "superseded")]
    assert history[0]["url"] == f"http://{second['id']}--site.localhost:{session.running.port}"
    refreshed = (await session.api.get(f"/api/projects/{project['id']}",
                                       headers=session.owner.headers)).json()
    assert refreshed["production_url"] == f"http://site.localhost:{session.running.port}"
    assert refreshed["live_deployment"]["build_id"] == second["id"]

    builds_before = len((await session.api.get(f"/api/projects/{project['id']}/builds",
                                               headers=session.owner.headers)).json())
    rolled = await session.api.post(f"/api/deployments/{history[1]['id']}/rollback",
                                    headers=session.owner.headers)
    assert rolled.status == 200
    assert rolled.json()["deployment"]["status"] == "live"
    assert (sites / "site" / "current" / "index.html").read_text() == "v1"
    after = await deployments(session, project)
    assert [(d["build_id"], d["status"]) for d in after] == [
        (second["id"], "rolled_back"), (first["id"], "live")]
    builds_after = len((await session.api.get(f"/api/projects/{project['id']}/builds",
                                              headers=session.owner.headers)).json())
    assert builds_after == builds_before, "a rollback to a kept release must not build"


@pytest.mark.gen_test(timeout=240)
async def test_old_releases_are_pruned_and_rolling_back_to_one_rebuilds_its_commit(builds,
                                                                                  tmp_path):
    session = await builds(keep_releases=2)
    sites = session.running.app.config.deployments_dir
    repo = make_repo(tmp_path / "repo", {"index.html": "v1"})
    project = await session.project(repo)
    first = await session.finished(project["latest_build"]["id"])
    for version in (2, 3):
        commit(repo, {"index.html": f"v{version}"}, f"version {version}")
        await deploy(session, project)
    await session.running.app.deployer.idle()

    kept = sorted(int(p.name) for p in (sites / "site" / "releases").iterdir())
    assert len(kept) == 2 and first["id"] not in kept

    oldest = (await deployments(session, project))[-1]
    response = await session.api.post(f"/api/deployments/{oldest['id']}/rollback",
                                      headers=session.owner.headers)
    assert response.status == 202
    rebuild = response.json()["build"]
    assert (rebuild["trigger"], rebuild["commit_sha"]) == ("rollback", first["commit_sha"])
    done = await session.finished(rebuild["id"])
    assert done["status"] == "passed"
    assert (sites / "site" / "current" / "index.html").read_text() == "v1"


@pytest.mark.gen_test(timeout=180)
async def test_text_assets_get_compressed_siblings_after_going_live(builds, tmp_path):
    session = await builds()
    sites = session.running.app.config.deployments_dir
    repo = make_repo(tmp_path / "repo", {"index.html": "<p>hello</p>" * 500,
                                         "tiny.css": "a{}", "photo.jpg": "jpeg" * 1000})
    project = await session.project(repo)
    build = await session.finished(project["latest_build"]["id"])
    await session.running.app.deployer.idle()
    release = release_dir(sites, "site", build["id"])
    assert (release / "index.html.gz").is_file() and (release / "index.html.br").is_file()
    assert not (release / "tiny.css.gz").exists()  # too small to be worth it
    assert not (release / "photo.jpg.gz").exists()  # not a text type


@pytest.fixture
def small_disk(tmp_path):
    """A real 1 MiB filesystem, so a deploy can really run out of space."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.gen_test(timeout=180)
async def test_a_deploy_that_runs_out_of_disk_leaves_the_previous_release_live(builds,
                                                                               tmp_path,
                                                                               small_disk):
    session = await builds(deployments_dir=small_disk)
    repo = make_repo(tmp_path / "repo", {"index.html": "small"})
    project = await session.project(repo)
    first = await session.finished(project["latest_build"]["id"])
    assert first["status"] == "passed"

    commit(repo, {"big.bin": os.urandom(3 * 1024 * 1024).hex()}, "too big")
    queued = await session.api.post(f"/api/projects/{project['id']}/builds",
                                    headers=session.owner.headers)
    failed = await session.finished(queued.json()["build"]["id"])

    assert failed["status"] == "failed"
    assert failed["error"].startswith("publishing the site failed: No space left on device")
    assert live_build_id(small_disk, "site") == first["id"]
    assert (small_disk / "site" / "current" / "index.html").read_text() == "small"
    leftovers = [p.name for p in (small_disk / "site" / "releases").iterdir()]
    assert leftovers == [str(first["id"])]
    history = await deployments(session, project)
    assert [(d["build_id"], d["status"]) for d in history] == [(first["id"], "live")]


@pytest.mark.gen_test(timeout=180)
async def test_history_secrets_and_special_files_are_never_published(builds, tmp_path):
    session = await builds()
    repo = make_repo(tmp_path / "repo", {"index.html": "ok", "sub/.env.local": "X=1",
                                         "node_modules/pkg/index.js": "x"})
    os.mkfifo(repo / "pipe")  # never committed (git cannot), but must not hang a copy anyway
    project = await session.project(repo, secrets={"TOKEN": "abc123"})
    build = await asyncio.wait_for(session.finished(project["latest_build"]["id"]), 120)
    release = release_dir(session.running.app.config.deployments_dir, "site", build["id"])
    published = {str(p.relative_to(release)) for p in release.rglob("*")}
    assert "index.html" in published
    assert not {".git", ".env", "sub/.env.local", "node_modules"} & published


@pytest.mark.gen_test(timeout=120)
async def test_renaming_a_live_project_moves_its_site_and_production_url(builds, tmp_path):
    session = await builds()
    sites = session.running.app.config.deployments_dir
    repo = make_repo(tmp_path / "repo", {"index.html": "hi"})
    project = await session.project(repo, name="before")
    await session.finished(project["latest_build"]["id"])
    renamed = await session.api.request("PATCH", f"/api/projects/{project['id']}",
                                        headers=session.owner.headers,
                                        json_body={"name": "after"})
    assert renamed.json()["production_url"] == (
        f"http://after.localhost:{session.running.port}")
    assert (sites / "after" / "current" / "index.html").read_text() == "hi"
    assert not (sites / "before").exists()


@pytest.mark.gen_test(timeout=240)
async def test_visitors_see_the_old_site_or_the_new_one_during_deploys_and_rollback(builds,
                                                                                   tmp_path):
    session = await builds()
    repo = make_repo(tmp_path / "repo", {"index.html": "<p>v1</p><script src=app.js></script>",
                                         "app.js": "v1"})
    project = await session.project(repo)
    first = await session.finished(project["latest_build"]["id"])
    site = {"Host": f"site.localhost:{session.running.port}"}
    seen: list[tuple[int, str, str]] = []
    stop = asyncio.Event()

    async def visitor() -> None:
        while not stop.is_set():
            page = await session.api.get("/", headers=site)
            script = await session.api.get("/app.js", headers=site)
            seen.append((page.status, page.body.decode()[:9], script.body.decode()))

    visitors = [asyncio.get_running_loop().create_task(visitor()) for _ in range(4)]
    try:
        for version in (2, 3):
            commit(repo, {"index.html": f"<p>v{version}</p><script src=app.js></script>",
                          "app.js": f"v{version}"}, f"v{version}")
            await deploy(session, project)
        oldest = (await deployments(session, project))[-1]
        assert oldest["build_id"] == first["id"]
        await session.api.post(f"/api/deployments/{oldest['id']}/rollback",
                               headers=session.owner.headers)
        await asyncio.sleep(0.2)
    finally:
        stop.set()
        await asyncio.gather(*visitors)

    assert {status for status, _, _ in seen} == {200}
    versions = {page for _, page, _ in seen}
    assert versions == {"<p>v1</p>", "<p>v2</p>", "<p>v3</p>"}
    final = await session.api.get("/", headers=site)
    assert final.body.startswith(b"<p>v1</p>")
    immutable = await session.api.get("/app.js", headers={
        "Host": f"{first['id']}--site.localhost:{session.running.port}"})
    assert immutable.body == b"v1"


@pytest.mark.gen_test(timeout=120)
async def test_a_symlink_to_etc_passwd_and_a_env_file_in_a_build_are_never_served(builds,
                                                                                   tmp_path):
    session = await builds()
    repo = make_repo(tmp_path / "repo", {"index.html": "home", ".env": "SECRET=committed",
                                         "assets/app.js": "ok"})
    (repo / "passwd").symlink_to("/etc/passwd")
    (repo / "assets" / "etc").symlink_to("/etc")
    commit(repo, {}, "links")
    project = await session.project(repo)
    build = await session.finished(project["latest_build"]["id"])
    text = await session.text(build["id"])
    assert build["status"] == "passed", text
    assert ("Left out 2 links leading outside the output: passwd -> /etc/passwd, "
            "assets/etc -> /etc") in text
    release = release_dir(session.running.app.config.deployments_dir, "site", build["id"])
    assert not (release / "passwd").is_symlink() and not (release / "assets/etc").is_symlink()
    site = {"Host": f"site.localhost:{session.running.port}"}
    # The links are not in the release: their paths are the single-page app's routes now.
    for path in ("/passwd", "/.env", "/assets/etc/passwd", "/assets/etc/hostname",
                 "/%2e%2e/%2e%2e/etc/passwd"):
        response = await session.api.get(path, headers=site)
        assert (response.status, response.body) in ((200, b"home"), (404, response.body)), path
        assert b"root:" not in response.body and b"SECRET" not in response.body
    assert (await session.api.get("/assets/app.js", headers=site)).body == b"ok"
