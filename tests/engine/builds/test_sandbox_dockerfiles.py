"""Hostile Dockerfiles and image outputs (SPEC, Builds, 0): what Slipway's own builder does
outside the containers (copies, commits) stays within the build's memory and time, and inputs
it cannot build fail the build with a reason, never with an internal error. Real Git
repositories, the real Docker engine (network none), the real API."""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from tests.support.repos import make_repo

INDEX = "<h1>hostile</h1>"


def _release(session, build_id: int, project: str = "site") -> Path:
    return session.running.app.config.deployments_dir / project / "releases" / str(build_id)


def _ran_for(build: dict) -> float:
    started = datetime.fromisoformat(build["started_at"].replace("Z", "+00:00"))
    finished = datetime.fromisoformat(build["finished_at"].replace("Z", "+00:00"))
    return (finished - started).total_seconds()


def _commit_empty_message(repo: Path) -> None:
    env = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo),
           "GIT_AUTHOR_NAME": "Mallory", "GIT_AUTHOR_EMAIL": "m@example.com",
           "GIT_COMMITTER_NAME": "Mallory", "GIT_COMMITTER_EMAIL": "m@example.com",
           "PATH": "/usr/bin:/bin"}
    subprocess.run(["git", "commit", "-q", "--amend", "--allow-empty-message", "-m", ""],
                   cwd=repo, env=env, check=True)


class _PeakRss:
    """The peak resident memory of this process (Slipway's server runs in it) while open."""

    def __init__(self) -> None:
        self.base = self.peak = self._rss()
        self._stop = False
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    @staticmethod
    def _rss() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def _sample(self) -> None:
        while not self._stop:
            self.peak = max(self.peak, self._rss())
            time.sleep(0.02)

    def close(self) -> int:
        self._stop = True
        self._thread.join(2)
        return self.peak - self.base


# -- Steps Slipway runs itself, outside any container's limits ------------------------------

@pytest.mark.gen_test(timeout=180)
async def test_copy_from_a_huge_sparse_file_stays_within_the_memory_limit(
        builds, tmp_path, busybox_image, docker_client):
    session = await builds(build_memory=64 * 1024**2)
    repo = make_repo(tmp_path / "repo", {"Dockerfile": (
        f"FROM {busybox_image} AS big\nRUN truncate -s 400M /big\n"
        f"FROM {busybox_image}\nWORKDIR /app\nCOPY --from=big /big /app/big\n")})
    rss = _PeakRss()
    try:
        project = await session.project(repo, output_dir="public")
        build = await session.finished(project["latest_build"]["id"], seconds=150)
    finally:
        grown = rss.close()
    # 400 MiB stays under SLIPWAY_MAX_OUTPUT (1 GiB), which caps what COPY --from reads.
    assert grown < 256 * 1024**2, (
        f"Slipway's own memory grew by {grown / 1024**2:.0f} MiB copying a sparse file "
        f"(build memory 64 MiB): {build['status']} {build['error']}")


@pytest.mark.gen_test(timeout=300)
async def test_committing_a_run_step_that_made_a_huge_sparse_file_is_stopped_by_the_timeout(
        builds, tmp_path, busybox_image, docker_client):
    # `truncate` is instant and costs no memory; Docker's commit of the step then writes the
    # 1.5 GiB as a layer, after the step's container ended, with no deadline watching.
    session = await builds(build_timeout=4)
    repo = make_repo(tmp_path / "repo", {
        "Dockerfile": f"FROM {busybox_image}\nRUN truncate -s 1500M /big\n"})
    project = await session.project(repo, output_dir="public")
    build = await session.finished(project["latest_build"]["id"], seconds=100)
    assert _ran_for(build) <= 4 + 5, (
        f"ran {_ran_for(build):.0f} s with a 4 s timeout: {build['status']} {build['error']}")
    assert build["error"] == "timed out after 4 s (SLIPWAY_BUILD_TIMEOUT)", build["error"]
    # The engine finishes the commit after the build gave up on it; the 1.5 GiB image it makes
    # is no use to anyone and must not stay on the host's disk (each hostile push would add one).
    instance = session.running.app.config.instance
    await _committed_by_the_engine(docker_client, instance, seconds=120)
    left = await _images_left(docker_client, instance, seconds=30)
    assert not left, f"the abandoned commit left {left} on the engine"


async def _committed_by_the_engine(client, instance: str, seconds: float) -> None:
    """Wait for Docker's commit event of a container of this instance (the step's)."""
    def wait() -> bool:
        since = int(time.time()) - 600
        until = since + 600 + int(seconds)
        events = client.events(since=since, until=until, decode=True, filters={
            "type": "container", "event": "commit", "label": f"slipway.instance={instance}"})
        try:
            return any(True for _ in events)
        finally:
            events.close()
    assert await asyncio.to_thread(wait), f"no commit ended within {seconds} s"


async def _images_left(client, instance: str, seconds: float) -> list[str]:
    """The instance's images that are still there after `seconds` (or once there are none)."""
    deadline = time.monotonic() + seconds
    while True:
        # The low-level list: the high-level one inspects each image, which may be gone by then.
        left = [image["Id"] for image in await asyncio.to_thread(
            client.api.images, all=True, filters={"label": f"slipway.instance={instance}"})]
        if not left or time.monotonic() > deadline:
            return left
        await asyncio.sleep(0.5)


# -- Inputs that crash the build instead of failing it with a reason ----------------------

@pytest.mark.gen_test(timeout=120)
async def test_a_commit_with_an_empty_message_builds(builds, tmp_path):
    session = await builds()
    repo = make_repo(tmp_path / "repo", {"index.html": INDEX})
    _commit_empty_message(repo)
    project = await session.project(repo)
    build = await session.finished(project["latest_build"]["id"])
    assert build["status"] == "passed", build["error"]


@pytest.mark.parametrize("making", [
    "ln -s /etc/passwd public/passwd",
    "mkfifo public/pipe",
], ids=["absolute-link", "fifo"])
@pytest.mark.gen_test(timeout=120)
async def test_an_image_output_with_a_link_out_or_a_fifo_is_published_without_it(
        builds, tmp_path, busybox_image, making):
    session = await builds()
    repo = make_repo(tmp_path / "repo", {"Dockerfile": (
        f"FROM {busybox_image}\nWORKDIR /app\n"
        f"RUN mkdir public && echo hi > public/index.html && {making}\n")})
    project = await session.project(repo, output_dir="public")
    build = await session.finished(project["latest_build"]["id"])
    assert "internal error" not in (build["error"] or ""), build["error"]
    assert build["status"] == "passed", build["error"]


@pytest.mark.parametrize("steps", [
    'ENV A="unterminated',
    'COPY "unterminated /x',
    "RUN " + "[" * 50000,
    "USER nosuchuser\nRUN true",
    'SHELL ["/no/such/shell"]\nRUN true',
], ids=["env-quote", "copy-quote", "deep-json", "unknown-user", "missing-shell"])
@pytest.mark.gen_test(timeout=120)
async def test_a_malformed_dockerfile_fails_with_a_reason(builds, tmp_path, busybox_image,
                                                        steps):
    session = await builds()
    repo = make_repo(tmp_path / "repo", {
        "index.html": INDEX, "Dockerfile": f"FROM {busybox_image}\n{steps}\n"})
    project = await session.project(repo, output_dir="public")
    build = await session.finished(project["latest_build"]["id"])
    assert build["status"] == "failed"
    assert "internal error" not in build["error"], build["error"]
