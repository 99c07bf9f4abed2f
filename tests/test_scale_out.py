"""Scale-out (SPEC "Scale-out"): two web processes and two workers, each a separate process with
its own data directory, sharing only PostgreSQL, Redis and the release storage."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time

import psycopg
import pytest
import socketio

from tests.support.cluster import Cluster, redis_answers, s3_cluster, signed_in
from tests.support.http import ApiClient
from tests.support.repos import commit_files, make_repo
from tests.support.server_process import free_port

BUILD_SCRIPT = """
const fs = require('fs');
console.log('building ' + fs.readFileSync('page.html', 'utf8').trim());
setTimeout(() => {
  fs.mkdirSync('dist', {recursive: true});
  fs.copyFileSync('page.html', 'dist/index.html');
  console.log('built');
}, 1500);
"""
SETTLE_SECONDS = 5.0
SLOW_SCRIPT = "console.log('started'); setTimeout(() => {}, 600000);"


def _site(page: str, script: str = BUILD_SCRIPT) -> dict[str, str]:
    return {"package.json": json.dumps({"name": "site", "version": "1.0.0",
                                        "scripts": {"build": "node build.js"}}),
            "build.js": script, "page.html": page}


@pytest.fixture
def cluster(tmp_path, postgres, node_image, docker_client, s3_server):
    with s3_cluster(tmp_path, postgres, node_image, docker_client, s3_server) as cluster:
        yield cluster


class Browser:
    """The dashboard's socket: WebSocket transport, the session token in `auth`."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.lines: dict[int, list[str]] = {}
        self.statuses: dict[int, str] = {}
        for event in ("build_logs", "build_errors", "run_logs", "run_error"):
            self.client.on(event, self._on_lines)
        self.client.on("buildStatusUpdate", self._on_status)

    def _on_lines(self, payload: dict) -> None:
        self.lines.setdefault(payload["buildId"], []).extend(
            line["log"] for line in payload["lines"])

    def _on_status(self, payload: dict) -> None:
        self.statuses[payload["buildId"]] = payload["status"]

    async def connect(self, port: int, token: str) -> None:
        await self.client.connect(f"http://127.0.0.1:{port}", transports=["websocket"],
                                  auth={"token": token}, wait_timeout=10)


async def _finished(api: ApiClient, headers: dict, build_id: int,
                    seconds: float = 120) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        build = (await api.get(f"/api/builds/{build_id}", headers=headers)).json()
        if build["status"] not in ("queued", "running"):
            return build
        assert time.monotonic() < deadline, f"build {build_id} still {build['status']}"
        await asyncio.sleep(0.2)


def _runners(url: str) -> dict[int, str]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("SELECT id, runner FROM builds WHERE runner IS NOT NULL"))


async def _create(api: ApiClient, headers: dict, name: str, repo) -> dict:
    answer = await api.post("/api/projects", headers=headers, json_body={
        "name": name, "repo_url": str(repo), "output_dir": "dist"})
    assert answer.status == 201, answer.body
    return answer.json()


async def _slow_project(cluster: Cluster, tmp_path) -> tuple[ApiClient, dict, dict]:
    """One web process and one worker, building a project whose build never ends."""
    cluster.web("web-a")
    cluster.worker("worker-1")
    api, headers, _ = await signed_in(cluster, "web-a")
    repo = make_repo(tmp_path / "slow", _site("slow", SLOW_SCRIPT))
    return api, headers, await _create(api, headers, "slow", repo)


async def _page(port: int, host: str) -> tuple[int, str]:
    answer = await ApiClient(f"http://127.0.0.1:{port}").get("/", headers={"Host": host})
    return answer.status, answer.body.decode(errors="replace")


async def _serves(port: int, host: str, expected: tuple[int, str]) -> float:
    """Seconds until the web process on `port` answers `expected` for `host`: a deploy reaches
    the other web processes through a notice and, the first time, a fetch from the store
    (milliseconds); SETTLE_SECONDS only bounds a failure."""
    started = time.monotonic()
    while (found := await _page(port, host)) != expected:
        assert time.monotonic() - started < SETTLE_SECONDS, f"{host} on {port}: {found}"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


@pytest.mark.gen_test(timeout=300)
async def test_builds_spread_over_two_workers_and_reach_browsers_and_sites_of_both_webs(
        cluster, tmp_path):
    health = cluster.web("web-a").health()
    assert (health["status"], health["workers"]) == ("degraded", 0)  # builds would wait
    assert health["docker"].startswith("not used")  # web only: its Docker is not needed
    cluster.web("web-b")
    cluster.worker("worker-1")
    cluster.worker("worker-2")
    health = cluster.processes["web-b"].health()
    assert (health["status"], health["workers"]) == ("ok", 2)
    api_a, headers, token = await signed_in(cluster, "web-a")
    api_b = ApiClient(f"http://127.0.0.1:{cluster.processes['web-b'].port}")
    browser_a, browser_b = Browser(), Browser()
    await browser_a.connect(cluster.processes["web-a"].port, token)
    await browser_b.connect(cluster.processes["web-b"].port, token)
    try:
        repos = [make_repo(tmp_path / f"repo-{i}", _site(f"<h1>site {i} v1</h1>"))
                 for i in range(4)]
        projects = [await _create(api_b if i % 2 else api_a, headers, f"site-{i}", repo)
                    for i, repo in enumerate(repos)]
        builds = [await _finished(api_a, headers, p["latest_build"]["id"]) for p in projects]
        assert [b["status"] for b in builds] == ["passed"] * 4, builds

        runners = _runners(cluster.env["DATABASE_URL"])
        ran_on = {runners[b["id"]] for b in builds}
        assert ran_on == {cluster.runner_id("worker-1"), cluster.runner_id("worker-2")}

        # Every build's log reached both browsers, whichever worker ran it.
        for i, build in enumerate(builds):
            for browser in (browser_a, browser_b):
                assert f"building <h1>site {i} v1</h1>" in browser.lines[build["id"]]
                assert browser.statuses[build["id"]] == "passed"

        # Both web processes serve every site; a rollback through A is served by B at once.
        for port in (cluster.processes["web-a"].port, cluster.processes["web-b"].port):
            for i in range(4):
                await _serves(port, f"site-{i}.localhost", (200, f"<h1>site {i} v1</h1>"))
        commit_files(repos[0], {"page.html": "<h1>site 0 v2</h1>"})
        second = (await api_a.post(f"/api/projects/{projects[0]['id']}/builds",
                                   headers=headers)).json()["build"]
        assert (await _finished(api_a, headers, second["id"]))["status"] == "passed"
        port_b = cluster.processes["web-b"].port
        await _serves(port_b, "site-0.localhost", (200, "<h1>site 0 v2</h1>"))
        history = (await api_a.get(f"/api/projects/{projects[0]['id']}/deployments",
                                   headers=headers)).json()
        first_deployment = next(d for d in history if d["build_id"] == builds[0]["id"])
        rolled = await api_a.post(f"/api/deployments/{first_deployment['id']}/rollback",
                                  headers=headers)
        assert rolled.status == 200, rolled.body
        waited = await _serves(port_b, "site-0.localhost", (200, "<h1>site 0 v1</h1>"))
        print(f"the rollback through A was served by B after {waited * 1000:.0f} ms")
        # Nothing was shared but the bucket: B never had a directory of A's or a worker's.
        assert not (tmp_path / "deployments").exists()
        assert (tmp_path / "web-b/sites/site-0/releases").is_dir()
        assert await _page(port_b, f"{second['id']}--site-0.localhost") == (
            200, "<h1>site 0 v2</h1>")

        # Signing out through A closes the session's sockets on B too.
        assert (await api_a.post("/api/auth/logout", headers=headers)).status == 204
        deadline = time.monotonic() + 10
        while browser_b.client.connected:
            assert time.monotonic() < deadline, "B kept the signed-out socket open"
            await asyncio.sleep(0.1)
    finally:
        await browser_a.client.disconnect()
        await browser_b.client.disconnect()


@pytest.mark.gen_test(timeout=300)
async def test_a_killed_worker_has_its_build_failed_within_a_minute_and_the_other_goes_on(
        cluster, tmp_path):
    api, headers, slow = await _slow_project(cluster, tmp_path)
    slow_build = slow["latest_build"]["id"]
    deadline = time.monotonic() + 60
    while _runners(cluster.env["DATABASE_URL"]).get(slow_build) is None:
        assert time.monotonic() < deadline, "worker-1 never claimed the build"
        await asyncio.sleep(0.2)
    cluster.worker("worker-2")
    killed_at = time.monotonic()
    cluster.kill("worker-1")

    failed = await _finished(api, headers, slow_build, seconds=75)
    assert time.monotonic() - killed_at < 60
    assert failed["status"] == "failed"
    assert failed["error"].startswith("interrupted: the worker running it stopped responding")

    quick = await _create(api, headers, "quick", make_repo(tmp_path / "quick",
                                                            _site("<h1>quick</h1>")))
    done = await _finished(api, headers, quick["latest_build"]["id"])
    assert done["status"] == "passed", done
    assert _runners(cluster.env["DATABASE_URL"])[done["id"]] == cluster.runner_id("worker-2")


@pytest.mark.gen_test(timeout=300)
async def test_cancel_and_delete_through_a_web_process_stop_the_build_on_a_worker(
        cluster, tmp_path):
    api, headers, project = await _slow_project(cluster, tmp_path)

    async def started(build_id: int) -> None:
        deadline = time.monotonic() + 60
        while not any(line == "started" for line in await _log(api, headers, build_id)):
            assert time.monotonic() < deadline, f"build {build_id} never started its command"
            await asyncio.sleep(0.2)

    first = project["latest_build"]["id"]
    await started(first)
    asked_at = time.monotonic()
    answer = await api.post(f"/api/builds/{first}/cancel", headers=headers)
    assert answer.status == 202, answer.body  # asked: the worker ends it
    canceled = await _finished(api, headers, first, seconds=30)
    assert (canceled["status"], canceled["error"]) == ("canceled", "canceled by the user")
    assert time.monotonic() - asked_at < 15

    second = (await api.post(f"/api/projects/{project['id']}/builds",
                             headers=headers)).json()["build"]["id"]
    await started(second)
    deleted = await api.request("DELETE", f"/api/projects/{project['id']}", headers=headers)
    assert deleted.status == 204, deleted.body
    with psycopg.connect(cluster.env["DATABASE_URL"]) as conn:
        assert conn.execute("SELECT count(*) FROM builds WHERE status = 'running'"
                            ).fetchone()[0] == 0


async def _log(api: ApiClient, headers: dict, build_id: int) -> list[str]:
    answer = await api.get(f"/api/builds/{build_id}/logs", headers=headers)
    return [line["log"] for line in answer.json()["lines"]]


class PrivateRedis:
    """A Redis server of this test's own, so that it can be stopped (the machine's is shared)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not redis_answers(port=self.port):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


@pytest.mark.gen_test(timeout=300)
async def test_builds_go_on_while_redis_is_down_and_live_events_come_back_with_it(
        cluster, tmp_path):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    redis = PrivateRedis()
    redis.start()
    try:
        cluster.env["SLIPWAY_REDIS_URL"] = redis.url
        web = cluster.web("web-a")
        cluster.worker("worker-1")
        api, headers, token = await signed_in(cluster, "web-a")
        browser = Browser()
        await browser.connect(web.port, token)
        repo = make_repo(tmp_path / "repo", _site("<h1>v1</h1>"))

        redis.stop()
        project = await _create(api, headers, "site", repo)
        during = await _finished(api, headers, project["latest_build"]["id"])
        assert during["status"] == "passed"  # builds need PostgreSQL, not Redis
        await _serves(web.port, "site.localhost", (200, "<h1>v1</h1>"))

        redis.start()
        deadline = time.monotonic() + 90
        while True:  # each build's events say whether the path through Redis is back
            build = (await api.post(f"/api/projects/{project['id']}/builds",
                                    headers=headers)).json()["build"]
            await _finished(api, headers, build["id"])
            await asyncio.sleep(0.5)
            if browser.statuses.get(build["id"]) == "passed":
                break
            assert time.monotonic() < deadline, "events never came back after Redis did"
        await browser.client.disconnect()
    finally:
        redis.stop()
    assert "Cannot publish to redis" in cluster.processes["worker-1"].output()
