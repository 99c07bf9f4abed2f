"""Two web processes with releases in S3 (a real S3 endpoint, moto's server) and nothing on disk
in common: each has its own data and deployments directories and shares only PostgreSQL and
the bucket. A deploy, a rollback, a preview, a rename or a deletion made through one is served
by the other on its next requests; each release is uploaded once; a web process fetches an
immutable host's release on its first visit and keeps its cache within its budget."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest

from engine.errors import Conflict
from engine.sites.site_files import SiteFiles
from engine.storage.release_mirror import ReleaseMirror
from engine.storage.s3_releases import S3Releases
from tests.support.accounts import sign_in_local_admin
from tests.support.app import close_app, open_app
from tests.support.archives import site_archive
from tests.support.http import ApiClient
from tests.support.s3_server import S3Server

GZIP = {"Content-Type": "application/gzip"}
SETTLE_SECONDS = 5.0  # a notice crosses processes in milliseconds; this only bounds a failure


def _own_dirs(config, tmp_path, name: str, **changes):
    root = tmp_path / name
    (root / "data").mkdir(parents=True)
    (root / "sites").mkdir()
    return replace(config, data_dir=root / "data", deployments_dir=root / "sites", **changes)


class Web:
    """One web process of the pair: the app, a client, and its deployments directory."""

    def __init__(self, running, api: ApiClient) -> None:
        self.running, self.api = running, api
        self.sites = running.app.config.deployments_dir

    async def page(self, host: str, path: str = "/") -> tuple[int, bytes]:
        answer = await self.api.get(path, headers={"Host": host})
        return answer.status, answer.body

    async def settles(self, host: str, expected: tuple[int, bytes]) -> float:
        """Seconds until `host` answers `expected` here (fails after SETTLE_SECONDS)."""
        started = time.monotonic()
        while (found := await self.page(host)) != expected:
            if time.monotonic() - started > SETTLE_SECONDS:
                raise AssertionError(f"{host} still answers {found}, not {expected}")
            await asyncio.sleep(0.02)
        return time.monotonic() - started

    def cached(self, project: str) -> list[str]:
        releases = self.sites / project / "releases"
        return sorted(p.name for p in releases.iterdir()) if releases.is_dir() else []


@pytest.fixture
def webs(s3_config, tmp_path, io_loop):
    started = []

    async def start(name: str, **changes) -> Web:
        running = await open_app(_own_dirs(s3_config, tmp_path, name, **changes))
        web = Web(running, ApiClient(running.url))
        started.append(web)
        return web

    yield start
    for web in started:
        web.api.close()
        io_loop.run_sync(lambda web=web: close_app(web.running))


async def _project(web: Web, name: str = "site") -> tuple[dict, dict]:
    owner = await sign_in_local_admin(web.running, web.api)
    answer = await web.api.post("/api/projects", headers=owner.headers, json_body={"name": name})
    assert answer.status == 201, answer.body
    return owner.headers, answer.json()


async def _upload(web: Web, headers, project, files, query: str = "") -> dict:
    answer = await web.api.post(f"/api/projects/{project['id']}/deployments{query}",
                                body=site_archive(files), headers={**headers, **GZIP})
    assert answer.status == 201, answer.body
    return answer.json()


def _bucket_builds(s3_server, s3_config, project_id: int) -> dict[int, list[str]]:
    bucket = s3_config.storage.split("/")[2]
    stored: dict[int, list[str]] = {}
    for key in s3_server.keys(bucket, f"releases/{project_id}/"):
        build, rest = key.split("/", 3)[2:]
        stored.setdefault(int(build), []).append(rest)
    return stored


@pytest.mark.gen_test(timeout=60)
async def test_deploys_and_rollbacks_through_one_web_are_served_by_the_other(
        webs, s3_server, s3_config):
    a, b = await webs("a"), await webs("b")
    headers, project = await _project(a)
    first = await _upload(a, headers, project, {"index.html": "one", "about.html": "about"})
    assert await a.page("site.localhost") == (200, b"one")  # at once where it was made
    await b.settles("site.localhost", (200, b"one"))
    second = await _upload(a, headers, project, {"index.html": "two"})
    await b.settles("site.localhost", (200, b"two"))

    # Each release was uploaded once, files and a manifest, under the project's id.
    stored = _bucket_builds(s3_server, s3_config, project["id"])
    assert sorted(stored) == [first["build"]["id"], second["build"]["id"]]
    assert sorted(stored[first["build"]["id"]]) == [
        "files/about.html", "files/index.html", "manifest.json"]

    rolled = await a.api.post(f"/api/deployments/{first['deployment']['id']}/rollback",
                              headers=headers)
    assert rolled.status == 200, rolled.body
    assert await a.page("site.localhost") == (200, b"one")
    await b.settles("site.localhost", (200, b"one"))
    assert await b.page(f"{second['build']['id']}--site.localhost") == (200, b"two")

    renamed = await a.api.request("PATCH", f"/api/projects/{project['id']}", headers=headers,
                                json_body={"name": "shop"})
    assert renamed.status == 200, renamed.body
    await b.settles("shop.localhost", (200, b"one"))
    assert (await b.page("site.localhost"))[0] == 404


@pytest.mark.gen_test(timeout=60)
async def test_a_preview_and_a_deletion_reach_the_other_web_and_leave_nothing_stored(
        webs, s3_server, s3_config):
    a, b = await webs("a"), await webs("b")
    headers, project = await _project(a)
    live = await _upload(a, headers, project, {"index.html": "production"})
    await _upload(a, headers, project, {"index.html": "preview"}, "?preview=feature-x")
    await b.settles("git-feature-x--site.localhost", (200, b"preview"))
    assert await b.page("site.localhost") == (200, b"production")

    deleted = await a.api.request("DELETE", f"/api/projects/{project['id']}",
                                  headers=headers)
    assert deleted.status == 204, deleted.body
    await b.settles("site.localhost", (404, (await b.page("nothing.localhost"))[1]))
    for host in ("git-feature-x--site.localhost", f"{live['build']['id']}--site.localhost"):
        assert (await b.page(host))[0] == 404
    assert _bucket_builds(s3_server, s3_config, project["id"]) == {}
    assert b.cached("site") == [] and a.cached("site") == []

    # The name taken again by a new project serves only the new project's releases.
    again = await a.api.post("/api/projects", headers=headers, json_body={"name": "site"})
    assert again.status == 201, again.body
    await _upload(a, headers, again.json(), {"index.html": "new owner"})
    await b.settles("site.localhost", (200, b"new owner"))
    assert (await b.page(f"{live['build']['id']}--site.localhost"))[0] == 404


@pytest.mark.gen_test(timeout=60)
async def test_a_web_fetches_an_immutable_hosts_release_on_its_first_visit(webs):
    a = await webs("a")
    headers, project = await _project(a)
    builds = [(await _upload(a, headers, project, {"index.html": f"v{n}"}))["build"]["id"]
              for n in (1, 2, 3)]
    late = await webs("late")  # started afterwards: it fetches what hosts point at, only
    assert await late.page("site.localhost") == (200, b"v3")
    assert late.cached("site") == [str(builds[2])]
    assert await late.page(f"{builds[0]}--site.localhost") == (200, b"v1")
    assert late.cached("site") == sorted([str(builds[0]), str(builds[2])])
    # A build id that names nothing is a 404, asked of the database once, not of the store.
    assert (await late.page("999999--site.localhost"))[0] == 404
    assert (await late.page(f"{builds[0]}--other.localhost"))[0] == 404


@pytest.mark.gen_test(timeout=60)
async def test_the_cache_keeps_within_its_budget_and_pruning_reaches_the_store(
        webs, s3_server, s3_config):
    a = await webs("a", keep_releases=2)
    small = await webs("small", release_cache=1)  # room for what hosts point at, only
    headers, project = await _project(a)
    builds = [(await _upload(a, headers, project, {"index.html": f"v{n}" * 100}))["build"]["id"]
              for n in range(4)]
    await small.settles("site.localhost", (200, b"v3" * 100))
    await a.running.app.deployer.idle()
    assert sorted(_bucket_builds(s3_server, s3_config, project["id"])) == builds[2:]
    assert small.cached("site") == [str(builds[3])]
    # An older kept release is fetched again when asked for, then evicted again later.
    assert await small.page(f"{builds[2]}--site.localhost") == (200, b"v2" * 100)
    assert (await small.page(f"{builds[0]}--site.localhost"))[0] == 404  # pruned


@pytest.mark.gen_test(timeout=120)
async def test_an_unreachable_store_fails_the_deploy_clearly_and_the_live_site_stays(
        s3_config, tmp_path, io_loop):
    private = S3Server.start()  # this test's own, to stop
    client = private.client()
    client.create_bucket(Bucket="outage")
    config = _own_dirs(s3_config, tmp_path, "a", storage="s3://outage/releases",
                       s3_endpoint=private.url)
    running = await open_app(config)
    web = Web(running, ApiClient(running.url))
    try:
        headers, project = await _project(web)
        first = await _upload(web, headers, project, {"index.html": "one"})
        private.stop()
        answer = await web.api.post(f"/api/projects/{project['id']}/deployments",
                                    body=site_archive({"index.html": "two"}),
                                    headers={**headers, **GZIP})
        assert answer.status == 503, answer.body
        assert "the live site is unchanged" in answer.json()["error"]["message"]
        assert await web.page("site.localhost") == (200, b"one")
        failed = (await web.api.get(f"/api/projects/{project['id']}/builds",
                                    headers=headers)).json()
        assert [b["status"] for b in failed][:2] == ["failed", "passed"]
        history = (await web.api.get(f"/api/projects/{project['id']}/deployments",
                                     headers=headers)).json()
        assert [d["id"] for d in history] == [first["deployment"]["id"]]
    finally:
        web.api.close()
        await close_app(running)
        private.stop()


def _mirror(web: Web, s3_config, cache, max_bytes: int = 1024**3) -> ReleaseMirror:
    """A web process's mirror of its own (a cache directory, no notices: it follows only
    what it is asked to refresh, as a process that missed notices in an outage does)."""
    store = S3Releases(s3_config.storage, s3_config.s3_endpoint)
    return ReleaseMirror(web.running.app.db.pool, store, cache, max_bytes)


@pytest.mark.gen_test(timeout=60)
async def test_a_release_that_cannot_be_fetched_never_costs_the_one_still_served(
        webs, s3_server, s3_config, tmp_path):
    a = await webs("a")
    headers, project = await _project(a)
    await _upload(a, headers, project, {"index.html": "one"})
    cache = tmp_path / "cache"
    mirror = _mirror(a, s3_config, cache, max_bytes=1)  # room for what hosts point at only
    await mirror.start()
    assert (cache / "site/current/index.html").read_text() == "one"
    second = await _upload(a, headers, project, {"index.html": "two"})
    # The store cannot give the new release (lost, or failing): the old one keeps serving.
    bucket = s3_config.storage.split("/")[2]
    s3_server.client().delete_object(
        Bucket=bucket, Key=f"releases/{project['id']}/{second['build']['id']}/manifest.json")
    await mirror.refresh(project["id"])
    assert (cache / "site/current/index.html").read_text() == "one"
    await mirror.close()


@pytest.mark.gen_test(timeout=60)
async def test_a_new_project_with_a_deleted_ones_name_never_serves_the_old_releases(
        webs, s3_config, tmp_path):
    a = await webs("a")
    headers, old = await _project(a)
    old_build = (await _upload(a, headers, old, {"index.html": "old owner"}))["build"]["id"]
    cache = tmp_path / "cache"
    mirror = _mirror(a, s3_config, cache)
    await mirror.start()
    assert (cache / f"site/releases/{old_build}/index.html").is_file()

    # The deletion's notice is missed (a database outage); the new project's arrives first.
    deleted = await a.api.request("DELETE", f"/api/projects/{old['id']}", headers=headers)
    assert deleted.status == 204, deleted.body
    answer = await a.api.post("/api/projects", headers=headers, json_body={"name": "site"})
    assert answer.status == 201, answer.body
    new = answer.json()
    await _upload(a, headers, new, {"index.html": "new owner"})
    await mirror.refresh(new["id"])
    assert (cache / "site/current/index.html").read_text() == "new owner"
    assert SiteFiles(cache).site(f"{old_build}--site") is None
    await mirror.refresh_all()  # and the old project's later removal leaves the new one be
    assert (cache / "site/current/index.html").read_text() == "new owner"
    await mirror.close()


@pytest.mark.gen_test(timeout=60)
async def test_a_local_cache_fault_after_a_preview_went_live_never_deletes_its_release(
        webs, s3_server, s3_config):
    a, b = await webs("a"), await webs("b")
    headers, project = await _project(a)
    await _upload(a, headers, project, {"index.html": "production"})
    (a.sites / "site/previews").write_text("")  # a's cache cannot hold preview links
    answer = await a.api.post(f"/api/projects/{project['id']}/deployments?preview=feature-x",
                              body=site_archive({"index.html": "preview"}),
                              headers={**headers, **GZIP})
    # The preview is live (its row committed): the other web serves it, from the store.
    await b.settles("git-feature-x--site.localhost", (200, b"preview"))
    assert answer.status == 201, answer.body
    assert len(_bucket_builds(s3_server, s3_config, project["id"])) == 2
    # a's own fault is logged, and its periodic pass keeps running past it.
    (a.sites / "site/previews").unlink()
    await a.running.app.mirror.refresh_all()
    assert await a.page("git-feature-x--site.localhost") == (200, b"preview")


@pytest.mark.gen_test(timeout=60)
async def test_a_rollback_and_a_pruning_at_once_never_leave_a_live_release_unstored(
        webs, s3_server, s3_config):
    a = await webs("a")
    headers, project = await _project(a)
    app = a.running.app
    owner = (await a.api.get("/api/me", headers=headers)).json()
    for attempt in range(5):
        old = await _upload(a, headers, project, {"index.html": f"old {attempt}"})
        await _upload(a, headers, project, {"index.html": f"new {attempt}"})
        await app.deployer.idle()
        # Another process prunes (keeping one release) just as the old one is rolled back to.
        rolled, _ = await asyncio.gather(
            app.deployer.rollback(owner["id"], old["deployment"]["id"]),
            app.stored.prune(project["id"], 1, set()), return_exceptions=True)
        stored = _bucket_builds(s3_server, s3_config, project["id"])
        if isinstance(rolled, Conflict):  # pruning went first: the rollback says so
            assert old["build"]["id"] not in stored
        else:
            assert rolled[0] == "deployment"
            assert old["build"]["id"] in stored, f"attempt {attempt}: live but pruned"


@pytest.mark.gen_test(timeout=60)
async def test_a_locked_build_host_is_not_fetched_for_a_visitor_without_the_password(webs):
    a = await webs("a")
    headers, project = await _project(a)
    builds = [(await _upload(a, headers, project, {"index.html": f"v{n}"}))["build"]["id"]
              for n in (1, 2)]
    locked = await a.api.request("PATCH", f"/api/projects/{project['id']}", headers=headers,
                                 json_body={"preview_password": "correct horse"})
    assert locked.status == 200, locked.body
    late = await webs("late")
    assert (await late.page(f"{builds[0]}--site.localhost"))[0] == 401
    assert late.cached("site") == [str(builds[1])]  # nothing fetched for the locked door
