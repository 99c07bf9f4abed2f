"""One build, from clone to outcome, run in a worker thread.

Steps: fetch the commit; detect how to build it (project settings override detection); build
the install image (the repository's own Dockerfile, or one generated for the detected
toolchain and Node major); run the build command in a container of that image with the
checkout copied in, the secrets as a `.env` file among it, so dependencies are inside the
workspace; copy the output directory out and check it. Every step logs what it does, and every
way a build can end (a failing command, out of memory, a timeout, a cancel, a missing output)
ends it with that reason in the log and on the record. The work directory is removed whatever
happens; the install image is kept as the project's cache.

Everything the repository holds or the build writes is hostile: paths are confined to the
checkout when used (`engine.builds.workspace`), the build writes nothing on the host but the
output Slipway copies out of its container, which is published without following a link out
of it (`engine.deploys.releases`), and every step running the repository's code runs under the
same limits (`engine.containers.sandbox`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import posixpath
import shutil
import stat
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import docker

from engine.accounts.github_tokens import load_github_token
from engine.builds.build_log import BuildLog
from engine.builds.detect import BuildPlan, DetectionError, NodeOffer, detect_build
from engine.builds.dockerfile import build_context_excludes, generate_dockerfile
from engine.builds.git_checkout import CheckoutError, fetch_commit, is_interruption
from engine.builds.repo_address import AddressRefused, PinnedHost, check_public, trusted_hosts
from engine.builds.workspace import (
    OutsideWorkspace,
    archive_checkout,
    confined,
    remove_env_file,
    remove_work_directories,
    write_env_file,
)
from engine.config import Config, format_size
from engine.containers.docker_engine import DockerUnavailable, connect_docker
from engine.containers.image_builder import (
    BuildContext,
    ImageBuilder,
    ImageBuildFailed,
    ImagePolicy,
)
from engine.containers.images import (
    ArchiveTooLarge,
    Copied,
    ImageUnavailable,
    ensure_image,
    extract_from_container,
    extract_from_image,
    forget_cache,
    image_labels,
    image_registry,
    keep_as_cache,
    sweep_instance,
)
from engine.containers.sandbox import (
    WORKSPACE,
    Guard,
    Limits,
    Step,
    StepNotStarted,
    Stopped,
    run_step,
)
from engine.crypto import SecretBox
from engine.deploys.releases import UnsafeOutput, check_output
from engine.deploys.releases import remove_leftovers as remove_release_leftovers
from engine.errors import Refused
from engine.events import EventEmitter
from engine.github.commit_statuses import STATE_FOR_OUTCOME, CommitStatuses
from engine.sites.site_paths import site_url
from sql.build_logs import last_line_number
from sql.builds import build_job, project_secrets, set_commit

log = logging.getLogger(__name__)
T = TypeVar("T")
CLEANUP_TIMEOUT_SECONDS = 10


@dataclass
class BuildControl:
    """What the queue holds for a running build: a way to cancel it, and its deadline."""

    deadline: float
    project_id: int = 0
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


NO_REPOSITORY = ("this project has no Git repository to build: publish it with "
                 "`slipway deploy DIR --project NAME`, or set its repo_url")


class BuildRunner:
    def __init__(self, *, pool: Any, loop: asyncio.AbstractEventLoop, box: SecretBox,
                 emitter: EventEmitter, config: Config, deploy: Deploy, cache_secret: bytes,
                 statuses: CommitStatuses | None = None) -> None:
        self.statuses, self.cache_secret = statuses, cache_secret
        self.pool, self.loop, self.box = pool, loop, box
        self.emitter, self.config, self.deploy = emitter, config, deploy

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
        # A failure's reason is said once, by the closing "Build failed: <reason>" line.
        if job["repo_url"] is None:  # a deploy hook of an upload-only project, say
            return Outcome("failed", None, NO_REPOSITORY)
        try:
            client = connect_docker(self.config.docker_host)
        except DockerUnavailable as exc:
            return Outcome("failed", None, str(exc))
        guard = Guard(control.deadline, control.should_stop)
        try:
            checkout = work / "src"
            commit = fetch_commit(
                job["repo_url"], checkout, branch=job["branch"], commit=job["commit_sha"],
                token=job["token"], deadline=control.deadline,
                should_stop=control.should_stop, log=say, pinned=self._pin(job))
            self._on_loop(self._record_commit(job["id"], commit))
            job["commit_sha"] = commit.sha
            if self.statuses is not None:
                self._on_loop(self.statuses.report(job, "pending", "Building"))
            app_dir = confined(checkout, job["root_dir"] or ".", "root directory")
            plan = self._plan(job, app_dir, say)
            confined(app_dir, plan.output_dir, "output directory")
            output_dir = self._produce(client, job, plan, checkout, app_dir, build_log, guard,
                                       work / "output")
            if control.should_stop():
                raise Stopped()
            summary = check_output(output_dir, self.config.max_output)
            count = "1 file" if summary.files == 1 else f"{summary.files} files"
            say(f"Output: {plan.output_dir}/ ({count})")
            if summary.links_out:
                shown = ", ".join(summary.links_out[:5])
                more = len(summary.links_out) - 5
                links = "1 link" if len(summary.links_out) == 1 else \
                    f"{len(summary.links_out)} links"
                say(f"Left out {links} leading outside the output: {shown}"
                    + (f" and {more} more" if more > 0 else ""))
            try:
                deployment = self._on_loop(self.deploy(job, output_dir))
            except OSError as exc:
                raise _Failed(f"publishing the site failed: {exc.strerror or exc}; the "
                              "previous release is still live") from None
            say(self._where_live(job, deployment))
            return Outcome("passed", 0, None, deployment["url"])
        except (Stopped, CheckoutError) as exc:
            if isinstance(exc, Stopped) or is_interruption(exc):
                return self._stopped(control)
            return Outcome("failed", None, str(exc))
        except (OutsideWorkspace, UnsafeOutput, AddressRefused) as exc:
            return Outcome("failed", None, str(exc))
        except _Failed as exc:
            return Outcome("failed", exc.exit_code, exc.error)
        finally:
            client.close()

    def _where_live(self, job: dict[str, Any], deployment: dict[str, Any]) -> str:
        """The address a visitor uses first: the production (or preview) host; this build's
        own immutable address second."""
        if job.get("preview"):
            return f"Preview live at {deployment['url']}"
        production = site_url(self.config.public_url, self.config.domain, job["project_name"])
        return f"Live at {production} (this build: {deployment['url']})"

    def _pin(self, job: dict[str, Any]) -> PinnedHost | None:
        """A GitHub user's https repository may only be fetched from public addresses."""
        if job["is_local_admin"] or not job["repo_url"].startswith("https://"):
            return None
        trusted = trusted_hosts(self.config.github_url, self.config.github_api_url)
        return check_public(job["repo_url"], trusted)

    def _image_policy(self, job: dict[str, Any]) -> ImagePolicy:
        """What a GitHub user's Dockerfile may name. The engine pulls from the host's network,
        so a registry at a loopback or private address is refused as a repository URL would
        be, and the pull sends no stored credentials (the administrator's registries are not
        the user's). The configured Node image is the administrator's choice."""
        if job["is_local_admin"]:
            return ImagePolicy()
        node_images = {self.config.node_image_for(major) for major in self.config.node_versions}

        def problem(reference: str) -> str | None:
            registry = image_registry(reference)
            if registry is None or reference in node_images:
                return None
            try:
                check_public(f"https://{registry}/", frozenset())
            except AddressRefused as exc:
                return f"the image {reference} is refused: {exc}"
            return None

        return ImagePolicy(problem=problem,
                           anonymous=lambda reference: reference not in node_images)

    def _plan(self, job: dict[str, Any], app_dir: Path, say: Callable[[str], None]) -> BuildPlan:
        if not app_dir.is_dir():
            raise _Failed(f"the root directory {job['root_dir']} does not exist in the repository")
        try:
            plan = detect_build(app_dir, framework=job["framework"],
                                install_command=job["install_command"],
                                build_command=job["build_command"], output_dir=job["output_dir"],
                                node_version=job.get("node_version"),
                                node_offer=NodeOffer(self.config.node_versions,
                                                     self.config.node_default))
        except DetectionError as exc:
            raise _Failed(str(exc)) from None
        for reason in plan.reasons:
            say(reason)
        return plan

    def _produce(self, client: docker.DockerClient, job: dict[str, Any], plan: BuildPlan,
                 checkout: Path, app_dir: Path, build_log: BuildLog, guard: Guard,
                 destination: Path) -> Path:
        """Install (the image), build (a container of it with the checkout copied in), and
        copy the output directory out to `destination`, which is returned."""
        limits = Limits(self.config.build_memory, self.config.build_cpus,
                        self.config.build_network)
        labels = image_labels(self.config.instance, job["project_id"])
        working_dir = f"{WORKSPACE}/{job['root_dir']}" if job["root_dir"] else WORKSPACE
        node_image = self.config.node_image_for(plan.node.major) if plan.node else None
        dockerfile = self._dockerfile(plan, app_dir, build_log, node_image, working_dir)
        if dockerfile is not None:
            image = self._build_image(client, job, plan, app_dir, dockerfile, build_log, guard,
                                      limits, labels)
        elif node_image is not None:
            image = node_image
            try:
                ensure_image(client, image, build_log.write, guard)
            except ImageUnavailable as exc:
                raise _Failed(f"{exc} (SLIPWAY_NODE_IMAGE)") from None
        else:
            # Nothing to install or build: the files are published as they are.
            published = confined(app_dir, plan.output_dir, "output directory")
            if not published.is_dir():
                raise _Failed(f"the output directory {plan.output_dir}/ does not exist in the "
                              "repository; set the output directory in the project's settings")
            return published
        if not plan.build_command:
            # The repository's Dockerfile built the site: its output is in the image.
            self._copy_out(lambda: extract_from_image(
                client, image, plan.output_dir, destination, labels, self.config.max_output),
                plan)
            build_log.line("system", f"Copied {plan.output_dir}/ out of the image")
            return destination
        build_log.line("system", f"Running: {plan.build_command}")
        # The secrets' .env goes into the archive only; neither stays on the host after this.
        archive = checkout.parent / "workspace.tar"
        write_env_file(app_dir, job["secrets"])
        try:
            with open(archive, "wb") as file:
                archive_checkout(checkout, file, WORKSPACE.strip("/"))
        finally:
            remove_env_file(app_dir)
        step = Step(image=image, argv=["sh", "-c", plan.build_command], working_dir=working_dir,
                    environment={**job["secrets"], "CI": "1"}, archive=archive)
        output_path = posixpath.normpath(posixpath.join(working_dir, plan.output_dir))

        def copy_output(container: Any) -> None:
            self._copy_out(lambda: extract_from_container(
                client, container.id, output_path, destination, self.config.max_output), plan)

        try:
            result = run_step(client, step, limits=limits, guard=guard, output=build_log.write,
                              streams=("run_stdout", "run_stderr"), keep=copy_output,
                              labels={**labels, "slipway.build": str(job["id"])})
        except StepNotStarted as exc:
            raise _Failed(f"the build command could not start: {exc}") from None
        finally:
            archive.unlink(missing_ok=True)
        if result.out_of_memory:
            raise _Failed(f"out of memory: the build needed more than "
                          f"{format_size(self.config.build_memory)} (SLIPWAY_BUILD_MEMORY)",
                          result.exit_code)
        if result.exit_code != 0:
            raise _Failed(f"the build command exited with code {result.exit_code}",
                          result.exit_code)
        return destination

    def _build_image(self, client: docker.DockerClient, job: dict[str, Any], plan: BuildPlan,
                     app_dir: Path, dockerfile: str, build_log: BuildLog, guard: Guard,
                     limits: Limits, labels: dict[str, str]) -> str:
        """The install image, kept as the project's cache."""
        context = BuildContext(app_dir, tuple(build_context_excludes(plan))
                               + _dockerignore(app_dir))
        builder = ImageBuilder(client, context, limits=limits, guard=guard,
                               output=build_log.write,
                               say=lambda text: build_log.line("system", text),
                               labels=labels, max_copy=self.config.max_output,
                               cache_secret=self.cache_secret, policy=self._image_policy(job))
        try:
            image = builder.build(dockerfile)
        except ImageBuildFailed as exc:
            if exc.out_of_memory:
                raise _Failed(f"out of memory: the install step needed more than "
                              f"{format_size(self.config.build_memory)} (SLIPWAY_BUILD_MEMORY)",
                              exc.exit_code) from None
            raise _Failed(f"the install step failed: {exc}", exc.exit_code) from None
        keep_as_cache(client, image, self.config.instance, job["project_id"])
        return image

    def _copy_out(self, copy: Callable[[], Copied], plan: BuildPlan) -> None:
        """Copy the output directory out of a container or image, or say why it cannot be."""
        try:
            copied = copy()
        except ArchiveTooLarge:
            raise _Failed(f"the output is larger than {format_size(self.config.max_output)}"
                          " (SLIPWAY_MAX_OUTPUT)") from None
        if copied is Copied.LINK:
            raise _Failed(f"the output directory {plan.output_dir}/ is a link, which could "
                          "lead outside the build: the build must write a directory there")
        if copied is Copied.MISSING:
            raise _Failed(f"the build produced no {plan.output_dir}/ directory; set the "
                          "output directory in the project's settings")

    def _dockerfile(self, plan: BuildPlan, app_dir: Path, build_log: BuildLog,
                    node_image: str | None, working_dir: str) -> str | None:
        """The Dockerfile of the install step: the repository's, one generated for its
        toolchain, or None when there is nothing to install."""
        if plan.has_dockerfile:
            build_log.line("system", "Building the repository's own Dockerfile")
            return _read_regular_file(app_dir, "Dockerfile")
        if plan.install_command and node_image is not None:
            build_log.line("system", f"Installing with: {plan.install_command}")
            return generate_dockerfile(plan, node_image, working_dir)
        return None

    def _stopped(self, control: BuildControl) -> Outcome:
        if control.cancel_requested.is_set():
            return Outcome("canceled", None, "canceled by the user")
        limit = int(self.config.build_timeout)
        return Outcome("failed", None,
                       f"timed out after {limit} s (SLIPWAY_BUILD_TIMEOUT)")

    def remove_leftovers(self, projects: set[int], running: frozenset[int] = frozenset()) -> None:
        """What a killed Slipway left: work directories (holding secrets in their `.env`),
        build containers, and images of this instance no project needs; half-published
        releases of builds no longer `running` (other processes' may be publishing). Blocking,
        but brief: a hung Docker engine must not hold start-up."""
        for name in remove_work_directories(self.config.data_dir / "builds"):
            log.warning("removed the work directory of interrupted build %s", name)
        if remove_release_leftovers(self.config.deployments_dir, running):
            log.warning("removed half-published releases of interrupted builds")
        try:
            client = connect_docker(self.config.docker_host, timeout=CLEANUP_TIMEOUT_SECONDS)
        except DockerUnavailable:
            return
        try:
            mine = {"label": f"slipway.instance={self.config.instance}"}
            for container in client.containers.list(all=True, filters=mine):
                log.warning("removing container %s left by an interrupted build %s",
                            container.short_id, container.labels.get("slipway.build"))
                with contextlib.suppress(docker.errors.APIError):
                    container.remove(force=True)
            sweep_instance(client, self.config.instance, projects)
        except docker.errors.DockerException:
            log.exception("could not look for what interrupted builds left")
        finally:
            client.close()

    def clear_cache(self, project_id: int) -> None:
        """Forget the project's cached install images. Blocking."""
        try:
            client = connect_docker(self.config.docker_host, timeout=CLEANUP_TIMEOUT_SECONDS)
        except DockerUnavailable:
            return
        try:
            forget_cache(client, self.config.instance, project_id)
        finally:
            client.close()

    async def _load(self, build_id: int) -> dict[str, Any]:
        async with self.pool.connection() as conn:
            job = await build_job(conn, build_id)
            # A preview build (of a branch other than the project's) is given only the secrets
            # marked preview, a production build only those marked production.
            environment = "preview" if job["preview"] else "production"
            rows = await project_secrets(conn, job["project_id"], environment)
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


async def _started(build_log: BuildLog) -> None:
    build_log.start()


def _read_regular_file(app_dir: Path, name: str, limit: int = 1024 * 1024) -> str:
    """A repository file Slipway itself reads: a regular file inside the checkout (a link
    is followed only while it stays inside), never a FIFO or a host file."""
    try:
        descriptor = os.open(confined(app_dir, name, "file"),
                             os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        raise _Failed(f"the {name} is not a regular file of the repository") from None
    with os.fdopen(descriptor, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            raise _Failed(f"the {name} is not a regular file of the repository")
        return file.read(limit).decode(errors="replace")


def _dockerignore(app_dir: Path) -> tuple[str, ...]:
    """The repository's own .dockerignore patterns (exceptions with `!` are not honoured:
    leaving a file out is always safe)."""
    if not (app_dir / ".dockerignore").is_file():
        return ()
    patterns = []
    for line in _read_regular_file(app_dir, ".dockerignore", 64 * 1024).splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "!")):
            patterns.append(line.strip("/"))
    return tuple(patterns)


def _summary(outcome: Outcome) -> str:
    if outcome.status == "passed":
        return "Build passed"
    if outcome.status == "canceled":
        return "Build canceled"
    return f"Build failed: {outcome.error}"
