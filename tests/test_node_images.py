"""The slipway-test/node:{major} images run real installs as the official node images do.

They reach the npm registry (network host), so these tests need it as well as a Docker engine;
without an engine they are skipped like every Docker test (a failure under SLIPWAY_NO_SKIP).
"""

from __future__ import annotations

import time

import pytest

from tests.support.node_images import (
    DEFAULT_MAJORS,
    RECIPE_LABEL,
    RECIPE_VERSION,
    ensure_node_images,
    node_image_template,
)

# The npm each release line bundles (node:20 ships npm 10, node:24 npm 11).
NPM_MAJOR = {20: "10", 22: "10", 24: "11"}


@pytest.fixture(scope="module")
def node_images(docker_client) -> dict[int, str]:
    try:
        return ensure_node_images(docker_client, DEFAULT_MAJORS)
    except RuntimeError as exc:
        pytest.skip(f"cannot build the Node test images: {exc}")


def run(docker_client, image: str, script: str) -> str:
    """Run a shell script in a fresh container on the host's network; its standard output."""
    container = docker_client.containers.run(
        image, ["sh", "-c", script], network_mode="host", detach=True)
    try:
        status = container.wait(timeout=300)
        output = container.logs(stderr=False).decode(errors="replace")
        both = container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)
    assert status["StatusCode"] == 0, both
    return output


def test_the_images_follow_the_template_and_are_reused(docker_client, node_images):
    assert node_image_template() == "slipway-test/node:{major}"
    assert node_images == {major: f"slipway-test/node:{major}" for major in DEFAULT_MAJORS}
    ids = {major: docker_client.images.get(tag).id for major, tag in node_images.items()}
    started = time.monotonic()
    assert ensure_node_images(docker_client, DEFAULT_MAJORS) == node_images
    assert time.monotonic() - started < 5
    assert {major: docker_client.images.get(tag).id for major, tag in node_images.items()} == ids


@pytest.mark.parametrize("major", DEFAULT_MAJORS)
def test_image_config_is_a_node_images(docker_client, node_images, major):
    config = docker_client.images.get(node_images[major]).attrs["Config"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["NODE_VERSION"].split(".")[0] == str(major)
    assert env["YARN_VERSION"].startswith("1.")
    assert "/usr/local/bin" in env["PATH"].split(":")
    assert env["HOME"] == "/root"
    assert env["NODE_EXTRA_CA_CERTS"] == "/etc/ssl/certs/ca-certificates.crt"
    assert env["COREPACK_INTEGRITY_KEYS"] == "0"
    assert env["NEXT_TELEMETRY_DISABLED"] == "1"
    assert config["Entrypoint"] == ["docker-entrypoint.sh"]
    assert config["Cmd"] == ["node"]
    assert config["Labels"][RECIPE_LABEL] == RECIPE_VERSION


@pytest.mark.parametrize("major", DEFAULT_MAJORS)
def test_node_npm_corepack_and_yarn(docker_client, node_images, major):
    output = run(docker_client, node_images[major], """
        set -e
        node --version; npm --version; corepack --version; yarn --version
        npm config get globalconfig; npm config get cafile
        [ "v$NODE_VERSION" = "$(node --version)" ]
        [ -d "$HOME" ] && command -v sh env tar gzip >/dev/null
    """).split()
    node, npm, corepack, yarn, globalconfig, cafile = output
    assert node.startswith(f"v{major}.")
    assert npm.split(".")[0] == NPM_MAJOR[major]
    assert corepack.startswith("0.")
    assert yarn.startswith("1.22.")
    assert globalconfig == "/usr/local/etc/npmrc"
    assert cafile == "/etc/ssl/certs/ca-certificates.crt"


@pytest.mark.parametrize("major", DEFAULT_MAJORS)
def test_npm_installs_and_loads_native_bindings(docker_client, node_images, major):
    output = run(docker_client, node_images[major], """
        set -e
        mkdir /app && cd /app && npm init -y >/dev/null
        npm install --no-audit --no-fund --loglevel=error \
            esbuild lightningcss @rollup/rollup-linux-x64-gnu >/dev/null
        npx esbuild --version
        node -e '
            const css = require("lightningcss").transform(
                {filename: "a.css", code: Buffer.from("a { color: #ff0000 }"), minify: true});
            console.log(css.code.toString());
            console.log(typeof require("@rollup/rollup-linux-x64-gnu").parse);
        '
    """).split()
    assert output[0].startswith("0.")
    assert output[1:] == ["a{color:red}", "function"]


@pytest.mark.parametrize("major", DEFAULT_MAJORS)
def test_corepack_fetches_pnpm(docker_client, node_images, major):
    output = run(docker_client, node_images[major], "corepack pnpm@9.15.0 --version")
    assert output.split() == ["9.15.0"]
