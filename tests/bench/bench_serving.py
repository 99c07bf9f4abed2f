"""Static serving: Slipway's site server against Express 5 `express.static` (clean URLs through
`extensions: ['html']`) with an index fallback, on the same generated site, same machine, same
load generator.

Run on demand: ./scripts/test tests/bench/bench_serving.py -s
Needs `wrk` (apt-get install wrk), node and npm (express@5 is installed once into the system's
temporary directory). Each server runs in its own process with one IOLoop / one event loop, as
in production; wrk runs with one thread and 50 keep-alive connections. For each path, after a
short warm-up, the servers take turns under load for ROUNDS rounds of ROUND_SECONDS, so that a
noisy neighbour on the machine weighs on both alike; the medians of the rounds are reported:
requests/s and p99 latency per path, and the ratio. Goal (SPEC): >= 2x Express.

Slipway's server is started as server.py would route it (the site rule first in an Application
with the dashboard behind it, the same HTTPServer settings), with the access log off as Express
has none; one more run on `/` shows the cost of the access log at INFO.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = "localhost"
HOST = f"bench.{DOMAIN}"
ROUNDS = 5
ROUND_SECONDS = 2
WARM_UP_SECONDS = 1
CONNECTIONS = 50
PATHS = {
    "/": "index.html",
    "/assets/index-3f9a2c1d.js": "150 KB hashed asset",
    "/dashboard/settings": "SPA route (index fallback)",
    "/pricing": "clean URL (pricing.html)",
}
EXPRESS_DIR = Path(tempfile.gettempdir()) / "slipway-bench-express5"
EXPRESS_SERVER = """
const express = require(process.argv[2]);
const path = require('path');
const root = process.argv[3];
const app = express();
app.use(express.static(root, {extensions: ['html']}));
app.use((req, res) => {
  if (path.extname(req.path)) return res.status(404).end();
  res.sendFile(path.join(root, 'index.html'));
});
app.listen(+process.argv[4], '127.0.0.1');
"""


@dataclass
class Result:
    requests_per_second: float
    p99_ms: float
    errors: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _make_site(deployments: Path) -> Path:
    release = deployments / "bench" / "releases" / "1"
    (release / "assets").mkdir(parents=True)
    (release / "index.html").write_text(
        "<!doctype html>\n<html lang=en>\n<head>\n<meta charset=utf-8>\n"
        "<meta name=viewport content='width=device-width, initial-scale=1'>\n"
        "<title>Bench</title>\n<link rel=stylesheet href=/assets/index-5b6c7d8e.css>\n"
        "<script type=module src=/assets/index-3f9a2c1d.js></script>\n</head>\n"
        "<body>\n<div id=app></div>\n" + "<!-- padding -->\n" * 60 + "</body>\n</html>\n")
    line = "export function f{n}(a, b) {{ return a * {n} + b - {n}; }}\n"
    script = "".join(line.format(n=n) for n in range(4000)).encode()[:150 * 1024]
    (release / "assets" / "index-3f9a2c1d.js").write_bytes(script)
    (release / "assets" / "index-5b6c7d8e.css").write_text("body { margin: 0 }\n" * 500)
    (release / "pricing.html").write_text(
        "<!doctype html>\n<title>Pricing</title>\n" + "<p>plans and prices</p>\n" * 80)
    os.symlink("releases/1", deployments / "bench" / "current")
    return deployments / "bench" / "current"


def _express_module() -> Path:
    module = EXPRESS_DIR / "node_modules" / "express"
    if not module.exists():
        EXPRESS_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix",
                        str(EXPRESS_DIR), "express@5"], check=True, capture_output=True,
                       timeout=300)
    return module


def _wait_until_serving(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 20
    while True:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/", headers={"Host": HOST})
        try:
            with urllib.request.urlopen(request, timeout=2) as answer:  # noqa: S310
                if answer.status == 200:
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"server on port {port} did not come up")
        time.sleep(0.1)


def _fetch(port: int, path: str) -> bytes:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": HOST})
    with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
        assert answer.status == 200
        return answer.read()


def _wrk(port: int, path: str, seconds: int) -> Result:
    output = subprocess.run(
        ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "-H", f"Host: {HOST}",
         f"http://127.0.0.1:{port}{path}"],
        check=True, capture_output=True, text=True, timeout=seconds + 30).stdout
    rate = float(re.search(r"Requests/sec:\s+([0-9.]+)", output).group(1))
    value, unit = re.search(r"99%\s+([0-9.]+)(us|ms|s)", output).groups()
    p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    errors = "; ".join(line.strip() for line in output.splitlines()
                       if "Non-2xx" in line or "Socket errors" in line)
    return Result(rate, p99, errors)


def _start_slipway(deployments: Path, port: int, log_level: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.bench.bench_serving", str(deployments), str(port),
         log_level],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_static_serving_against_express(tmp_path):
    for tool in ("wrk", "node", "npm"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (apt-get install wrk nodejs npm)")
    deployments = tmp_path / "deployments"
    site = _make_site(deployments)
    express_script = tmp_path / "express-static.js"
    express_script.write_text(EXPRESS_SERVER)
    module = _express_module()

    ports = {"slipway": _free_port(), "express": _free_port(), "slipway+log": _free_port()}
    processes = {
        "slipway": _start_slipway(deployments, ports["slipway"], "WARNING"),
        "slipway+log": _start_slipway(deployments, ports["slipway+log"], "INFO"),
        "express": subprocess.Popen(
            ["node", str(express_script), str(module), str(site), str(ports["express"])],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    }
    results: dict[tuple[str, str], Result] = {}
    try:
        for name, process in processes.items():
            _wait_until_serving(ports[name], process)
        for path in PATHS:
            assert _fetch(ports["slipway"], path) == _fetch(ports["express"], path)
        for path in PATHS:
            for name in ("express", "slipway"):
                _wrk(ports[name], path, WARM_UP_SECONDS)
            rounds: dict[str, list[Result]] = {"express": [], "slipway": []}
            for _ in range(ROUNDS):
                for name in rounds:
                    rounds[name].append(_wrk(ports[name], path, ROUND_SECONDS))
            for name, runs in rounds.items():
                results[name, path] = _median(runs)
        _wrk(ports["slipway+log"], "/", WARM_UP_SECONDS)
        results["slipway+log", "/"] = _median(
            [_wrk(ports["slipway+log"], "/", ROUND_SECONDS) for _ in range(ROUNDS)])
    finally:
        for process in processes.values():
            process.terminate()
            process.wait(10)
    _report(results)
    assert not any(result.errors for result in results.values()), results


def _median(runs: list[Result]) -> Result:
    return Result(statistics.median(r.requests_per_second for r in runs),
                  statistics.median(r.p99_ms for r in runs),
                  "; ".join(r.errors for r in runs if r.errors))


def _report(results: dict[tuple[str, str], Result]) -> None:
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"\n{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}; "
          f"Python {platform.python_version()}, node {node}; wrk -t1 -c{CONNECTIONS}, "
          f"median of {ROUNDS} alternating rounds of {ROUND_SECONDS} s")
    print(f"{'path':<28}{'Slipway req/s':>15}{'p99 ms':>9}{'Express req/s':>15}{'p99 ms':>9}"
          f"{'ratio':>8}")
    for path, label in PATHS.items():
        ours, theirs = results["slipway", path], results["express", path]
        print(f"{path:<28}{ours.requests_per_second:>15,.0f}{ours.p99_ms:>9.2f}"
              f"{theirs.requests_per_second:>15,.0f}{theirs.p99_ms:>9.2f}"
              f"{ours.requests_per_second / theirs.requests_per_second:>7.2f}x  {label}")
    logged = results["slipway+log", "/"]
    print(f"with the access log at INFO, /: {logged.requests_per_second:,.0f} req/s, "
          f"p99 {logged.p99_ms:.2f} ms")


def serve(deployments: Path, port: int, log_level: str) -> None:
    """The server process: the site rule first, as server.py routes it, then a stand-in for
    the dashboard; the same HTTPServer settings as server.py."""
    import asyncio
    import logging

    import tornado.httpserver
    import tornado.log
    import tornado.web
    from tornado.routing import Rule

    from handlers.access_log import log_request
    from handlers.sites import SiteHostMatcher, SiteServer

    class Dashboard(tornado.web.RequestHandler):
        def get(self) -> None:
            self.finish("dashboard")

    handler = logging.StreamHandler()
    handler.setFormatter(tornado.log.LogFormatter())
    logging.getLogger().handlers[:] = [handler]
    logging.getLogger().setLevel(log_level)

    async def main() -> None:
        app = tornado.web.Application(
            [Rule(SiteHostMatcher(DOMAIN), SiteServer(deployments)), (r"/(.*)", Dashboard)],
            log_function=log_request)
        server = tornado.httpserver.HTTPServer(app, max_body_size=64 * 1024 * 1024,
                                               idle_connection_timeout=120)
        server.listen(port, "127.0.0.1")
        await asyncio.Event().wait()

    asyncio.run(main())


if __name__ == "__main__":
    serve(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
