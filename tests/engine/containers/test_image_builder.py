"""Slipway's own image builder against the real Docker engine: what a Dockerfile's steps leave
in the image, the cache between builds, and what never leaves the build context."""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from pathlib import Path

import docker
import pytest

from engine.containers.image_builder import BuildContext, ImageBuilder, ImageBuildFailed
from engine.containers.sandbox import Guard, Limits

LIMITS = Limits(memory=256 * 1024**2, cpus=1.0, network="none")


class Built:
    """One builder's run: the image, and what it printed."""

    def __init__(self, client: docker.DockerClient, context: Path, labels: dict[str, str]):
        self.client, self.context, self.labels = client, context, labels
        self.lines: list[str] = []
        self.output: list[tuple[str, bytes]] = []

    def build(self, dockerfile: str, excludes: tuple[str, ...] = (".env", ".git"),
              secret: bytes = b"test-secret") -> str:
        builder = ImageBuilder(
            self.client, BuildContext(self.context, excludes), limits=LIMITS,
            guard=Guard(time.monotonic() + 60, lambda: False),
            output=lambda stream, chunk: self.output.append((stream, chunk)),
            say=self.lines.append, labels=self.labels, max_copy=64 * 1024**2,
            cache_secret=secret)
        return builder.build(dockerfile)

    def run(self, image: str, command: str) -> str:
        return self.client.containers.run(image, ["sh", "-c", command], remove=True,
                                          network_mode="none").decode()


@pytest.fixture
def built(docker_client, tmp_path):
    labels = {"slipway.instance": f"test-{uuid.uuid4().hex[:8]}", "slipway.project": "1"}
    context = tmp_path / "context"
    context.mkdir()
    yield Built(docker_client, context, labels)
    for image in docker_client.images.list(all=True,
                                           filters={"label": f"slipway.instance="
                                                             f"{labels['slipway.instance']}"}):
        with contextlib.suppress(docker.errors.APIError):
            docker_client.images.remove(image.id, force=True)


def test_env_workdir_and_copied_files_are_in_the_image(built, busybox_image):
    (built.context / "app").mkdir()
    (built.context / "app" / "one.txt").write_text("one")
    (built.context / "top.txt").write_text("top")
    image = built.build(
        f"FROM {busybox_image}\nARG GREETING=hello\nENV WHO=world PLACE=\"the site\"\n"
        "WORKDIR /srv\nCOPY app ./app/\nCOPY top.txt renamed.txt\n"
        "RUN echo \"$GREETING $WHO\" > greeting.txt\n")
    assert built.run(image, "pwd; cat app/one.txt renamed.txt greeting.txt; echo $PLACE") == (
        "/srv\nonetophello world\nthe site\n")
    # A build argument is the step's environment, not the image's.
    assert "GREETING" not in built.run(image, "env")


def test_a_multi_stage_dockerfile_copies_from_an_earlier_stage(built, busybox_image):
    image = built.build(
        f"FROM {busybox_image} AS build\nWORKDIR /work\n"
        "RUN mkdir -p dist/sub && echo page > dist/index.html && echo deep > dist/sub/a.txt\n"
        f"FROM {busybox_image}\nCOPY --from=build /work/dist /site\n"
        "COPY --from=0 /work/dist/index.html /copy-of-index.html\n")
    assert built.run(image, "cat /site/index.html /site/sub/a.txt /copy-of-index.html") == (
        "page\ndeep\npage\n")


def test_unchanged_steps_come_from_the_cache_and_a_changed_file_reruns_what_follows(
        built, busybox_image):
    (built.context / "package.json").write_text("{}")
    dockerfile = (f"FROM {busybox_image}\nWORKDIR /app\nCOPY package.json ./\n"
                  "RUN cat /proc/sys/kernel/random/uuid > installed-at\n")
    first = built.build(dockerfile)
    again = built.build(dockerfile)
    assert again == first
    assert built.lines.count("  (cached)") == 2  # the COPY and the RUN

    (built.context / "package.json").write_text('{"dependencies": {}}')
    changed = built.build(dockerfile)
    assert changed != first
    assert built.run(changed, "cat installed-at") != built.run(first, "cat installed-at")


def test_only_images_sealed_with_the_instances_secret_are_cache_hits(built, busybox_image):
    # A step's key is computed from public inputs (the base image, the instruction, the
    # files): anyone could put an image labelled with it on the engine (a pulled image keeps
    # its labels), so a label counts only when Slipway's secret vouches for it.
    dockerfile = (f"FROM {busybox_image}\n"
                  "RUN cat /proc/sys/kernel/random/uuid > made-by\n")
    forged = built.build(dockerfile, secret=b"what an attacker knows: everything but this")
    genuine = built.build(dockerfile)
    assert "  (cached)" not in built.lines
    assert genuine != forged
    assert built.build(dockerfile) == genuine


def test_excluded_files_and_links_out_of_the_context_never_enter_the_image(
        built, busybox_image, tmp_path):
    host = tmp_path / "host-secret"
    host.write_text("host-only")
    (built.context / ".env").write_text("API_KEY=secret")
    (built.context / "index.html").write_text("<h1>site</h1>")
    os.symlink(host, built.context / "leak")
    image = built.build(f"FROM {busybox_image}\nWORKDIR /app\nCOPY . ./\n")
    listing = built.run(image, "ls -A /app; readlink /app/leak; cat /app/leak 2>&1 || true")
    assert ".env" not in listing.split()
    assert "index.html" in listing and str(host) in listing
    assert "host-only" not in listing  # the link was copied as a link, not followed

    (built.context / "sub").symlink_to(tmp_path)
    with pytest.raises(ImageBuildFailed, match="outside the build context"):
        built.build(f"FROM {busybox_image}\nCOPY sub/host-secret /x\n")
    with pytest.raises(ImageBuildFailed, match="outside the build context"):
        built.build(f"FROM {busybox_image}\nCOPY ../host-secret /x\n")


def test_a_failing_step_names_its_line_and_exit_code(built, busybox_image):
    with pytest.raises(ImageBuildFailed, match=r"line 3: RUN exit 7 exited with code 7") as info:
        built.build(f"FROM {busybox_image}\nRUN echo fine\nRUN exit 7\n")
    assert info.value.exit_code == 7
    assert ("build_stdout", b"fine\n") in built.output


def test_a_step_writes_stderr_as_stderr(built, busybox_image):
    built.build(f"FROM {busybox_image}\nRUN echo oops >&2\n")
    assert ("build_stderr", b"oops\n") in built.output


def test_copy_sets_the_owner_by_name_or_number(built, busybox_image):
    (built.context / "a.txt").write_text("a")
    image = built.build(f"FROM {busybox_image}\nCOPY --chown=nobody:nogroup a.txt /by-name\n"
                        "COPY --chown=1234 --chmod=600 a.txt /by-number\n")
    assert built.run(image, "stat -c '%u:%g %a' /by-name /by-number") == (
        "65534:65534 644\n1234:1234 600\n")
    with pytest.raises(ImageBuildFailed, match="unknown user or group"):
        built.build(f"FROM {busybox_image}\nCOPY --chown=mallory a.txt /x\n")


def test_a_copy_from_a_stage_larger_than_allowed_fails_before_filling_the_disk(
        built, busybox_image):
    with pytest.raises(ImageBuildFailed, match=r"line 4: /big is larger than 64m"):
        built.build(f"FROM {busybox_image} AS big\n"
                    "RUN dd if=/dev/zero of=/big bs=1048576 count=80 2>/dev/null\n"
                    f"FROM {busybox_image}\nCOPY --from=big /big /big\n")


def test_a_dockerfile_cannot_start_from_or_copy_out_of_an_image_slipway_built(
        built, busybox_image):
    # Another project's install image holds that project's files (its manifest, its private
    # packages): a Dockerfile naming it, by tag or by id, is refused.
    other_project = built.build(f"FROM {busybox_image}\nRUN echo private > /secret\n")
    with pytest.raises(ImageBuildFailed, match="an image Slipway built for a project"):
        built.build(f"FROM {other_project}\n")
    with pytest.raises(ImageBuildFailed, match="an image Slipway built for a project"):
        built.build(f"FROM {busybox_image}\nCOPY --from={other_project} /secret /stolen\n")
