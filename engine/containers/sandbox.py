"""One step of a build that runs the repository's code, in a container under the build's limits.

Every such step — each `RUN` of the repository's Dockerfile, the install command, the build
command — goes through `run_step`, so the limits cannot differ between them: memory with no
swap, CPUs, 512 processes, no new privileges, a reduced set of capabilities, the configured
network, a capped log, and the build's deadline and cancel. A watchdog thread checks the
deadline and cancel ten times a second whatever the step prints, and kills the container, so a
silent step (`sleep 150`) stops on time too. The container is removed in every case.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import docker
from docker.errors import APIError, NotFound
from docker.types import LogConfig

PIDS_LIMIT = 512
WORKSPACE = "/workspace"
# What a build step may need as root inside its container, and nothing more.
CAPABILITIES = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "SETGID", "SETUID", "KILL"]
# Docker keeps a container's output in a log file as well as streaming it: a step printing in
# a loop must not fill the host's disk before it is stopped.
STEP_LOG = LogConfig(type=LogConfig.types.JSON, config={"max-size": "10m", "max-file": "1"})

log = logging.getLogger(__name__)
T = TypeVar("T")
Output = Callable[[str, bytes], None]  # (stream, chunk): "build_stdout", "run_stderr", ...


class Stopped(Exception):
    """The build was canceled or timed out while a step was running."""


class StepNotStarted(Exception):
    """Docker could not start the step (no such user, no such shell); the message is why."""


@dataclass(frozen=True)
class Limits:
    memory: int
    cpus: float
    network: str
    pids: int = PIDS_LIMIT


@dataclass(frozen=True)
class Guard:
    """When a build must stop: its deadline (monotonic) and a cancel or shutdown check."""

    deadline: float
    should_stop: Callable[[], bool]

    def expired(self) -> bool:
        return self.should_stop() or time.monotonic() > self.deadline


@dataclass(frozen=True)
class Step:
    """What one container runs: its image, argv, and where."""

    image: str
    argv: list[str]
    working_dir: str
    environment: dict[str, str] = field(default_factory=dict)
    user: str = ""
    # A tar archive unpacked at the container's root before it starts (the checkout, for the
    # build command): copied rather than mounted, so the build never writes on the host.
    archive: Path | None = None


@dataclass
class StepResult:
    exit_code: int
    out_of_memory: bool = False
    kept: Any = None  # what `keep` returned (the commit's image), when it was called


def run_step(client: docker.DockerClient, step: Step, *, limits: Limits, guard: Guard,
             output: Output, streams: tuple[str, str], labels: dict[str, str],
             keep: Callable[[Any], T] | None = None,
             discard: Callable[[T], None] | None = None) -> StepResult:
    """Run `step` to its end; raises Stopped when the guard fired. `streams` names the output
    of stdout and stderr. With `keep`, it is called with the stopped container (to commit it)
    before the container is removed, and what it returns is the result's `kept`; `discard` is
    given that if the guard fired while `keep` ran (see `guarded`)."""
    try:
        container = client.containers.create(
            step.image, step.argv[1:], entrypoint=step.argv[:1], working_dir=step.working_dir,
            environment=step.environment, user=step.user,
            network_mode=limits.network, mem_limit=limits.memory, memswap_limit=limits.memory,
            nano_cpus=int(limits.cpus * 1e9), pids_limit=limits.pids,
            security_opt=["no-new-privileges"], cap_drop=["ALL"], cap_add=CAPABILITIES,
            labels=labels, log_config=STEP_LOG, stdin_open=False, tty=False,
        )
    except APIError as exc:
        raise StepNotStarted(_explanation(exc)) from None
    watchdog = _Watchdog(container, guard)
    watcher = threading.Thread(target=watchdog.watch, name="slipway-watchdog", daemon=True)
    stopped = False
    try:
        if step.archive is not None:
            guarded(guard, lambda: _put_archive(client, container.id, step.archive))
        stream = client.api.attach(container.id, stdout=True, stderr=True, stream=True,
                                   logs=True, demux=True)
        try:
            container.start()
        except APIError as exc:
            raise StepNotStarted(_explanation(exc)) from None
        watcher.start()
        for stdout, stderr in stream:
            if stdout:
                output(streams[0], stdout)
            if stderr:
                output(streams[1], stderr)
        status = container.wait(timeout=60)
        if watchdog.fired:
            raise Stopped()
        container.reload()
        result = StepResult(exit_code=int(status.get("StatusCode", -1)),
                            out_of_memory=bool(container.attrs["State"].get("OOMKilled")))
        if keep is not None and result.exit_code == 0:
            result.kept = guarded(guard, lambda: keep(container), discard)
        return result
    except Stopped:
        stopped = True
        raise
    finally:
        watchdog.stop()
        if stopped:  # the engine may still be committing it: do not wait for that
            threading.Thread(target=_remove, args=(container,), daemon=True).start()
        else:
            _remove(container)


def guarded(guard: Guard, work: Callable[[], T],
            discard: Callable[[T], None] | None = None) -> T:
    """Blocking work on the engine (a commit, a copy) that the build's deadline and cancel
    still bound: it runs in a thread, and Stopped is raised when the guard fires first.

    The engine then finishes the work on its own. `discard` is given what the work made once it
    does (a commit's image: a hostile step can make it gigabytes, and each push another), since
    nobody else will ever remove it while this instance runs."""
    outcome: list[Any] = []
    abandoned = threading.Event()
    settled = threading.Lock()

    def run() -> None:
        try:
            value = work()
        except BaseException as exc:  # handed to the waiting thread
            outcome.append((False, exc))
            return
        with settled:
            outcome.append((True, value))
            late = abandoned.is_set()
        if late and discard is not None:
            _discard_quietly(discard, value)

    worker = threading.Thread(target=run, name="slipway-engine-work", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.1)
        if guard.expired():
            with settled:
                if not outcome:
                    abandoned.set()
                    raise Stopped()
    succeeded, value = outcome[0]
    if not succeeded:
        raise value
    return value


def _discard_quietly(discard: Callable[[T], None], value: T) -> None:
    try:
        discard(value)
    except Exception:  # the engine went away: the next start's sweep removes it
        log.warning("could not remove what an abandoned engine call made", exc_info=True)


def _put_archive(client: docker.DockerClient, container_id: str, archive: Path) -> None:
    with open(archive, "rb") as data:
        try:
            copied = client.api.put_archive(container_id, "/", data)
        except APIError as exc:
            raise StepNotStarted(_explanation(exc)) from None
    if not copied:
        raise StepNotStarted("the files could not be copied into the container")


def _remove(container: Any) -> None:
    with contextlib.suppress(APIError, NotFound):
        container.remove(force=True)


def _explanation(exc: APIError) -> str:
    return str(getattr(exc, "explanation", None) or exc)[:500]


@dataclass
class _Watchdog:
    """Kills a container once the guard fires."""

    container: Any
    guard: Guard
    fired: bool = False
    _done: threading.Event = field(default_factory=threading.Event)

    def watch(self) -> None:
        while not self._done.wait(0.1):
            if self.guard.expired():
                self.fired = True
                with contextlib.suppress(APIError, NotFound):
                    self.container.kill()
                return

    def stop(self) -> None:
        self._done.set()
