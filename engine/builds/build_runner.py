"""One build, from clone to outcome, run in a worker thread.

Steps: fetch the commit; detect how to build it (project settings override detection); write
the secrets as a `.env` file in the checkout; build the install image (the repository's own
Dockerfile, or one generated for the detected toolchain); run the build command in a container
with the checkout mounted; check the output directory. Every step logs what it does, and every
way a build can end (a failing command, out of memory, a timeout, a cancel, a missing output)
ends it with that reason in the log and on the record. The work directory and the per-build
image are removed whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import shutil
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import docker

from engine.accounts.github_tokens import load_github_token
from engine.builds.build_log import BuildLog
from engine.builds.detect import BuildPlan, DetectionError, detect_build
from engine.builds.dockerfile import build_context_excludes, generate_dockerfile
from engine.builds.git_checkout import CheckoutError, fetch_commit, is_interruption
from engine.config import Config
from engine.containers.docker_build import (
    WORKSPACE,
    ImageBuildFailed,
    ImageUnavailable,
    Limits,
    Stopped,
    build_image,
    ensure_image,
    extract_from_image,
    keep_as_cache,
    pack_context,
    remove_image,
    run_command,
)
from engine.containers.docker_engine import DockerUnavailable, connect_docker
from engine.crypto import SecretBox
from engine.errors import Refused
from engine.events import EventEmitter
from engine.github.commit_statuses import STATE_FOR_OUTCOME, CommitStatuses
from sql.build_logs import last_line_number
from sql.builds import build_job, project_secrets, set_commit

log = logging.getLogger(__name__)
T = TypeVar("T")
CLEANUP_TIMEOUT_SECONDS = 10


@dataclass
class BuildControl:
    """What the queue holds for a running build: a way to cancel it, and its deadline."""

    deadline: float
    cancel_requested: threading.Event = field(default_factory=threading.Event)
    stop_reason: str | None = None  # why Slipway itself stopped the build (shutting down)

    def should_stop(self) -> bool:
        return self.cancel_requested.is_set() or time.monotonic() > self.deadline


@dataclass(frozen=True)
class Outcome:
    status: str               # passed | failed | canceled
    exit_code: int | None = None
    error: str | None = None
    url: str | None = None    # where a passed build is live


Deploy = Callable[[dict[str, Any], Path], Awaitable[dict[str, Any]]]


class _Failed(Exception):
    def __init__(self, error: str, exit_code: int | None = None) -> None:
        super().__init__(error)
        self.error, self.exit_code = error, exit_code


class BuildRunner:
    def __init__(self, *, pool: Any, loop: asyncio.AbstractEventLoop, box: SecretBox,
                 emitter: EventEmitter, config: Config, deploy: Deploy,
                 statuses: CommitStatuses | None = None) -> None:
        self.statuses = statuses
        self.pool, self.loop, self.box = pool, loop, box
        self.emitter, self.config, self.deploy = emitter, config, deploy
        # Labels this instance's containers, so a restart removes only its own orphans.
        self.instance = hashlib.sha256(str(config.data_dir).encode()).hexdigest()[:16]

    def run(self, build: dict[str, Any], control: BuildControl) -> Outcome:
        """Run a claimed build to its outcome. Blocking: call from a worker thread."""
        job = self._on_loop(self._load(build["id"]))
        build_log = BuildLog(self.pool, self.emitter, self.loop, build_id=build["id"],
                             project_id=job["project_id"], user_id=job["owner_id"],
                             secrets=job["secrets"].values(), first_line=job["next_line"])
        self._on_loop(_started(build_log))
        work = self.config.data_dir / "builds" / str(build["id"])
        try:
            outcome = self._build(job, build_log, control, work)
        except Exception:  # a bug must still end the build, never leave it running
            log.exception("build %s crashed", build["id"])
            outcome = Outcome("failed", None, "internal error in Slipway (see the server log)")
        finally:
            shutil.rmtree(work, ignore_errors=True)
        build_log.line("system", _summary(outcome))
        self._on_loop(build_log.close())
        if self.statuses is not None:
            self._on_loop(self.statuses.report(
                job, STATE_FOR_OUTCOME[outcome.status], _summary(outcome), outcome.url))
        return outcome

    def _build(self, job: dict[str, Any], build_log: BuildLog, control: BuildControl,
               work: Path) -> Outcome:
        say = lambda text: build_log.line("system", text)  # noqa: E731
        try:
            client = connect_docker(self.config.docker_host)
        except DockerUnavailable as exc:
            say(str(exc))
            return Outcome("failed", None, str(exc))
        image = f"slipway-build/p{job['project_id']}:{job['id']}"
        try:
            checkout = work / "src"
            commit = fetch_commit(
                job["repo_url"], checkout, branch=job["branch"], commit=job["commit_sha"],
                token=job["token"], deadline=control.deadline,
                should_stop=control.should_stop, log=say)
            self._on_loop(self._record_commit(job["id"], commit))
            job["commit_sha"] = commit.sha
            if self.statuses is not None:
                self._on_loop(self.statuses.report(job, "pending", "Building"))
            app_dir = _inside(checkout, job["root_dir"] or ".", "root directory")
            plan = self._plan(job, app_dir, say)
            _write_env_file(app_dir, job["secrets"])
            output_dir = _inside(app_dir, plan.output_dir, "output directory")
            try:
                self._produce(client, job, plan, checkout, app_dir, output_dir, image,
                              build_log, control)
            finally:
                (app_dir / ".env").unlink(missing_ok=True)  # the build is over: no copies
            if control.should_stop():
                raise Stopped()
            if not output_dir.is_dir():
                raise _Failed(f"the build produced no {plan.output_dir}/ directory; set the "
                              "output directory in the project's settings")
            say(f"Output: {plan.output_dir}/ ({_count_files(output_dir)} files)")
            try:
                deployment = self._on_loop(self.deploy(job, output_dir))
            except OSError as exc:
                raise _Failed(f"publishing the site failed: {exc.strerror or exc}; the "
                              "previous release is still live") from None
            say(f"Live at {deployment['url']}")
            return Outcome("passed", 0, None, deployment["url"])
        except (Stopped, CheckoutError) as exc:
            if isinstance(exc, Stopped) or is_interruption(exc):
                return self._stopped(control)
            say(f"Error: {exc}")
            return Outcome("failed", None, str(exc))
        except _Failed as exc:
            say(f"Error: {exc.error}")
            return Outcome("failed", exc.exit_code, exc.error)
        finally:
            remove_image(client, image)
            client.close()

    def _plan(self, job: dict[str, Any], app_dir: Path, say: Callable[[str], None]) -> BuildPlan:
        if not app_dir.is_dir():
            raise _Failed(f"the root directory {job['root_dir']} does not exist in the repository")
        try:
            plan = detect_build(app_dir, framework=job["framework"],
                                install_command=job["install_command"],
                                build_command=job["build_command"], output_dir=job["output_dir"])
        except DetectionError as exc:
            raise _Failed(str(exc)) from None
        for reason in plan.reasons:
            say(reason)
        return plan

    def _produce(self, client: docker.DockerClient, job: dict[str, Any], plan: BuildPlan,
                 checkout: Path, app_dir: Path, output_dir: Path, image: str,
                 build_log: BuildLog, control: BuildControl) -> None:
        """Install (image build) and build (container run) so the output lands in app_dir."""
        limits = Limits(self.config.build_memory, self.config.build_cpus,
                        self.config.build_network)
        if plan.has_dockerfile:
            build_log.line("system", "Building the repository's own Dockerfile")
            dockerfile = None
        elif plan.install_command:
            build_log.line("system", f"Installing with: {plan.install_command}")
            dockerfile = generate_dockerfile(plan, self.config.node_image)
        else:
            dockerfile = None
        base = image if (plan.has_dockerfile or dockerfile) else self.config.node_image
        if base == image:
            with pack_context(app_dir, build_context_excludes(plan), dockerfile) as context:
                try:
                    build_image(client, context, image, network=limits.network,
                                output=build_log.write, should_stop=control.should_stop)
                except ImageBuildFailed as exc:
                    raise _Failed(f"the install step failed: {exc}") from None
            keep_as_cache(client, image, cache_tag(job["project_id"]))
        if not plan.build_command:
            if plan.has_dockerfile and extract_from_image(client, image, plan.output_dir,
                                                          output_dir):
                build_log.line("system", f"Copied {plan.output_dir}/ out of the image")
            return
        build_log.line("system", f"Running: {plan.build_command}")
        working_dir = f"{WORKSPACE}/{job['root_dir']}" if job["root_dir"] else WORKSPACE
        if base != image:
            try:
                ensure_image(client, base, build_log.write)
            except ImageUnavailable as exc:
                raise _Failed(f"{exc} (SLIPWAY_NODE_IMAGE)") from None
        command = plan.build_command
        if dockerfile is not None:
            # The install step put node_modules in the image's /app; the checkout is mounted
            # elsewhere, so it borrows them through a link.
            command = f"ln -sfn /app/node_modules node_modules 2>/dev/null; {command}"
        result = run_command(
            client, base, command, workspace=checkout, working_dir=working_dir,
            environment={**job["secrets"], "CI": "1"},
            limits=limits, deadline=control.deadline, should_stop=control.should_stop,
            output=build_log.write,
            labels={"slipway.build": str(job["id"]), "slipway.instance": self.instance})
        if result.stopped:
            raise Stopped()
        if result.out_of_memory:
            raise _Failed(f"out of memory: the build needed more than "
                          f"{_size(self.config.build_memory)} (SLIPWAY_BUILD_MEMORY)",
                          result.exit_code)
        if result.exit_code != 0:
            raise _Failed(f"the build command exited with code {result.exit_code}",
                          result.exit_code)

    def _stopped(self, control: BuildControl) -> Outcome:
        if control.cancel_requested.is_set():
            return Outcome("canceled", None, "canceled by the user")
        limit = int(self.config.build_timeout)
        return Outcome("failed", None,
                       f"timed out after {limit} s (SLIPWAY_BUILD_TIMEOUT)")

    def remove_orphans(self) -> None:
        """Remove build containers a killed Slipway left running. Blocking, but brief: a
        hung Docker engine must not hold start-up."""
        try:
            client = connect_docker(self.config.docker_host, timeout=CLEANUP_TIMEOUT_SECONDS)
        except DockerUnavailable:
            return
        try:
            mine = {"label": f"slipway.instance={self.instance}"}
            for container in client.containers.list(all=True, filters=mine):
                log.warning("removing container %s left by an interrupted build %s",
                            container.short_id, container.labels.get("slipway.build"))
                with contextlib.suppress(docker.errors.APIError):
                    container.remove(force=True)
        except docker.errors.DockerException:
            log.exception("could not look for containers left by interrupted builds")
        finally:
            client.close()

    def clear_cache(self, project_id: int) -> None:
        """Forget the project's cached install layers. Blocking."""
        try:
            client = connect_docker(self.config.docker_host, timeout=CLEANUP_TIMEOUT_SECONDS)
        except DockerUnavailable:
            return
        try:
            remove_image(client, cache_tag(project_id))
        finally:
            client.close()

    async def _load(self, build_id: int) -> dict[str, Any]:
        async with self.pool.connection() as conn:
            job = await build_job(conn, build_id)
            rows = await project_secrets(conn, job["project_id"])
            job["next_line"] = await last_line_number(conn, build_id) + 1
        job["secrets"] = {name: self.box.open_text(nonce, ciphertext, "secret",
                                                   job["project_id"], name)
                          for name, nonce, ciphertext in rows}
        job["token"] = None
        if job["github_repo"]:
            # Without a token, public repositories still clone anonymously.
            with contextlib.suppress(Refused):
                job["token"] = await load_github_token(self.pool, self.box, job["owner_id"])
        return job

    async def _record_commit(self, build_id: int, commit: Any) -> None:
        async with self.pool.connection() as conn:
            await set_commit(conn, build_id, commit.sha, commit.message, commit.author)

    def _on_loop(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()


def cache_tag(project_id: int) -> str:
    """The image kept per project so Docker reuses its install layer while the lockfile and
    manifest are unchanged (the classic builder cannot mount a cache volume during a build)."""
    return f"slipway-cache/p{project_id}:latest"


async def _started(build_log: BuildLog) -> None:
    build_log.start()


def _inside(base: Path, relative: str, what: str) -> Path:
    """`relative` under `base`, refusing anything that resolves outside it (a symlink in the
    repository pointing elsewhere on the machine, say)."""
    path = (base / relative).resolve()
    if path != base.resolve() and base.resolve() not in path.parents:
        raise _Failed(f"the {what} {relative} is outside the repository")
    return path


def _write_env_file(app_dir: Path, secrets: dict[str, str]) -> None:
    """The project's secrets as a .env file for frameworks that read one (never in an image:
    .env is excluded from every build context)."""
    if not secrets:
        return
    lines = []
    for name, value in secrets.items():
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        lines.append(f'{name}="{escaped}"')
    env_file = app_dir / ".env"
    env_file.write_text("\n".join(lines) + "\n")
    env_file.chmod(0o600)


def _count_files(directory: Path) -> int:
    return sum(1 for path in directory.rglob("*") if path.is_file())


def _size(value: int) -> str:
    for unit, size in (("g", 1024**3), ("m", 1024**2), ("k", 1024)):
        if value >= size and value % size == 0:
            return f"{value // size}{unit}"
    return f"{value} bytes"


def _summary(outcome: Outcome) -> str:
    if outcome.status == "passed":
        return "Build passed"
    if outcome.status == "canceled":
        return "Build canceled"
    return f"Build failed: {outcome.error}"
