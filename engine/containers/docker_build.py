"""Docker's part of a build: build the install image, run the build command, with limits.

The build context is packed by Slipway itself, so `.git`, `.env` and the other excluded paths
can never enter an image, whatever the repository's .dockerignore says. The run happens in a
container with the checkout mounted at /workspace, memory, CPU and process limits, no new
privileges, a reduced set of capabilities and the configured network. A watchdog thread kills
the container when the build is canceled or runs out of time; the container is removed in
every case.
"""

from __future__ import annotations

import contextlib
import fnmatch
import io
import os
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
from docker.errors import APIError, DockerException, ImageNotFound, NotFound

PIDS_LIMIT = 512
WORKSPACE = "/workspace"
# What a build command may need as root inside its container, and nothing more.
CAPABILITIES = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "SETGID", "SETUID", "KILL"]

Output = Callable[[str, bytes], None]  # (stream, chunk): "build_stdout", "run_stderr", ...


class ImageBuildFailed(Exception):
    """The Dockerfile failed; the message is Docker's reason."""


class Stopped(Exception):
    """The build was canceled or timed out while Docker was working."""


@dataclass(frozen=True)
class Limits:
    memory: int
    cpus: float
    network: str
    pids: int = PIDS_LIMIT


@dataclass
class RunResult:
    exit_code: int
    out_of_memory: bool = False
    stopped: bool = False  # killed by the watchdog (cancel or timeout)


@dataclass
class _Watchdog:
    """Kills a container once `should_stop()` is true or the deadline passes."""

    container: Any
    deadline: float
    should_stop: Callable[[], bool]
    fired: bool = False
    _done: threading.Event = field(default_factory=threading.Event)

    def watch(self) -> None:
        while not self._done.wait(0.1):
            if self.should_stop() or time.monotonic() > self.deadline:
                self.fired = True
                with contextlib.suppress(APIError, NotFound):
                    self.container.kill()
                return

    def stop(self) -> None:
        self._done.set()


def pack_context(source: Path, excludes: Iterable[str],
                 dockerfile: str | None) -> io.BufferedRandom:
    """A tar of `source` without the excluded paths (and with `dockerfile` as Dockerfile, when
    Slipway generated it). Symlinks are stored as links, never followed."""
    patterns = list(excludes)
    archive = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the caller, who closes it
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for root, dirs, files in os.walk(source):
            relative_root = Path(root).relative_to(source)
            dirs[:] = [d for d in dirs if not _excluded(relative_root / d, patterns)]
            for name in dirs + files:
                relative = relative_root / name
                if name in files and _excluded(relative, patterns):
                    continue
                if dockerfile is not None and str(relative) == "Dockerfile":
                    continue
                tar.add(Path(root) / name, arcname=str(relative), recursive=False)
        if dockerfile is not None:
            data = dockerfile.encode()
            info = tarfile.TarInfo("Dockerfile")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    archive.seek(0)
    return archive


def _excluded(relative: Path, patterns: list[str]) -> bool:
    text = str(relative)
    return any(fnmatch.fnmatch(text, p) or fnmatch.fnmatch(relative.name, p) for p in patterns)


def build_image(client: docker.DockerClient, context: io.BufferedRandom, tag: str, *,
                network: str, output: Output, should_stop: Callable[[], bool]) -> None:
    """`docker build` of a packed context, streaming its output; raises ImageBuildFailed."""
    stream = client.api.build(fileobj=context, custom_context=True, tag=tag, rm=True,
                              forcerm=True, decode=True, network_mode=network, pull=False)
    try:
        for event in stream:
            if should_stop():
                raise Stopped()
            if "stream" in event:
                output("build_stdout", event["stream"].encode())
            elif "status" in event:
                output("build_stdout", (event["status"] + "\n").encode())
            elif "error" in event:
                output("build_stderr", (event["error"].rstrip("\n") + "\n").encode())
                raise ImageBuildFailed(event["error"].strip().splitlines()[-1][:500])
    finally:
        close = getattr(stream, "close", None)
        if close:
            close()  # disconnecting makes the daemon abandon a build we walked away from


class ImageUnavailable(Exception):
    """The image is neither on this engine nor pullable; the message says why."""


def ensure_image(client: docker.DockerClient, image: str, output: Output) -> None:
    """Pull `image` unless the engine has it (creating a container never pulls by itself)."""
    try:
        client.images.get(image)
        return
    except ImageNotFound:
        pass
    output("build_stdout", f"Pulling {image}\n".encode())
    try:
        client.images.pull(image)
    except (APIError, DockerException) as exc:
        reason = getattr(exc, "explanation", None) or str(exc)
        raise ImageUnavailable(f"the image {image} is not available: {reason}"[:500]) from None


def run_command(client: docker.DockerClient, image: str, command: str, *, workspace: Path,
                working_dir: str, environment: dict[str, str], limits: Limits,
                deadline: float, should_stop: Callable[[], bool], output: Output,
                labels: dict[str, str]) -> RunResult:
    """Run `command` with `sh -c` in a fresh container; always removes the container."""
    container = client.containers.create(
        image, ["sh", "-c", command], working_dir=working_dir, environment=environment,
        volumes={str(workspace): {"bind": WORKSPACE, "mode": "rw"}},
        network_mode=limits.network, mem_limit=limits.memory, memswap_limit=limits.memory,
        nano_cpus=int(limits.cpus * 1e9), pids_limit=limits.pids,
        security_opt=["no-new-privileges"], cap_drop=["ALL"], cap_add=CAPABILITIES,
        labels=labels, stdin_open=False, tty=False,
    )
    watchdog = _Watchdog(container, deadline, should_stop)
    watcher = threading.Thread(target=watchdog.watch, name="slipway-watchdog", daemon=True)
    try:
        stream = client.api.attach(container.id, stdout=True, stderr=True, stream=True,
                                   logs=True, demux=True)
        container.start()
        watcher.start()
        for stdout, stderr in stream:
            if stdout:
                output("run_stdout", stdout)
            if stderr:
                output("run_stderr", stderr)
        status = container.wait(timeout=60)
        container.reload()
        return RunResult(exit_code=int(status.get("StatusCode", -1)),
                         out_of_memory=bool(container.attrs["State"].get("OOMKilled")),
                         stopped=watchdog.fired)
    finally:
        watchdog.stop()
        with contextlib.suppress(APIError, NotFound):
            container.remove(force=True)


def extract_from_image(client: docker.DockerClient, image: str, path: str,
                       destination: Path) -> bool:
    """Copy `path` (relative to the image's WORKDIR) out of an image into `destination`.
    Returns False when the image has no such path."""
    workdir = client.images.get(image).attrs["Config"].get("WorkingDir") or "/"
    container = client.containers.create(image, ["true"], network_mode="none")
    try:
        try:
            chunks, _ = container.get_archive(str(Path(workdir) / path))
        except NotFound:
            return False
        with tempfile.TemporaryFile() as buffer:
            for chunk in chunks:
                buffer.write(chunk)
            buffer.seek(0)
            destination.mkdir(parents=True, exist_ok=True)
            with tarfile.open(fileobj=buffer) as tar:
                # The archive's top entry is the directory itself; "data" refuses links out.
                top = Path(path).name
                members = []
                for member in tar.getmembers():
                    parts = Path(member.name).parts
                    if parts and parts[0] == top and len(parts) > 1:
                        member.name = str(Path(*parts[1:]))
                        members.append(member)
                tar.extractall(destination, members=members, filter="data")
        return True
    finally:
        container.remove(force=True)


def keep_as_cache(client: docker.DockerClient, image: str, cache_tag: str) -> None:
    """Tag `image` as the project's cache, dropping the image the tag pointed at before."""
    try:
        previous = client.images.get(cache_tag).id
    except (ImageNotFound, NotFound):
        previous = None
    repository, _, tag = cache_tag.rpartition(":")
    current = client.images.get(image)
    current.tag(repository, tag)
    if previous and previous != current.id:
        remove_image(client, previous)


def remove_image(client: docker.DockerClient, tag: str) -> None:
    try:
        client.images.remove(tag, force=True, noprune=False)
    except (ImageNotFound, NotFound):
        pass
    except (APIError, DockerException):
        pass  # an image still in use is cleaned up with the next build of the project
