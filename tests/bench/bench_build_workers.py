"""Build throughput with one and with two worker processes on a queue of 20 small builds.

Run on demand: ./scripts/test tests/bench/bench_build_workers.py -s
Issue 19: builds per minute with one and two workers. Each worker is a separate process
(SLIPWAY_ROLES=worker, one build at a time) beside one web process, all sharing PostgreSQL and
Redis; 20 projects are created (each queues its first build: a Node build in Docker that writes
one page) and the clock runs from the first queued to the last finished.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from tests.support.cluster import Cluster, redis_answers
from tests.support.http import ApiClient
from tests.support.repos import make_repo

BUILDS = 20
WRITE_PAGE = ("const fs = require('fs'); fs.mkdirSync('dist', {recursive: true}); "
              "fs.writeFileSync('dist/index.html', '<h1>small</h1>');")
# "cpu": the build is all Slipway's and Docker's own work (on one machine, both workers share
# its cores and engine); "waiting": the build also waits 3 s (a registry, a remote API), as
# real builds do, which shows the queue spreading work even when the cores are the limit.
SCRIPTS = {"cpu": WRITE_PAGE, "waiting": f"setTimeout(() => {{ {WRITE_PAGE} }}, 3000);"}


def _site(kind: str) -> dict[str, str]:
    return {"package.json": json.dumps({"name": "small", "version": "1.0.0",
                                        "scripts": {"build": "node build.js"}}),
            "build.js": SCRIPTS[kind]}


async def _run(cluster: Cluster, workers: int, kind: str,
               tmp_path) -> tuple[float, dict[str, int]]:
    web = cluster.web("web")
    for i in range(workers):
        cluster.worker(f"worker-{i + 1}")
    api = ApiClient(f"http://127.0.0.1:{web.port}")
    token = (await api.post("/api/auth/session",
                            json_body={"code": cluster.sign_in_code("web")})).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    repo = make_repo(tmp_path / "repo", _site(kind))
    started = time.perf_counter()
    ids = []
    for i in range(BUILDS):
        answer = await api.post("/api/projects", headers=headers, json_body={
            "name": f"small-{i}", "repo_url": str(repo), "output_dir": "dist"})
        ids.append(answer.json()["latest_build"]["id"])
    statuses: dict[str, int] = {}
    for build_id in ids:
        while True:
            build = (await api.get(f"/api/builds/{build_id}", headers=headers)).json()
            if build["status"] not in ("queued", "running"):
                statuses[build["status"]] = statuses.get(build["status"], 0) + 1
                break
            await asyncio.sleep(0.1)
    return time.perf_counter() - started, statuses


@pytest.mark.gen_test(timeout=900)
@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("kind", ["cpu", "waiting"])
async def test_builds_per_minute(tmp_path, postgres, node_image, docker_client, workers, kind):
    if not redis_answers():
        pytest.skip("no Redis server answers on 127.0.0.1:6379")
    url = postgres.new_database()
    cluster = Cluster(tmp_path, url, {"SLIPWAY_NODE_IMAGE": node_image})
    try:
        seconds, statuses = await _run(cluster, workers, kind, tmp_path)
    finally:
        cluster.stop()
        postgres.drop_database(url)
    print(f"\n{kind} builds, {workers} worker(s), one build at a time each: {BUILDS} builds in "
          f"{seconds:.1f} s "
          f"= {BUILDS / seconds * 60:.1f} builds/min ({statuses})")
