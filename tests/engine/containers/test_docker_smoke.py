"""The Docker engine does what builds will need: build from a Dockerfile, run a container with
limits and no network, and write through a bind mount to the host."""

from __future__ import annotations

import io
import json
import uuid

import pytest


@pytest.fixture
def scratch_tag(docker_client):
    tag = f"slipway-test/smoke-{uuid.uuid4().hex[:12]}:latest"
    yield tag
    docker_client.images.remove(tag, force=True, noprune=False)


def _run(docker_client, image, command, tmp_path, **options):
    container = docker_client.containers.run(
        image, command, detach=True, network_mode="none", mem_limit="256m",
        nano_cpus=1_000_000_000, pids_limit=64, security_opt=["no-new-privileges"],
        volumes={str(tmp_path): {"bind": "/out", "mode": "rw"}}, **options,
    )
    try:
        status = container.wait(timeout=60)
        logs = container.logs().decode()
        container.reload()
        out_of_memory = container.attrs["State"]["OOMKilled"]
    finally:
        container.remove(force=True)
    return status["StatusCode"], logs, out_of_memory


def test_image_built_from_a_dockerfile_runs_and_writes_to_a_bind_mount(
    docker_client, busybox_image, scratch_tag, tmp_path
):
    dockerfile = f"FROM {busybox_image}\nRUN echo built-in-image > /baked.txt\n"
    docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=scratch_tag,
                               rm=True, network_mode="none")

    code, logs, _ = _run(docker_client, scratch_tag,
                         ["sh", "-c", "cat /baked.txt > /out/result.txt && echo done"], tmp_path)

    assert code == 0, logs
    assert logs.strip() == "done"
    assert (tmp_path / "result.txt").read_text() == "built-in-image\n"


def test_node_image_installs_offline_and_builds_into_the_mount(
    docker_client, node_image, scratch_tag, tmp_path
):
    context = tmp_path / "context"
    context.mkdir()
    (context / "package.json").write_text(json.dumps({
        "name": "smoke", "version": "1.0.0", "scripts": {"build": "node build.js"},
    }))
    (context / "build.js").write_text(
        "const fs = require('fs');\n"
        "fs.mkdirSync('/out/dist', {recursive: true});\n"
        "fs.writeFileSync('/out/dist/index.html', '<h1>' + process.version + '</h1>');\n"
    )
    (context / "Dockerfile").write_text(
        f"FROM {node_image}\nWORKDIR /app\nCOPY package.json build.js ./\nRUN npm install\n"
    )
    docker_client.images.build(path=str(context), tag=scratch_tag, rm=True, network_mode="none")

    code, logs, _ = _run(docker_client, scratch_tag, ["npm", "run", "build"], tmp_path,
                         working_dir="/app")

    assert code == 0, logs
    assert (tmp_path / "dist" / "index.html").read_text().startswith("<h1>v")


def test_memory_limit_kills_a_runaway_container(docker_client, node_image, tmp_path):
    code, _, out_of_memory = _run(
        docker_client, node_image,
        ["node", "-e", "const a = []; for (;;) a.push(Buffer.alloc(1 << 20, 1));"],
        tmp_path, environment={"NODE_OPTIONS": "--max-old-space-size=4096"},
    )
    assert code == 137  # SIGKILL from the kernel's OOM killer, as a build would see it
    assert out_of_memory
