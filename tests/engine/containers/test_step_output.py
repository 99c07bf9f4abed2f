"""A step's output as Docker delivers it: each stream in the order the program wrote it."""

from __future__ import annotations

import time

from engine.builds.log_lines import LineSplitter
from engine.containers.sandbox import Guard, Limits, Step, run_step

SCRIPT = ("i=0; while [ $i -lt 300 ]; do echo out $i; echo err $i >&2; i=$((i+1)); done; "
          "echo last >&2")


def test_each_stream_keeps_the_programs_order_across_a_busy_interleaving(docker_client,
                                                                          busybox_image):
    splitters = {"stdout": LineSplitter(), "stderr": LineSplitter()}
    lines: list[tuple[str, str]] = []

    def output(stream: str, chunk: bytes) -> None:
        lines.extend((stream, line) for line in splitters[stream].feed(chunk))

    result = run_step(docker_client, Step(busybox_image, ["sh", "-c", SCRIPT], "/"),
                      limits=Limits(memory=64 * 2**20, cpus=1.0, network="none"),
                      guard=Guard(time.monotonic() + 60, lambda: False), output=output,
                      streams=("stdout", "stderr"), labels={"slipway.test": "step-output"})
    assert result.exit_code == 0
    stdout = [text for stream, text in lines if stream == "stdout"]
    stderr = [text for stream, text in lines if stream == "stderr"]
    assert stdout == [f"out {i}" for i in range(300)]
    assert stderr == [f"err {i}" for i in range(300)] + ["last"]
