"""`GET /api/projects` for a user with 1,000 projects, at 50 concurrent requests.

Run on demand: ./scripts/test tests/bench/bench_projects_list.py -s
SPEC.md (Scale-out): "with 1,000 projects its p99 stays under 50 ms at 50 concurrent requests
on one web process". Needs `wrk` (apt-get install wrk).

The real server (`server.py serve`) runs in a process of its own with the access log off, as
one web process would; the local administrator signs in through the printed link, as a user
would. Their 1,000 projects (and 1,000 of another user, so the query has rows to skip) are
written straight to the database: each with three finished builds and a live deployment of the
newest. wrk (one thread, 50 keep-alive connections, gzip accepted as browsers do) then asks
for the default page for ROUND_SECONDS after a warm-up. Prints requests/s, p50 and p99 and the
answer's size; only the answer being right (a full first page, newest first) is asserted.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest

from sql.database import connection_kwargs

ROOT = Path(__file__).resolve().parents[2]
PROJECTS = 1_000
BUILDS_PER_PROJECT = 3
CONNECTIONS = 50
ROUND_SECONDS = 10
WARM_UP_SECONDS = 2
PATH = "/api/projects"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(db_url: str, port: int, tmp_path: Path) -> subprocess.Popen:
    environ = {**os.environ, "SLIPWAY_LOG_LEVEL": "WARNING"}
    return subprocess.Popen(
        [sys.executable, "server.py", "serve", "--database-url", db_url, "--port", str(port),
         "--bind", "127.0.0.1", "--public-url", f"http://127.0.0.1:{port}",
         "--data-dir", str(tmp_path / "data"), "--deployments-dir", str(tmp_path / "sites")],
        cwd=ROOT, env=environ, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def _sign_in(process: subprocess.Popen, port: int) -> tuple[int, str]:
    """(user id, session token) of the local administrator, from the link the server prints."""
    deadline = time.monotonic() + 60
    for line in process.stdout:
        if "#code=" in line:
            code = line.strip().split("#code=", 1)[1]
            break
        if time.monotonic() > deadline:
            raise AssertionError("the server printed no sign-in link")
    else:
        raise AssertionError("the server exited before printing its sign-in link")
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/auth/session", data=json.dumps({"code": code}).encode(),
        headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        body = json.load(answer)
    return body["user"]["id"], body["token"]


def _add_projects(conn: psycopg.Connection, owner_id: int, prefix: str) -> None:
    """PROJECTS projects of `owner_id`, each with finished builds and a live deployment."""
    with conn.cursor().copy("COPY projects (owner_id, name, repo_url, branch, build_command, "
                            "output_dir, framework, production_url) FROM STDIN") as copy:
        for n in range(PROJECTS):
            copy.write_row((owner_id, f"{prefix}{n}", f"https://git.example.com/{prefix}{n}.git",
                            "main", "npm run build", "dist", "vite",
                            f"http://{prefix}{n}.localhost"))
    conn.execute(
        "INSERT INTO builds (project_id, trigger, branch, commit_sha, commit_message, "
        "commit_author, status, exit_code, started_at, finished_at) "
        "SELECT p.id, 'push', 'main', md5(p.id::text || n) || left(md5(n::text), 8), "
        "'Update the landing page copy', "
        "'Ada Lovelace', 'passed', 0, now() - interval '2 minutes', now() - interval '1 minute' "
        "FROM projects p, generate_series(1, %s) n WHERE p.owner_id = %s ORDER BY n, p.id",
        (BUILDS_PER_PROJECT, owner_id))
    conn.execute(
        "INSERT INTO deployments (project_id, build_id, status, url) "
        "SELECT p.id, (SELECT max(b.id) FROM builds b WHERE b.project_id = p.id), 'live', "
        "p.production_url FROM projects p WHERE p.owner_id = %s", (owner_id,))


def _get(port: int, token: str) -> bytes:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{PATH}",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        assert answer.status == 200
        return answer.read()


def _wrk(port: int, token: str, seconds: int) -> str:
    return subprocess.run(
        ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "--timeout", "10s",
         "-H", f"Authorization: Bearer {token}", "-H", "Accept-Encoding: gzip",
         f"http://127.0.0.1:{port}{PATH}"],
        check=True, capture_output=True, text=True, timeout=seconds + 30).stdout


def _milliseconds(output: str, percentile: str) -> float:
    value, unit = re.search(rf"{percentile}%\s+([0-9.]+)(us|ms|s)", output).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def test_project_list_of_1000_projects_at_50_concurrent_requests(db_url, tmp_path):
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (apt-get install wrk)")
    port = _free_port()
    server = _start_server(db_url, port, tmp_path)
    try:
        owner_id, token = _sign_in(server, port)
        with psycopg.connect(db_url, **connection_kwargs(db_url)) as conn:
            other = conn.execute("INSERT INTO users (github_id, username) VALUES (2, 'other') "
                                 "RETURNING id").fetchone()[0]
            _add_projects(conn, other, "other")
            _add_projects(conn, owner_id, "site")
            conn.execute("ANALYZE")
        body = _get(port, token)
        page = json.loads(body)
        assert page and page[0]["name"] == f"site{PROJECTS - 1}", page[:1]
        assert all(p["live_deployment"] and p["latest_build"] for p in page)
        _wrk(port, token, WARM_UP_SECONDS)
        output = _wrk(port, token, ROUND_SECONDS)
    finally:
        server.terminate()
        server.wait(15)
    rate = float(re.search(r"Requests/sec:\s+([0-9.]+)", output).group(1))
    errors = [line.strip() for line in output.splitlines()
              if "Non-2xx" in line or "Socket errors" in line]
    print(f"\n{os.cpu_count()} CPUs; {PROJECTS} projects ({BUILDS_PER_PROJECT} builds and a live "
          f"deployment each); GET {PATH}: {len(page)} projects, {len(body):,} bytes "
          f"uncompressed\nwrk -t1 -c{CONNECTIONS} -d{ROUND_SECONDS}s: {rate:,.0f} req/s, "
          f"p50 {_milliseconds(output, '50'):.1f} ms, p99 {_milliseconds(output, '99'):.1f} ms"
          f"{'; ' + '; '.join(errors) if errors else ''}")
    assert not errors, errors
