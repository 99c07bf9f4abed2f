"""Fixtures for tests that run real builds (tests/engine, tests/frameworks), loaded for the
whole suite by `pytest_plugins` in tests/conftest.py: a configuration using the local Node
image, and apps whose dispatcher runs builds (`await builds(**config_changes)`)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from engine.containers.docker_engine import DockerUnavailable, connect_docker
from engine.containers.images import sweep_instance
from tests.support.accounts import sign_in_local_admin
from tests.support.app import close_app, open_app
from tests.support.builds import Builds
from tests.support.http import ApiClient


@pytest.fixture
def build_config(config, node_image):
    return replace(config, node_image=node_image, build_network="none", build_timeout=60,
                   build_memory=512 * 1024**2)


@pytest.fixture
def builds(build_config, io_loop, github):
    async def start(config):
        running = await open_app(config, run_builds=True)
        api = ApiClient(running.url)
        return Builds(running, api, await sign_in_local_admin(running, api))

    opened: list[Builds] = []

    async def open_builds(**changes) -> Builds:
        opened.append(await start(replace(build_config, **changes)))
        return opened[-1]

    yield open_builds
    for session in opened:
        session.api.close()
        io_loop.run_sync(lambda s=session: close_app(s.running), timeout=60)
        _remove_images(session.running.app.config)


def _remove_images(config) -> None:
    """The install images the session's builds left (a real framework's weighs hundreds of
    MB): its instance is never started again."""
    try:
        client = connect_docker(config.docker_host)
    except DockerUnavailable:
        return
    try:
        sweep_instance(client, config.instance, set())
    finally:
        client.close()
