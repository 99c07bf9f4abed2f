"""Log flood: a build printing 100k lines, watched by a connected Socket.io client.

Run on demand: ./scripts/test tests/bench/bench_log_flood.py -s
The client runs in its own process (flood_client.py), as a browser would, so decoding the lines
is not counted against the server's IOLoop. Reports lines/s from the container to the client,
p50/p99 line latency (each line carries the container's clock; same kernel, same clock), the
largest IOLoop lag seen, and whether every line arrived in order and was stored.
Goals (issue 5): >= 50k lines/s, lag < 50 ms, p99 < 250 ms.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import psycopg

from tests.support.accounts import sign_in_local_admin
from tests.support.app import close_app, open_app
from tests.support.http import ApiClient
from tests.support.repos import make_repo

LINES = 99_900  # the log cap is 100k lines, Slipway's own lines included
# Burst: print as fast as Node can. Paced: 500 lines every 10 ms (50k lines/s, the goal).
FLOOD = """
const paced = process.argv[2] === 'paced';
let i = 0;
function chunk() {
  const out = [];
  for (let n = 0; n < 500 && i < TOTAL; n++) { i++; out.push('line ' + i + ' ' + Date.now()); }
  process.stdout.write(out.join('\\n') + '\\n');
  if (i < TOTAL) { paced ? setTimeout(chunk, 10) : chunk(); } else { done(); }
}
function done() {
  require('fs').mkdirSync('dist', {recursive: true});
  require('fs').writeFileSync('dist/index.html', 'ok');
}
chunk();
""".replace("TOTAL", str(LINES))


async def _lag_monitor(samples: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(0.005)
        samples.append((time.perf_counter() - started - 0.005) * 1000)


async def _flood(config, repo, name: str, out: Path) -> dict:
    running = await open_app(config, run_builds=True)
    api = ApiClient(running.url)
    lag: list[float] = []
    stop = asyncio.Event()
    monitor = asyncio.get_running_loop().create_task(_lag_monitor(lag, stop))
    client = None
    try:
        owner = await sign_in_local_admin(running, api)
        client = await asyncio.create_subprocess_exec(
            sys.executable, str(Path(__file__).with_name("flood_client.py")), running.url,
            owner.token, str(out), stdout=subprocess.PIPE)
        assert (await client.stdout.readline()).strip() == b"connected"
        project = (await api.post("/api/projects", headers=owner.headers, json_body={
            "name": name, "repo_url": str(repo)})).json()
        await asyncio.wait_for(client.wait(), 300)
        build_id = project["latest_build"]["id"]
        with psycopg.connect(config.database_url) as conn:
            stored = conn.execute("SELECT count(*) FROM build_logs WHERE build_id = %s "
                                  "AND text LIKE 'line %%'", (build_id,)).fetchone()[0]
    finally:
        stop.set()
        await monitor
        if client is not None and client.returncode is None:
            client.kill()
        api.close()
        await close_app(running)
    return {"received": json.loads(out.read_text()), "lag": lag, "stored": stored}


def _report(label: str, result: dict) -> None:
    received = result["received"]
    numbers = [n for n, _, _ in received]
    latencies = sorted(r - s for _, s, r in received)
    span = (received[-1][2] - received[0][2]) / 1000 if len(received) > 1 else float("nan")
    print(f"\n{label}: lines received by the Socket.io client: {len(received)} of {LINES}, "
          f"in order: {numbers == list(range(1, LINES + 1))}, stored: {result['stored']}")
    print(f"throughput: {len(received) / span:,.0f} lines/s "
          f"(first to last line received: {span:.2f} s)")
    print(f"line latency, container print to client: p50 {statistics.median(latencies):.0f} ms,"
          f" p99 {latencies[int(len(latencies) * 0.99)]:.0f} ms, max {latencies[-1]:.0f} ms")
    print(f"IOLoop lag: max {max(result['lag']):.1f} ms, "
          f"p99 {sorted(result['lag'])[int(len(result['lag']) * 0.99)]:.1f} ms "
          f"({len(result['lag'])} samples)")


def _run(config, node_image, io_loop, tmp_path, mode: str) -> dict:
    repo = make_repo(tmp_path / mode, {
        "package.json": json.dumps({"name": "flood", "version": "1.0.0",
                                    "scripts": {"build": f"node flood.js {mode}"}}),
        "flood.js": FLOOD})
    config = replace(config, node_image=node_image, build_network="none", build_timeout=300)
    return io_loop.run_sync(lambda: _flood(config, repo, mode, tmp_path / f"{mode}.json"),
                            timeout=400)


def test_log_flood_burst(config, node_image, io_loop, tmp_path):
    _report("burst (as fast as the container prints)",
            _run(config, node_image, io_loop, tmp_path, "burst"))


def test_log_flood_paced(config, node_image, io_loop, tmp_path):
    _report("paced (50k lines/s)", _run(config, node_image, io_loop, tmp_path, "paced"))
