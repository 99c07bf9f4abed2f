"""Probes of the hardened build sandbox (SPEC, Builds, 0): each test is an attack that still
works. Real Git repositories, the real Docker engine (network none), the real API."""

from __future__ import annotations

import contextlib
import io
import subprocess
import tarfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import docker
import pytest

from engine.containers.image_builder import _hash
from tests.support.accounts import sign_in_github_user
from tests.support.hostile import SilentServer, files_containing
from tests.support.repos import make_repo

INDEX = "<h1>hostile</h1>"


def _release(session, build_id: int, project: str = "site") -> Path:
    return session.running.app.config.deployments_dir / project / "releases" / str(build_id)


def _ran_for(build: dict) -> float:
    started = datetime.fromisoformat(build["started_at"].replace("Z", "+00:00"))
    finished = datetime.fromisoformat(build["finished_at"].replace("Z", "+00:00"))
    return (finished - started).total_seconds()


def _image_with(docker_client, base: str, files: dict[str, bytes], labels: dict[str, str],
                tag: str | None = None, workdir: str = "/") -> str:
    """An image of `base` plus `files`, carrying `labels` (as one pulled from a registry)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name.lstrip("/"))
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    container = docker_client.containers.create(base, ["true"], network_mode="none")
    try:
        container.put_archive("/", buffer.getvalue())
        image = container.commit(conf={"Labels": labels, "Cmd": ["/bin/sh"],
                                       "WorkingDir": workdir})
    finally:
        container.remove(force=True)
    if tag:
        repository, _, name = tag.rpartition(":")
        image.tag(repository, name)
    return image.id


def _commit_empty_message(repo: Path) -> None:
    env = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo),
           "GIT_AUTHOR_NAME": "Mallory", "GIT_AUTHOR_EMAIL": "m@example.com",
           "GIT_COMMITTER_NAME": "Mallory", "GIT_COMMITTER_EMAIL": "m@example.com",
           "PATH": "/usr/bin:/bin"}
    subprocess.run(["git", "commit", "-q", "--amend", "--allow-empty-message", "-m", ""],
                   cwd=repo, env=env, check=True)


def _remove_images(docker_client, *images: str) -> None:
    for image in images:
        with contextlib.suppress(docker.errors.APIError):
            docker_client.images.remove(image, force=True)


class _PeakRss:
    """The peak resident memory of this process (Slipway's server runs in it) while open."""

    def __init__(self) -> None:
        self.base = self.peak = self._rss()
        self._stop = False
        import threading
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


# -- A. Images on the engine that are not the build's own ------------------------------------

@pytest.mark.gen_test(timeout=120)
async def test_a_dockerfile_cannot_copy_files_out_of_another_instances_cache_image(
        builds, tmp_path, docker_client, busybox_image):
    # Another Slipway on the same engine (its name is a hash of its data directory: guessable
    # from /var/lib/slipway and the like) keeps its project 1's install image under this tag.
    marker = f"other-instance-private-{uuid.uuid4().hex}".encode()
    victim = "slipway-0123456789ab/p1:cache"
    image = _image_with(docker_client, busybox_image, {"/app/src/config.js": marker},
                        {"slipway.instance": "0123456789ab", "slipway.project": "1"},
                        victim, workdir="/app")
    try:
        session = await builds()
        repo = make_repo(tmp_path / "repo", {"Dockerfile": (
            f"FROM {busybox_image}\nWORKDIR /app\n"
            f"COPY --from={victim} /app/src/config.js public/index.html\n")})
        project = await session.project(repo, output_dir="public")
        build = await session.finished(project["latest_build"]["id"])
        deployments = session.running.app.config.deployments_dir
        assert not files_containing(deployments, marker), (
            "another instance's image content was published: " + await session.text(build["id"]))
        assert build["status"] == "failed"
    finally:
        _remove_images(docker_client, victim, image)


@pytest.mark.gen_test(timeout=120)
async def test_an_image_carrying_slipway_step_labels_is_not_taken_as_a_cached_step(
        builds, tmp_path, docker_client, busybox_image):
    # Mallory publishes an image on a registry with the labels Slipway's step cache looks up
    # (slipway.step = a key computed offline from a victim's public Dockerfile, and the
    # instance's name); one `FROM mallory/poison` in any project brings it onto the engine.
    # Here it is made locally, as no registry is reachable.
    session = await builds()
    instance = session.running.app.config.instance
    command = "mkdir -p public && echo genuine > public/index.html"
    base = docker_client.images.get(busybox_image).id
    key = _hash(_hash(_hash("FROM", base), "WORKDIR /app"), f"RUN {command}",
                repr(["/bin/sh", "-c", command]))
    poison = _image_with(docker_client, busybox_image,
                         {"/app/public/index.html": b"<h1>defaced by mallory</h1>"},
                         {"slipway.step": key, "slipway.instance": instance},
                         "mallory/poison:latest", workdir="/app")
    try:
        repo = make_repo(tmp_path / "repo", {
            "Dockerfile": f"FROM {busybox_image}\nWORKDIR /app\nRUN {command}\n"})
        project = await session.project(repo, output_dir="public")
        build = await session.finished(project["latest_build"]["id"])
        assert build["status"] == "passed", await session.text(build["id"])
        published = (_release(session, build["id"]) / "index.html").read_text()
        assert published.strip() == "genuine", f"the victim's site serves {published!r}"
    finally:
        _remove_images(docker_client, "mallory/poison:latest", poison)


# -- B. FROM makes the Docker engine pull: from anywhere, for as long as it takes ------------

@pytest.mark.gen_test(timeout=90)
async def test_a_github_users_dockerfile_cannot_make_the_engine_connect_to_loopback(
        builds, github):
    server = SilentServer(hang=False)
    try:
        session = await builds()
        mallory_gh = github.add_user("mallory")
        repo = github.add_repo(mallory_gh, "probe", files={
            "Dockerfile": f"FROM 127.0.0.1:{server.port}/internal/thing\n"})
        mallory = await sign_in_github_user(session.running, session.api, mallory_gh.id,
                                            "mallory", mallory_gh.token)
        created = await session.api.post("/api/projects", headers=mallory.headers, json_body={
            "name": "probe", "repo_url": repo.html_url, "output_dir": "public"})
        assert created.status == 201, created.body
        build = await session.finished(created.json()["latest_build"]["id"], who=mallory)
        assert build["status"] == "failed"
        assert server.connections == 0, (
            f"the engine connected {server.connections} times to 127.0.0.1:{server.port} "
            f"for a GitHub user's build: {build['error']}")
    finally:
        server.close()


@pytest.mark.gen_test(timeout=120)
async def test_a_from_whose_registry_never_answers_is_stopped_by_the_timeout(builds, tmp_path):
    server = SilentServer(hang=True)
    try:
        session = await builds(build_timeout=4)
        repo = make_repo(tmp_path / "repo", {
            "Dockerfile": f"FROM 127.0.0.1:{server.port}/slow/image\n"})
        project = await session.project(repo, output_dir="public")
        build = await session.finished(project["latest_build"]["id"], seconds=100)
        assert _ran_for(build) <= 4 + 5, f"ran {_ran_for(build):.0f} s: {build['error']}"
        assert build["error"] == "timed out after 4 s (SLIPWAY_BUILD_TIMEOUT)", build["error"]
    finally:
        server.close()


# -- C. Steps Slipway runs itself, outside any container's limits ----------------------------

@pytest.mark.gen_test(timeout=180)
async def test_copy_from_a_huge_sparse_file_stays_within_the_memory_limit(
        builds, tmp_path, busybox_image, docker_client):
    session = await builds(build_memory=64 * 1024**2)
    repo = make_repo(tmp_path / "repo", {"Dockerfile": (
        f"FROM {busybox_image} AS big\nRUN truncate -s 1G /big\n"
        f"FROM {busybox_image}\nWORKDIR /app\nCOPY --from=big /big /app/big\n")})
    rss = _PeakRss()
    try:
        project = await session.project(repo, output_dir="public")
        build = await session.finished(project["latest_build"]["id"], seconds=150)
    finally:
        grown = rss.close()
    assert grown < 256 * 1024**2, (
        f"Slipway's own memory grew by {grown / 1024**2:.0f} MiB copying a sparse file "
        f"(build memory 64 MiB): {build['status']} {build['error']}")


@pytest.mark.gen_test(timeout=180)
async def test_copying_a_huge_output_out_of_the_image_is_stopped_by_the_timeout(
        builds, tmp_path, busybox_image):
    session = await builds(build_timeout=4, max_output=1024**2)
    repo = make_repo(tmp_path / "repo", {"Dockerfile": (
        f"FROM {busybox_image}\nWORKDIR /app\n"
        "RUN mkdir public && echo hi > public/index.html && truncate -s 3G public/big\n")})
    project = await session.project(repo, output_dir="public")
    build = await session.finished(project["latest_build"]["id"], seconds=150)
    assert build["status"] == "failed"
    assert _ran_for(build) <= 4 + 5, (
        f"ran {_ran_for(build):.0f} s past a 4 s timeout, writing 3 GiB on the host: "
        f"{build['error']}")


# -- D. Inputs that crash the build instead of failing it with a reason ----------------------

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
