"""Images on the Docker engine: pulling a base, copying a built output out, and housekeeping.

Every image Slipway's builder makes carries the labels `slipway.instance` and
`slipway.project`, and a project's newest install image is tagged
`slipway-<instance>/p<project>:cache`. Housekeeping only ever removes images with this
instance's label, never by force: an image a running build still uses is left for the next
sweep instead of being pulled from under it.
"""

from __future__ import annotations

import posixpath
import tarfile
import tempfile
from enum import Enum
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import docker
from docker.errors import APIError, DockerException, ImageNotFound, NotFound

from engine.config import format_size
from engine.containers.sandbox import Guard, Output, guarded


class ImageUnavailable(Exception):
    """The image is neither on this engine nor pullable; the message says why."""


def ensure_image(client: docker.DockerClient, image: str, output: Output,
                 guard: Guard | None = None, anonymous: bool = False) -> None:
    """Pull `image` unless the engine has it (creating a container never pulls by itself);
    `anonymous` pulls without the credentials the client would send from its config file.

    With a guard, a pull that outlasts the build's deadline or cancel raises Stopped (the
    engine may go on pulling: it cannot be told to stop)."""
    try:
        client.images.get(image)
        return
    except ImageNotFound:
        pass
    output("build_stdout", f"Pulling {image}\n".encode())
    credentials = {"auth_config": {}} if anonymous else {}
    try:
        if guard is None:
            client.images.pull(image, **credentials)
        else:
            guarded(guard, lambda: client.images.pull(image, **credentials))
    except (APIError, DockerException) as exc:
        reason = getattr(exc, "explanation", None) or str(exc)
        raise ImageUnavailable(f"the image {image} is not available: {reason}"[:500]) from None


def image_registry(reference: str) -> str | None:
    """The registry host (and port) an image reference names, or None for Docker Hub:
    Docker reads a first path component with a dot or a colon, or `localhost`, as one."""
    first, slash, _ = reference.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first.lower()
    return None


class ArchiveTooLarge(Exception):
    """What was to be copied out of an image is larger than allowed."""


class Copied(Enum):
    """What copying a directory out of a container found at its path."""

    DIRECTORY = "directory"
    LINK = "link"          # a link, which is not followed
    MISSING = "missing"


def extract_from_image(client: docker.DockerClient, image: str, path: str,
                       destination: Path, labels: dict[str, str], max_bytes: int) -> Copied:
    """Copy the directory `path` (relative to the image's WORKDIR) out of an image into
    `destination`, reading at most `max_bytes` of Docker's archive."""
    workdir = client.images.get(image).attrs["Config"].get("WorkingDir") or "/"
    container = client.containers.create(image, ["true"], entrypoint=[], network_mode="none",
                                         labels=labels)
    try:
        return extract_from_container(client, container.id,
                                      posixpath.normpath(posixpath.join(workdir, path)),
                                      destination, max_bytes)
    finally:
        container.remove(force=True)


def extract_from_container(client: docker.DockerClient, container_id: str, path: str,
                           destination: Path, max_bytes: int) -> Copied:
    """Copy the directory at the absolute `path` in a (stopped) container into `destination`,
    reading at most `max_bytes` of Docker's archive (else ArchiveTooLarge).

    The engine resolves the path inside the container's own filesystem, and the archive is
    unpacked with the "data" filter's checks, so nothing it holds is written outside
    `destination` or followed to the host: a link in it stays a link."""
    with tempfile.TemporaryFile() as buffer:
        if not copy_archive(client, container_id, path, buffer, max_bytes):
            return Copied.MISSING
        buffer.seek(0)
        with tarfile.open(fileobj=buffer) as tar:
            # The archive's top entry is the directory itself.
            top = posixpath.basename(path.rstrip("/"))
            members = []
            for member in tar.getmembers():
                parts = PurePosixPath(member.name).parts
                if parts == (top,) and not member.isdir():
                    return Copied.LINK if member.issym() or member.islnk() else Copied.MISSING
                if parts and parts[0] == top and len(parts) > 1:
                    member.name = str(PurePosixPath(*parts[1:]))
                    members.append(member)
            destination.mkdir(parents=True, exist_ok=True)
            # The "data" filter's checks, member by member (S202 wants the literal).
            tar.extractall(destination, members=members,  # noqa: S202
                           filter=_data_or_nothing)
    return Copied.DIRECTORY


def copy_archive(client: docker.DockerClient, container_id: str, path: str, into: BinaryIO,
                 max_bytes: int) -> bool:
    """Write Docker's tar of `path` in a container into `into`, at most `max_bytes` of it
    (else ArchiveTooLarge); False when there is no such path.

    The stream is closed on the way out, read whole or not: docker-py's `get_archive` gives
    no way to close one read in part, and the engine will not remove the container while it
    still writes to it."""
    response = client.api.get(client.api._url("/containers/{0}/archive", container_id),
                              params={"path": path}, stream=True,
                              headers={"Accept-Encoding": "identity"})
    try:
        if response.status_code == 404:
            return False
        client.api._raise_for_status(response)
        for chunk in response.iter_content(64 * 1024, False):
            into.write(chunk)
            if into.tell() > max_bytes:
                raise ArchiveTooLarge(f"{path} is larger than {format_size(max_bytes)}")
        return True
    finally:
        response.close()


def _data_or_nothing(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
    """tarfile's "data" filter, leaving out what it refuses (a link out of the destination,
    a FIFO, a device) instead of failing: a site is files, and the rest is never published."""
    try:
        return tarfile.data_filter(member, path)
    except tarfile.FilterError:
        return None


INSTANCE_LABEL, PROJECT_LABEL = "slipway.instance", "slipway.project"


def image_labels(instance: str, project_id: int) -> dict[str, str]:
    return {INSTANCE_LABEL: instance, PROJECT_LABEL: str(project_id)}


def cache_tag(instance: str, project_id: int) -> str:
    """The tag of a project's newest install image, named per instance."""
    return f"slipway-{instance}/p{project_id}:cache"


def keep_as_cache(client: docker.DockerClient, image_id: str, instance: str,
                  project_id: int) -> None:
    """Tag `image_id` as the project's cache, and sweep the images it replaces."""
    repository, _, tag = cache_tag(instance, project_id).rpartition(":")
    client.images.get(image_id).tag(repository, tag)
    sweep_images(client, {"dangling": True, "label": [f"{INSTANCE_LABEL}={instance}",
                                                       f"{PROJECT_LABEL}={project_id}"]})


def forget_cache(client: docker.DockerClient, instance: str, project_id: int) -> None:
    """Drop the project's cache tag and every image of the project that nothing uses."""
    remove_image(client, cache_tag(instance, project_id))
    sweep_images(client, {"label": [f"{INSTANCE_LABEL}={instance}",
                                    f"{PROJECT_LABEL}={project_id}"]})


def sweep_instance(client: docker.DockerClient, instance: str, projects: set[int]) -> None:
    """At start: remove this instance's images of deleted projects, and untagged leftovers."""
    mine = f"{INSTANCE_LABEL}={instance}"
    sweep_images(client, {"dangling": True, "label": [mine]})
    for image in client.images.list(filters={"label": [mine]}):
        project = (image.labels or {}).get(PROJECT_LABEL, "")
        if not project.isdigit() or int(project) not in projects:
            for tag in image.tags:
                remove_image(client, tag)
    sweep_images(client, {"dangling": True, "label": [mine]})


def sweep_images(client: docker.DockerClient, filters: dict[str, Any]) -> None:
    for image in client.images.list(filters=filters):
        if not image.tags:
            remove_image(client, image.id)


def remove_image(client: docker.DockerClient, reference: str) -> None:
    """Remove an image (or one of its tags), unless a container still uses it."""
    try:
        client.images.remove(reference, force=False, noprune=False)
    except (ImageNotFound, NotFound):
        pass
    except (APIError, DockerException):
        pass  # still in use by a build: the next sweep takes it
