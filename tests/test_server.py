"""`python server.py` as a user runs it: start, answer, stop cleanly, start again."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest

from tests.support.server_process import ROOT, ServerProcess


def _postgres_pid(pgdata: Path) -> int:
    return int((pgdata / "postmaster.pid").read_text().split()[0])


def _alive(pid: int, grace_seconds: float = 10) -> bool:
    """Whether `pid` still runs after a grace period (pg_ctl returns once postmaster.pid is
    gone, a moment before the process itself; a zombie awaiting its reaper counts as gone)."""
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return False
        if state == "Z":
            return False
        time.sleep(0.05)
    return True


def _embedded_url(pgdata: Path) -> str:
    return f"postgresql://postgres:@/postgres?host={pgdata}"


@pytest.fixture
def tmp_path():
    """Outside pytest's own temporary root. The embedded PostgreSQL runs as another OS user
    and needs every parent directory traversable, but pytest sets its root back to 0700 when
    any other pytest session starts on the machine, pulling the floor from under a running
    server."""
    path = Path(tempfile.mkdtemp(prefix="slipway-server-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def data_args(tmp_path):
    return ["--data-dir", str(tmp_path / "data"), "--deployments-dir", str(tmp_path / "sites")]


def test_embedded_database_starts_keeps_data_and_stops_with_the_server(tmp_path, data_args):
    pgdata = tmp_path / "data" / "pg"
    first = ServerProcess(tmp_path, *data_args)
    try:
        assert first.health()["db"] == "ok"
        postgres_pid = _postgres_pid(pgdata)
        with psycopg.connect(_embedded_url(pgdata), autocommit=True) as conn:
            conn.execute("INSERT INTO users (github_id, username) VALUES (1, 'kept')")
    finally:
        assert first.stop(signal.SIGINT) == 0
    assert not _alive(postgres_pid), "Ctrl-C left PostgreSQL running"
    assert "Traceback" not in first.output()

    second = ServerProcess(tmp_path, *data_args)
    try:
        assert second.health()["db"] == "ok"
        with psycopg.connect(_embedded_url(pgdata)) as conn:
            assert conn.execute("SELECT username FROM users WHERE github_id = 1").fetchall() == [
                ("kept",)]
        postgres_pid = _postgres_pid(pgdata)
    finally:
        assert second.stop(signal.SIGTERM) == 0
    assert not _alive(postgres_pid), "SIGTERM left PostgreSQL running"


def test_a_crashed_run_does_not_keep_postgres_alive_after_the_next_clean_stop(tmp_path,
                                                                              data_args):
    pgdata = tmp_path / "data" / "pg"
    crashed = ServerProcess(tmp_path, *data_args)
    crashed.health()
    crashed.stop(signal.SIGKILL)  # leaves postgres running and a stale handle behind

    recovered = ServerProcess(tmp_path, *data_args)
    try:
        assert recovered.health()["db"] == "ok"
        postgres_pid = _postgres_pid(pgdata)
    finally:
        assert recovered.stop() == 0
    assert not _alive(postgres_pid)


def test_database_url_is_used_instead_of_the_embedded_server(tmp_path, data_args, postgres):
    url = postgres.new_database(template=False)
    server = ServerProcess(tmp_path, *data_args, env={"DATABASE_URL": url})
    try:
        assert server.health()["db"] == "ok"
    finally:
        assert server.stop() == 0
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] >= 1
    assert not (tmp_path / "data" / "pg").exists()
    postgres.drop_database(url)


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"SLIPWAY_PORT": "eighty"}, "SLIPWAY_PORT (--port)"),
        ({"SLIPWAY_SECRET_KEY": "too-short"}, "SLIPWAY_SECRET_KEY (--secret-key)"),
        ({"SLIPWAY_DATA_DIR": "/dev/null/data"}, "SLIPWAY_DATA_DIR (--data-dir)"),
    ],
)
def test_bad_configuration_stops_start_up_with_one_line(tmp_path, env, setting):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    environ.update(env)
    args = [] if "SLIPWAY_DATA_DIR" in env else ["--data-dir", str(tmp_path / "data")]
    if "SLIPWAY_PORT" not in env:
        args += ["--port", "0"]
    result = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), *args], cwd=tmp_path, env=environ,
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"slipway: configuration error: {setting}")


def test_a_port_in_use_stops_start_up_with_one_line(tmp_path, data_args):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, str(ROOT / "server.py"), *data_args, "--bind", "127.0.0.1",
             "--port", str(port)],
            cwd=tmp_path, capture_output=True, text=True, timeout=60,
        )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"slipway: cannot start: SLIPWAY_PORT (--port): cannot listen on 127.0.0.1:{port}: "
        "Address already in use"
    )
    assert not (tmp_path / "data" / "pg").exists(), "the database started before the port check"


@pytest.mark.parametrize(("bind", "message"), [
    ("999.1.1.1", "slipway: configuration error: SLIPWAY_BIND (--bind) must be an IP address"),
    # A valid address that is not this machine's: the address is at fault, not the port.
    ("192.0.2.1", "slipway: cannot start: SLIPWAY_BIND (--bind): cannot listen on 192.0.2.1:"),
])
def test_a_bad_bind_address_is_named_as_the_bind_setting(tmp_path, data_args, bind, message):
    result = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), *data_args, "--bind", bind, "--port", "0"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode in (1, 2)
    assert result.stderr.strip().splitlines()[-1].startswith(message), result.stderr


def test_reload_restarts_on_a_source_change_and_ctrl_c_stops_everything(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    shutil.copy(ROOT / "server.py", source)
    for package in ("engine", "handlers", "sql"):
        shutil.copytree(ROOT / package, source / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    server = ServerProcess(tmp_path, "--reload", "--data-dir", str(tmp_path / "data"),
                           "--deployments-dir", str(tmp_path / "sites"),
                           script=source / "server.py", sigint_ignored=True)
    try:
        server.health()
        (source / "engine" / "names.py").touch()
        _wait_for(lambda: server.output().count("listening on") == 2, server)
        assert server.health()["db"] == "ok"
        postgres_pid = _postgres_pid(tmp_path / "data" / "pg")
    finally:
        assert server.stop(signal.SIGINT) == 0
    assert not _alive(postgres_pid)


def _wait_for(condition, server: ServerProcess, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; server output:\n{server.output()}")
        time.sleep(0.1)


def _post_json(port: int, path: str, body: dict,
               headers: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_start_prints_a_sign_in_link_and_login_link_makes_another_beside_it(tmp_path,
                                                                              data_args):
    server = ServerProcess(tmp_path, *data_args)
    try:
        server.health()
        _wait_for(lambda: "/login#code=" in server.output(), server)
        printed = re.search(r"http://localhost:\d+/login#code=(\S+)", server.output())
        assert printed, server.output()
        assert not any("#code=" in line for line in server.output().splitlines()
                       if line.startswith("[")), "the sign-in link went into a log line"

        # The hint names a command that works outside the venv, and it says nothing false
        # about the server's database, which keeps running.
        hint = re.search(r"Another link at any time \(same settings\): (.+)", server.output())
        assert hint and hint[1].endswith("scripts/run login-link"), server.output()
        environ = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
        environ["PATH"] = "/usr/local/bin:/usr/bin:/bin"
        result = subprocess.run(
            [*shlex.split(hint[1]), *data_args],
            cwd=tmp_path, capture_output=True, text=True, timeout=120, env=environ,
        )
        assert result.returncode == 0, result.stderr
        assert "PostgreSQL stopped" not in result.stderr
        assert server.health()["db"] == "ok"
        fresh = re.search(r"/login#code=(\S+)", result.stdout)
        assert fresh and fresh[1] != printed[1]

        for code in (printed[1], fresh[1]):
            status, body = _post_json(server.port, "/api/auth/session", {"code": code})
            assert status == 200
            assert body["user"]["is_local_admin"] is True
        status, _ = _post_json(server.port, "/api/auth/session", {"code": printed[1]})
        assert status == 401
    finally:
        assert server.stop() == 0


def test_killing_the_server_mid_build_leaves_no_stuck_build_or_container(
    tmp_path, data_args, node_image, docker_client
):
    from tests.support.repos import make_repo

    repo = make_repo(tmp_path / "repo", {
        "package.json": json.dumps({"name": "slow", "version": "1.0.0",
                                    "scripts": {"build": "node slow.js"}}),
        "slow.js": "console.log('started'); setTimeout(() => {}, 600000);"})
    env = {"SLIPWAY_NODE_IMAGE": node_image, "SLIPWAY_BUILD_NETWORK": "none"}
    first = ServerProcess(tmp_path, *data_args, env=env)
    first.health()
    _wait_for(lambda: "/login#code=" in first.output(), first)
    code = re.search(r"/login#code=(\S+)", first.output())[1]
    _, session = _post_json(first.port, "/api/auth/session", {"code": code})
    headers = {"Authorization": f"Bearer {session['token']}"}
    _, project = _post_json(first.port, "/api/projects",
                            {"name": "slow", "repo_url": str(repo)}, headers)
    build_id = project["latest_build"]["id"]
    label = {"label": f"slipway.build={build_id}"}
    _wait_for(lambda: docker_client.containers.list(filters=label), first, seconds=60)

    first.stop(signal.SIGKILL)
    assert docker_client.containers.list(filters=label), "the container should outlive a kill"

    second = ServerProcess(tmp_path, *data_args, env=env)
    try:
        second.health()
        status, build = _get_json(second.port, f"/api/builds/{build_id}", headers)
        assert status == 200
        assert (build["status"], build["error"]) == ("failed", "interrupted by restart")
        assert not docker_client.containers.list(all=True, filters=label)
    finally:
        assert second.stop() == 0


def _get_json(port: int, path: str, headers: dict) -> tuple[int, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_nginx_config_prints_only_the_configuration(tmp_path, data_args):
    result = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "nginx-config", *data_args,
         "--domain", "sites.example.com"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# nginx configuration for Slipway")
    assert r"sites\.example\.com" in result.stdout
