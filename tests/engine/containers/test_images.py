"""Housekeeping of build images on the real engine: a project's cache is replaced without
pulling an image from under a build that is about to use it."""

from __future__ import annotations

import contextlib
import uuid

import docker
import pytest

from engine.containers.images import cache_tag, forget_cache, image_labels, keep_as_cache


@pytest.fixture
def instance(docker_client):
    name = f"test-{uuid.uuid4().hex[:8]}"
    yield name
    for image in docker_client.images.list(all=True,
                                           filters={"label": f"slipway.instance={name}"}):
        with contextlib.suppress(docker.errors.APIError):
            docker_client.images.remove(image.id, force=True)


def _image(docker_client, busybox_image: str, instance: str, marker: str) -> str:
    """A distinct image with the project's labels, as the builder commits them."""
    container = docker_client.containers.create(busybox_image, ["true"], network_mode="none")
    try:
        return container.commit(conf={"Labels": image_labels(instance, 1),
                                      "Env": [f"MARKER={marker}"], "Cmd": ["/bin/sh"]}).id
    finally:
        container.remove(force=True)


def _exists(docker_client, reference: str) -> bool:
    try:
        docker_client.images.get(reference)
    except docker.errors.ImageNotFound:
        return False
    return True


def test_a_new_cache_replaces_the_old_one_once_nothing_uses_it(docker_client, busybox_image,
                                                              instance):
    old = _image(docker_client, busybox_image, instance, "old")
    keep_as_cache(docker_client, old, instance, 1)
    new = _image(docker_client, busybox_image, instance, "new")
    keep_as_cache(docker_client, new, instance, 1)
    assert docker_client.images.get(cache_tag(instance, 1)).id == new
    assert not _exists(docker_client, old)


def test_the_old_cache_stays_while_a_build_has_a_container_of_it(docker_client, busybox_image,
                                                                 instance):
    old = _image(docker_client, busybox_image, instance, "old")
    keep_as_cache(docker_client, old, instance, 1)
    # A concurrent build created its step's container from the old cache and has not started
    # it yet: removing the image by force here made its start fail ("unable to find image").
    waiting = docker_client.containers.create(old, ["true"], network_mode="none")
    try:
        keep_as_cache(docker_client, _image(docker_client, busybox_image, instance, "new"),
                      instance, 1)
        assert _exists(docker_client, old)
        waiting.start()
        assert waiting.wait(timeout=30)["StatusCode"] == 0
    finally:
        waiting.remove(force=True)
    forget_cache(docker_client, instance, 1)
    assert not docker_client.images.list(all=True,
                                         filters={"label": f"slipway.instance={instance}"})
