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
SITE = {
    "package.json": json.dumps({"name": "small", "version": "1.0.0",
                                "scripts": {"build": "node build.js"}}),
    "build.js": "const fs = require('fs'); fs.mkdirSync('dist', {recursive: true}); "
                "fs.writeFileSync('dist/index.html', '<h1>small</h1>');",
}


async def _run(cluster: Cluster, workers: int, tmp_path) -> tuple[float, dict[str, int]]:
    web = cluster.web("web")
    for i in range(workers):
        cluster.worker(f"worker-{i + 1}")
    api = ApiClient(f"http://127.0.0.1:{web.port}")
    token = (await api.post("/api/auth/session",
                            json_body={"code": cluster.sign_in_code("web")})).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    repo = make_repo(tmp_path / "repo", SITE)
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
async def test_builds_per_minute(tmp_path, postgres, node_image, docker_client, workers):
    if not redis_answers():
        pytest.skip("no Redis server answers on 127.0.0.1:6379")
    url = postgres.new_database()
    cluster = Cluster(tmp_path, url, {"SLIPWAY_NODE_IMAGE": node_image})
    try:
        seconds, statuses = await _run(cluster, workers, tmp_path)
    finally:
        cluster.stop()
        postgres.drop_database(url)
    print(f"\n{workers} worker(s), one build at a time each: {BUILDS} builds in {seconds:.1f} s "
          f"= {BUILDS / seconds * 60:.1f} builds/min ({statuses})")
