"""Several `server.py` processes sharing one PostgreSQL and one Redis, as on several machines.

Each process has a data directory of its own (so its own runner id, uploads and caches); they
share the database, the Redis channel, the secret key and the release storage: an S3 bucket
(then each process also has its own deployments directory, its cache) or, with file storage,
one deployments directory. Web processes answer HTTP; worker processes (SLIPWAY_ROLES=worker)
only build.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from engine.config import Config
from tests.support.http import ApiClient
from tests.support.server_process import ServerProcess

if TYPE_CHECKING:
    from docker import DockerClient

    from tests.support.postgres import TestPostgres
    from tests.support.s3_server import S3Server

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
READY_SECONDS = 60


def redis_answers(host: str = REDIS_HOST, port: int = REDIS_PORT) -> bool:
    """True when a Redis server answers PING there."""
    try:
        with socket.create_connection((host, port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class Cluster:
    def __init__(self, root: Path, database_url: str, env: dict[str, str],
                 storage: dict[str, str] | None = None) -> None:
        """`storage`: the S3 settings (SLIPWAY_STORAGE, endpoint, keys); None: file storage
        in one shared deployments directory."""
        self.root = root
        self.processes: dict[str, ServerProcess] = {}
        self.shared_sites = storage is None
        self.env = {
            "DATABASE_URL": database_url,
            "SLIPWAY_REDIS_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/0",
            "SLIPWAY_SECRET_KEY": base64.b64encode(os.urandom(32)).decode(),
            "SLIPWAY_DEPLOYMENTS_DIR": str(root / "deployments"),
            "SLIPWAY_BUILD_NETWORK": "none",
            **(storage or {}),
            **env,
        }

    def web(self, name: str, **env: str) -> ServerProcess:
        process = self._start(name, "web", env)
        process.health()
        return process

    def worker(self, name: str, concurrency: int = 1, **env: str) -> ServerProcess:
        process = self._start(name, "worker",
                              {"SLIPWAY_BUILD_CONCURRENCY": str(concurrency), **env})
        deadline = time.monotonic() + READY_SECONDS
        while "running up to" not in process.output():
            if process.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"worker {name} did not start:\n{process.output()}")
            time.sleep(0.1)
        return process

    def runner_id(self, name: str) -> str:
        return (self.root / name / "data" / "runner-id").read_text().strip()

    def instances(self) -> list[str]:
        """The Docker instance labels of every process started (killed ones included)."""
        return [Config(data_dir=home / "data").instance for home in self.root.iterdir()
                if (home / "data").is_dir()]

    def sign_in_code(self, name: str) -> str:
        process = self.processes[name]
        deadline = time.monotonic() + READY_SECONDS
        while not (found := re.search(r"/login#code=(\S+)", process.output())):
            if time.monotonic() > deadline:
                raise AssertionError(f"no sign-in link from {name}:\n{process.output()}")
            time.sleep(0.1)
        return found[1]

    def kill(self, name: str) -> None:
        """As a machine dies: no clean shutdown, nothing finished."""
        process = self.processes.pop(name)
        os.killpg(process.process.pid, signal.SIGKILL)
        process.process.wait(timeout=10)
        process._log.close()

    def stop(self) -> None:
        for process in self.processes.values():
            if process.process.poll() is None:
                process.stop()
        self.processes.clear()

    def _start(self, name: str, roles: str, env: dict[str, str]) -> ServerProcess:
        home = self.root / name
        home.mkdir(parents=True)
        own = {} if self.shared_sites else {"SLIPWAY_DEPLOYMENTS_DIR": str(home / "sites")}
        process = ServerProcess(home, "--data-dir", str(home / "data"),
                                env={**self.env, **own, "SLIPWAY_ROLES": roles, **env})
        self.processes[name] = process
        return process


@contextmanager
def s3_cluster(root: Path, postgres: TestPostgres, node_image: str,
               docker_client: DockerClient, s3_server: S3Server) -> Iterator[Cluster]:
    """A cluster on a fresh database with releases in S3 (no two processes share a
    directory), building with `node_image`; every process stopped and every build container
    removed afterwards. A skip when no Redis answers."""
    if not redis_answers():
        pytest.skip(f"no Redis server answers on {REDIS_HOST}:{REDIS_PORT}")
    url = postgres.new_database()
    storage = {"SLIPWAY_STORAGE": f"s3://{s3_server.bucket()}/releases", **s3_server.env}
    cluster = Cluster(root, url, {"SLIPWAY_NODE_IMAGE": node_image}, storage)
    try:
        yield cluster
    finally:
        cluster.stop()
        for instance in cluster.instances():  # a killed worker's build container outlives it
            for container in docker_client.containers.list(
                    all=True, filters={"label": f"slipway.instance={instance}"}):
                container.remove(force=True)
        postgres.drop_database(url)


async def signed_in(cluster: Cluster, web: str) -> tuple[ApiClient, dict[str, str], str]:
    """An API client for web process `web`, signed in as the local administrator with the
    link that process printed: the client, its Authorization header and the session token."""
    api = ApiClient(f"http://127.0.0.1:{cluster.processes[web].port}")
    session = (await api.post("/api/auth/session",
                              json_body={"code": cluster.sign_in_code(web)})).json()
    return api, {"Authorization": f"Bearer {session['token']}"}, session["token"]
