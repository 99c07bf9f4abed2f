"""Shared fixtures: one IOLoop, one PostgreSQL and one Docker engine per session; per test a fresh
database, a configuration in temporary directories, and the real app on an ephemeral port.

SLIPWAY_NO_SKIP=1 (set by CI) turns every skip into a failure, so a missing Docker engine or
browser can never pass for a green run.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import tornado.ioloop

from engine.config import Config, parse_config
from engine.containers.docker_engine import DockerUnavailable, connect_docker
from tests.support import leaks
from tests.support.app import RunningApp, start_app, stop_app
from tests.support.base_images import ensure_busybox_image, ensure_node_image
from tests.support.fake_github import FakeGitHub
from tests.support.http import ApiClient
from tests.support.postgres import TestPostgres
from tests.support.proxies import DatabaseProxy
from tests.support.s3_server import CREDENTIALS, S3Server
from tests.support.s3_server import running as s3_running

# The browser fixtures (`slipway_factory`, `chromium`, `new_page`, ...) live in one module so
# that both the browser tests and the benchmarks can use them.
pytest_plugins = ["tests.support.browser_fixtures", "tests.support.build_fixtures"]

NO_SKIP = os.environ.get("SLIPWAY_NO_SKIP", "").lower() in ("1", "true", "yes")
DOCKER_HOST = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")


def pytest_configure(config: pytest.Config) -> None:
    # A SIGTERM (CI timeout, Ctrl-C in some runners) must still run fixture finalizers, or the
    # embedded PostgreSQL started for the session outlives it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if NO_SKIP and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped, but SLIPWAY_NO_SKIP forbids skips: {reason}"


@pytest.fixture(scope="session")
def io_loop() -> Iterator[tornado.ioloop.IOLoop]:
    """One event loop for the whole session, so session resources live on the tests' loop."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    io_loop = tornado.ioloop.IOLoop.current()
    yield io_loop
    # As asyncio.run does: cancel what is still pending (engine.io's ping timers sleep for 25 s
    # after a socket closes) so the loop closes cleanly.
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    io_loop.close(all_fds=False)
    asyncio.set_event_loop(None)
    loop.close()


@pytest.fixture(scope="session")
def postgres(io_loop: tornado.ioloop.IOLoop) -> Iterator[TestPostgres]:
    server = TestPostgres(io_loop.run_sync)
    yield server
    server.close()


@pytest.fixture
def db_url(postgres: TestPostgres) -> Iterator[str]:
    """A fresh, migrated database for this test alone."""
    url = postgres.new_database()
    yield url
    postgres.drop_database(url)


@pytest.fixture
def database_proxy(db_url: str, io_loop: tornado.ioloop.IOLoop) -> Iterator[DatabaseProxy]:
    """This test's database behind a TCP proxy the test can cut and restore (an outage)."""
    proxy = DatabaseProxy(db_url)
    io_loop.run_sync(proxy.start)
    yield proxy
    io_loop.run_sync(proxy.close)


@pytest.fixture(scope="session")
def github_server(io_loop: tornado.ioloop.IOLoop, tmp_path_factory) -> Iterator[FakeGitHub]:
    """One fake GitHub for the session, over real HTTP on the session's loop."""
    fake = FakeGitHub(tmp_path_factory.mktemp("github"))
    fake.start()
    leaks.exempt(fake.url)
    leaks.forbid_from(lambda: [user.token for user in fake.users.values()])
    yield fake
    io_loop.run_sync(fake.stop)


@pytest.fixture
def github(github_server: FakeGitHub) -> FakeGitHub:
    """The session's fake GitHub, emptied for this test."""
    github_server.reset()
    leaks.reset()
    return github_server


@pytest.fixture
def config(tmp_path: Path, db_url: str, github: FakeGitHub) -> Config:
    """A configuration in this test's temporary directory, on this test's database, with
    GitHub's addresses pointing at the fake (never at github.com). OAuth stays unconfigured:
    `oauth_config` adds the app's credentials."""
    return replace(
        parse_config(
            ["--data-dir", str(tmp_path / "data"), "--deployments-dir", str(tmp_path / "sites")],
            environ={},
        ),
        database_url=db_url,
        docker_host=DOCKER_HOST,
        build_network="none",
        github_url=github.url,
        github_api_url=github.api_url,
    )


@pytest.fixture
def oauth_config(config: Config) -> Config:
    return replace(config, github_client_id=FakeGitHub.CLIENT_ID,
                   github_client_secret=FakeGitHub.CLIENT_SECRET)


@pytest.fixture
def app_server(config: Config, io_loop: tornado.ioloop.IOLoop) -> Iterator[RunningApp]:
    running = start_app(config, io_loop)
    yield running
    stop_app(running, io_loop)


@pytest.fixture
def api(app_server: RunningApp) -> Iterator[ApiClient]:
    client = ApiClient(app_server.url)
    yield client
    client.close()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """One S3 endpoint for the session (moto's server, a process of its own); the throwaway
    keys it takes are put in this process's environment for boto3, as a user's would be."""
    with s3_running() as server:
        for name, value in CREDENTIALS.items():
            os.environ.setdefault(name, value)
        yield server


@pytest.fixture
def s3_config(config: Config, s3_server: S3Server) -> Config:
    """`config` with releases in a fresh bucket of the session's S3 server."""
    return replace(config, storage=f"s3://{s3_server.bucket()}/releases",
                   s3_endpoint=s3_server.url)


@pytest.fixture(scope="session")
def docker_client():
    """The local Docker engine; a skip (a failure under SLIPWAY_NO_SKIP) when there is none."""
    try:
        client = connect_docker(DOCKER_HOST)
    except DockerUnavailable as exc:
        pytest.skip(str(exc))
    yield client
    client.close()


def _base_image(build, docker_client, what: str) -> str:
    try:
        return build(docker_client)
    except RuntimeError as exc:
        pytest.skip(f"cannot build the {what} test image: {exc}")


@pytest.fixture(scope="session")
def busybox_image(docker_client) -> str:
    """A busybox image built from the host's busybox-static (no registry is reachable)."""
    return _base_image(ensure_busybox_image, docker_client, "busybox")


@pytest.fixture(scope="session")
def node_image(docker_client) -> str:
    """A Node image built from the host's node and npm, for offline `npm install`."""
    return _base_image(ensure_node_image, docker_client, "node")
