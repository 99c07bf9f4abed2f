"""Slipway's own image builder: a Dockerfile's steps run one by one under the build's limits.

Each `RUN` is a container started by `engine.containers.sandbox.run_step` (memory without
swap, CPUs, processes, capabilities, network, deadline and cancel, exactly as the build
command) and committed as the next image; each `COPY` / `ADD` puts files into a container that
never starts, then commits it. Files come from the build context (the app directory, less the
paths that never enter an image), read without following any link out of it: a link is copied
as a link. `ENV`, `WORKDIR`, `USER`, `ARG` and `SHELL` change the state the next steps start
from; instructions that only describe how an image runs are accepted and have no effect.

Caching: every step has a key (a hash of the previous key, the instruction and, for a copy,
the files' contents), and the image a step produced is labelled with it, so a later build of
the same project reuses every step up to the first that changed: an unchanged lockfile skips
the install. Images carry the instance's and the project's labels, so housekeeping finds them.
"""

from __future__ import annotations

import contextlib
import fnmatch
import glob
import hashlib
import hmac
import os
import posixpath
import shlex
import stat
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import docker
from docker.errors import APIError, NotFound

from engine.containers.dockerfile_parser import (
    METADATA_ONLY,
    DockerfileError,
    Instruction,
    parse_dockerfile,
    substitute,
)
from engine.containers.images import (
    INSTANCE_LABEL,
    ArchiveTooLarge,
    ImageUnavailable,
    copy_archive,
    ensure_image,
    remove_image,
)
from engine.containers.sandbox import (
    Guard,
    Limits,
    Output,
    Step,
    StepNotStarted,
    Stopped,
    guarded,
    run_step,
)

STEP_LABEL = "slipway.step"
DEFAULT_SHELL = ["/bin/sh", "-c"]
_GLOB = set("*?[")


class ImageBuildFailed(Exception):
    """A step failed; the message says which and why."""

    def __init__(self, message: str, *, exit_code: int | None = None,
                 out_of_memory: bool = False) -> None:
        super().__init__(message)
        self.exit_code, self.out_of_memory = exit_code, out_of_memory


@dataclass(frozen=True)
class BuildContext:
    """The directory COPY reads from, and the patterns of what never leaves it."""

    root: Path
    excludes: tuple[str, ...]


@dataclass(frozen=True)
class ImagePolicy:
    """Which images a Dockerfile may name: `problem` says why one may not (None: it may), and
    `anonymous` whether it is pulled without the engine client's stored credentials."""

    problem: Callable[[str], str | None] = lambda reference: None
    anonymous: Callable[[str], bool] = lambda reference: False


@dataclass
class _State:
    """Where a stage stands: its image and the configuration the next step starts from."""

    image: str
    key: str
    env: dict[str, str]
    workdir: str
    user: str
    shell: list[str] = field(default_factory=lambda: list(DEFAULT_SHELL))
    args: dict[str, str] = field(default_factory=dict)
    committed: bool = True  # the image already holds env, workdir and user
    stage: str = "0"  # its number among the stages ("0", "1", ...)
    entrypoint: list[str] = field(default_factory=list)  # the base image's, kept as it was
    cmd: list[str] = field(default_factory=lambda: ["/bin/sh"])


class ImageBuilder:
    """Builds one Dockerfile; `build()` returns the final image's id."""

    def __init__(self, client: docker.DockerClient, context: BuildContext, *, limits: Limits,
                 guard: Guard, output: Output, say: Callable[[str], None],
                 labels: dict[str, str], max_copy: int, cache_secret: bytes,
                 policy: ImagePolicy | None = None) -> None:
        self.client, self.context, self.limits, self.guard = client, context, limits, guard
        self.output, self.say, self.labels = output, say, labels
        self.max_copy = max_copy  # the most a COPY --from may carry (it passes through /tmp)
        self.policy = policy or ImagePolicy()
        # Step labels are MACs under this secret: a key is computed from public inputs, so a
        # plain key as a label could be forged on a pulled image to poison the cache.
        self.cache_secret = cache_secret
        self._stages: dict[str, _State] = {}  # by number: "0", "1", ...
        self._names: dict[str, str] = {}  # FROM ... AS <name> -> its number

    def build(self, dockerfile: str) -> str:
        try:
            instructions = parse_dockerfile(dockerfile)
        except DockerfileError as exc:
            raise ImageBuildFailed(str(exc)) from None
        global_args: dict[str, str] = {}
        state: _State | None = None
        for number, instruction in enumerate(instructions, 1):
            if self.guard.expired():
                raise Stopped()
            if instruction.keyword == "ARG" and state is None:
                global_args.update(_arg(instruction.arguments, {}, global_args))
                continue
            self.say(f"Step {number}/{len(instructions)}: {_shown(instruction)}")
            if instruction.keyword == "FROM":
                if state is not None:
                    self._finish_stage(state)
                state = self._from(instruction, global_args)
            else:
                assert state is not None  # the parser refuses a Dockerfile not starting so
                state = self._step(state, instruction, global_args)
            self._stages[state.stage] = state
        assert state is not None
        return self._finish_stage(state).image

    # --- instructions ---

    def _from(self, instruction: Instruction, global_args: dict[str, str]) -> _State:
        words = substitute(instruction.arguments, global_args).split()
        if not words or (len(words) > 1 and (len(words) != 3 or words[1].upper() != "AS")):
            raise self._fail(instruction, "FROM takes an image and optionally AS <name>")
        reference, stage = words[0], str(len(self._stages))
        if len(words) == 3:
            self._names[words[2].lower()] = stage
        earlier = self._stage(reference)
        if earlier is not None:
            state = replace(self._finish_stage(earlier), args={}, stage=stage)
        elif reference == "scratch":
            raise self._fail(instruction, "FROM scratch is not supported")
        else:
            self._pull(reference, instruction)
            image = self.client.images.get(reference)
            config = image.attrs.get("Config") or {}
            env = dict(item.partition("=")[::2] for item in config.get("Env") or [])
            state = _State(image=image.id, key=_hash("FROM", image.id), env=env,
                           workdir=config.get("WorkingDir") or "/", user=config.get("User") or "",
                           stage=stage, entrypoint=config.get("Entrypoint") or [],
                           cmd=config.get("Cmd") or ["/bin/sh"])
        return state

    def _step(self, state: _State, instruction: Instruction,
              global_args: dict[str, str]) -> _State:
        keyword = instruction.keyword
        variables = {**state.args, **state.env}
        if keyword in METADATA_ONLY:
            return state
        if keyword == "ARG":
            return replace(state, args={**state.args,
                                        **_arg(instruction.arguments, state.args, global_args)},
                           key=_hash(state.key, str(instruction)))
        if keyword == "ENV":
            pairs = _env_pairs(substitute(instruction.arguments, variables), instruction)
            return self._changed(state, instruction, env={**state.env, **pairs})
        if keyword == "WORKDIR":
            path = substitute(instruction.arguments, variables).strip()
            return self._changed(state, instruction,
                                 workdir=posixpath.normpath(posixpath.join(state.workdir, path)))
        if keyword == "USER":
            return self._changed(state, instruction,
                                 user=substitute(instruction.arguments, variables).strip())
        if keyword == "SHELL":
            if not instruction.exec_form:
                raise self._fail(instruction, "SHELL takes a JSON array")
            return replace(state, shell=instruction.exec_form,
                           key=_hash(state.key, str(instruction)))
        if keyword == "RUN":
            return self._run(state, instruction)
        return self._copy(state, instruction, variables)

    def _changed(self, state: _State, instruction: Instruction, **changes: Any) -> _State:
        return replace(state, key=_hash(state.key, str(instruction)), committed=False,
                       **changes)

    def _run(self, state: _State, instruction: Instruction) -> _State:
        argv = instruction.exec_form or [*state.shell, instruction.arguments]
        if state.args:
            # Build arguments are the step's environment only: through `env`, so the commit
            # does not record them in the image's configuration.
            argv = ["env", *(f"{k}={v}" for k, v in state.args.items()), *argv]
        key = _step_key(state, str(instruction), repr(argv))
        cached = self._cached(key)
        if cached:
            return replace(state, image=cached, key=key, committed=True)
        step = Step(image=state.image, argv=argv, working_dir=state.workdir,
                    environment=state.env, user=state.user)
        try:
            result = run_step(self.client, step, limits=self.limits, guard=self.guard,
                              output=self.output, streams=("build_stdout", "build_stderr"),
                              labels=self.labels, keep=lambda c: self._commit(c, state, key),
                              discard=self._discard)
        except StepNotStarted as exc:
            raise self._fail(instruction, f"{_shown(instruction)} could not start: {exc}") \
                from None
        if result.out_of_memory:
            raise ImageBuildFailed(f"line {instruction.line}: {_shown(instruction)} ran out of "
                                   "memory", exit_code=result.exit_code, out_of_memory=True)
        if result.exit_code != 0:
            raise ImageBuildFailed(f"line {instruction.line}: {_shown(instruction)} exited with "
                                   f"code {result.exit_code}", exit_code=result.exit_code)
        return replace(state, image=result.kept, key=key, committed=True)

    def _copy(self, state: _State, instruction: Instruction,
              variables: dict[str, str]) -> _State:
        words = instruction.exec_form or _words(substitute(instruction.arguments, variables),
                                                instruction)
        if len(words) < 2:
            raise self._fail(instruction, f"{instruction.keyword} needs a source and a destination")
        *sources, destination = words
        if instruction.keyword == "ADD" and any("://" in s for s in sources):
            raise self._fail(instruction, "ADD from a URL is not supported; download in a RUN")
        target = posixpath.normpath(posixpath.join(state.workdir, destination))
        into_directory = destination.endswith("/") or len(sources) > 1
        owner = self._owner(state, instruction.flags.get("chown"), instruction)
        mode = _mode(instruction.flags.get("chmod"), instruction)
        with tempfile.TemporaryFile() as archive:
            source_key = self._pack(archive, state, instruction, sources, target,
                                    into_directory, owner, mode)
            key = _step_key(state, str(instruction), source_key)
            cached = self._cached(key)
            if cached:
                return replace(state, image=cached, key=key, committed=True)
            archive.seek(0)
            with self._idle_container(state) as container:
                guarded(self.guard, lambda: container.put_archive("/", archive))
                image = guarded(self.guard, lambda: self._commit(container, state, key),
                                self._discard)
        return replace(state, image=image, key=key, committed=True)

    def _pack(self, archive: Any, state: _State, instruction: Instruction,
              sources: list[str], target: str, into_directory: bool,
              owner: tuple[int, int] | None, mode: int | None) -> str:
        """Write the files a COPY adds into `archive`; returns the hash of what it holds."""
        digest = hashlib.sha256()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            if "from" in instruction.flags:
                origin = self._source_image(instruction)
                digest.update(origin.encode())
                entries = self._from_image(origin, sources, target, into_directory, instruction)
            else:
                entries = self._from_context(sources, target, into_directory, instruction)
            for member, content in entries:
                if owner is not None:
                    member.uid, member.gid = owner
                if mode is not None and not member.issym():
                    member.mode = mode
                member.uname = member.gname = ""
                digest.update(f"{member.name}\0{member.type!r}\0{member.mode}\0{member.uid}\0"
                              f"{member.gid}\0{member.linkname}\0".encode())
                if content is not None:
                    with content:  # streamed twice (hash, then copy), never held whole
                        digest.update(_file_digest(content))
                        content.seek(0)
                        tar.addfile(member, content)
                else:
                    tar.addfile(member)
        return digest.hexdigest()

    def _from_context(self, sources: list[str], target: str, into_directory: bool,
                      instruction: Instruction) -> Iterator[tuple[tarfile.TarInfo, Any]]:
        root = self.context.root
        matched: list[str] = []
        for source in sources:
            relative = posixpath.normpath(source.lstrip("/"))
            if relative == ".." or relative.startswith("../"):
                raise self._fail(instruction, f"{source} is outside the build context")
            if _GLOB & set(relative):
                found = sorted(glob.glob(relative, root_dir=root, include_hidden=True))
            else:
                found = [relative] if os.path.lexists(root / relative) else []
                if not found:
                    raise self._fail(instruction, f"{source} is not in the build context")
            matched += [path for path in found if not self._excluded(path)]
        if not matched:
            raise self._fail(instruction, "no source file matched")
        many = into_directory or len(matched) > 1
        for relative in matched:
            path = root / relative
            if relative != "." and not _inside(path.parent, root):
                raise self._fail(instruction, f"{relative} leads outside the build context")
            if path.is_dir() and not path.is_symlink():
                yield from self._walk(path, relative, target)
            else:
                name = posixpath.join(target, path.name) if many else target
                yield from _member(path, name)

    def _walk(self, directory: Path, relative: str,
              target: str) -> Iterator[tuple[tarfile.TarInfo, Any]]:
        """A directory's contents under `target`, links kept as links, exclusions left out."""
        for current, dirs, files in os.walk(directory):
            here = Path(current)
            inner = here.relative_to(directory)
            kept = []
            for name in sorted(dirs):
                if self._excluded(posixpath.join(relative, str(inner), name)):
                    continue
                child = here / name
                yield from _member(child, posixpath.normpath(posixpath.join(target, str(inner),
                                                                             name)))
                if not child.is_symlink():
                    kept.append(name)
            dirs[:] = kept
            for name in sorted(files):
                if self._excluded(posixpath.join(relative, str(inner), name)):
                    continue
                yield from _member(here / name,
                                   posixpath.normpath(posixpath.join(target, str(inner), name)))

    def _from_image(self, image: str, sources: list[str], target: str, into_directory: bool,
                    instruction: Instruction) -> Iterator[tuple[tarfile.TarInfo, Any]]:
        workdir = self._image_workdir(image)
        with self._idle_container_of(image) as container:
            for source in sources:
                path = posixpath.normpath(posixpath.join(workdir, source))
                with tempfile.TemporaryFile() as buffer:
                    try:
                        found = copy_archive(self.client, container.id, path, buffer,
                                             self.max_copy)
                    except ArchiveTooLarge as exc:
                        raise self._fail(instruction, f"{exc} (SLIPWAY_MAX_OUTPUT)") from None
                    if not found:
                        raise self._fail(instruction, f"{source} does not exist in the "
                                         "source image")
                    buffer.seek(0)
                    with tarfile.open(fileobj=buffer) as tar:
                        members = tar.getmembers()
                        top = members[0].name.rstrip("/") if members else ""
                        is_directory = bool(members) and members[0].isdir()
                        for member in members:
                            inner = posixpath.relpath(member.name.rstrip("/"), top)
                            if is_directory:
                                if inner == ".":
                                    continue
                                name = posixpath.join(target, inner)
                            else:
                                many = into_directory or len(sources) > 1
                                name = posixpath.join(target, top) if many else target
                            _relocate(member, name, top, target if is_directory else None)
                            content = tar.extractfile(member) if member.isreg() else None
                            yield member, content

    # --- images and containers ---

    def _finish_stage(self, state: _State) -> _State:
        """Commit what metadata steps changed since the last image (ENV after the last RUN)."""
        if state.committed:
            return state
        key = _step_key(state, "commit")
        image = self._cached(key)
        if not image:
            with self._idle_container(state) as container:
                image = guarded(self.guard, lambda: self._commit(container, state, key),
                                self._discard)
        finished = replace(state, image=image, key=key, committed=True)
        self._stages[state.stage] = finished
        return finished

    def _commit(self, container: Any, state: _State, key: str) -> str:
        # Docker's commit copies the container's entrypoint (the step's argv) unless given
        # one: an empty list keeps none.
        conf = {"Env": [f"{k}={v}" for k, v in state.env.items()],
                "WorkingDir": state.workdir, "User": state.user, "Cmd": state.cmd,
                "Entrypoint": state.entrypoint,
                "Labels": {**self.labels, STEP_LABEL: self._seal(key)}}
        return container.commit(conf=conf).id

    def _discard(self, image: str) -> None:
        """An image the engine committed after the build stopped waiting for it."""
        remove_image(self.client, image)

    def _cached(self, key: str) -> str | None:
        """The image this step made in an earlier build of the same project (never another
        project's: a hit would tell one user what another builds, or hand over their image)."""
        labels = [f"{STEP_LABEL}={self._seal(key)}",
                  *(f"{k}={v}" for k, v in self.labels.items())]
        images = self.client.images.list(all=True, filters={"label": labels})
        if images:
            self.say("  (cached)")
            return images[0].id
        return None

    @contextlib.contextmanager
    def _idle_container(self, state: _State) -> Iterator[Any]:
        with self._idle_container_of(state.image, state) as container:
            yield container

    @contextlib.contextmanager
    def _idle_container_of(self, image: str, state: _State | None = None) -> Iterator[Any]:
        """A container that never starts: files are put into or read out of it."""
        container = self.client.containers.create(
            image, ["/bin/sh"], entrypoint=[], network_mode="none", labels=self.labels,
            environment=state.env if state else None,
            working_dir=state.workdir if state else None, user=state.user if state else "")
        try:
            yield container
        finally:
            with contextlib.suppress(APIError, NotFound):
                container.remove(force=True)

    def _source_image(self, instruction: Instruction) -> str:
        origin = instruction.flags["from"]
        earlier = self._stage(origin)
        if earlier is not None:
            return self._finish_stage(earlier).image
        self._pull(origin, instruction)
        return self.client.images.get(origin).id

    def _pull(self, reference: str, instruction: Instruction) -> None:
        problem = self.policy.problem(reference)
        if problem:
            raise self._fail(instruction, problem)
        try:
            ensure_image(self.client, reference, self.output, self.guard,
                         anonymous=self.policy.anonymous(reference))
        except ImageUnavailable as exc:
            raise ImageBuildFailed(str(exc)) from None
        if INSTANCE_LABEL in (self.client.images.get(reference).labels or {}):
            # Another project's install image (of this Slipway or another): its files are
            # that project's, never another build's to read.
            raise self._fail(instruction, f"{reference} is an image Slipway built for a "
                             "project; a Dockerfile may not use it")

    def _seal(self, key: str) -> str:
        return hmac.new(self.cache_secret, key.encode(), hashlib.sha256).hexdigest()

    def _stage(self, reference: str) -> _State | None:
        """An earlier stage named by its name or its number, or None (an image reference)."""
        number = self._names.get(reference.lower(), reference)
        return self._stages.get(number)

    def _image_workdir(self, image: str) -> str:
        config = self.client.images.get(image).attrs.get("Config") or {}
        return config.get("WorkingDir") or "/"

    def _owner(self, state: _State, spec: str | None,
               instruction: Instruction) -> tuple[int, int] | None:
        if not spec:
            return None
        user, _, group = spec.partition(":")
        with self._idle_container(state) as container:
            passwd = self._read_file(container, "/etc/passwd")
            groups = self._read_file(container, "/etc/group")
        uid = _lookup_id(user, passwd, 2)
        gid = _lookup_id(group, groups, 2) if group else _lookup_id(user, passwd, 3)
        if uid is None or gid is None:
            raise self._fail(instruction, f"--chown={spec} names an unknown user or group")
        return uid, gid

    def _read_file(self, container: Any, path: str, limit: int = 1024 * 1024) -> str:
        """A small file of an image ("" when missing, a directory or a link)."""
        with tempfile.TemporaryFile() as buffer:
            try:
                if not copy_archive(self.client, container.id, path, buffer, limit):
                    return ""
            except ArchiveTooLarge:
                return ""
            buffer.seek(0)
            with tarfile.open(fileobj=buffer) as tar:
                member = tar.next()
                content = tar.extractfile(member) if member and member.isreg() else None
                return content.read(limit).decode(errors="replace") if content else ""

    def _excluded(self, relative: str) -> bool:
        """Excluded when the path, its name or any folder above it matches a pattern."""
        parts = Path(relative).parts
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth])
            if any(fnmatch.fnmatch(prefix, p) or fnmatch.fnmatch(parts[depth - 1], p)
                   for p in self.context.excludes):
                return True
        return False

    def _fail(self, instruction: Instruction, reason: str) -> ImageBuildFailed:
        return ImageBuildFailed(f"line {instruction.line}: {reason}")


def _member(path: Path, name: str) -> Iterator[tuple[tarfile.TarInfo, Any]]:
    """The tar entry for a path of the context, never following a link (FIFOs, sockets and
    devices have none: they are not copied)."""
    info = os.lstat(path)
    member = tarfile.TarInfo(name.lstrip("/"))
    member.mode, member.mtime = info.st_mode & 0o7777, int(info.st_mtime)
    if stat.S_ISLNK(info.st_mode):
        member.type, member.linkname = tarfile.SYMTYPE, os.readlink(path)
        yield member, None
    elif stat.S_ISDIR(info.st_mode):
        member.type = tarfile.DIRTYPE
        yield member, None
    elif stat.S_ISREG(info.st_mode):
        member.size = info.st_size
        yield member, open(path, "rb")  # noqa: SIM115 - read and closed by _pack


def _file_digest(content: Any) -> bytes:
    digest = hashlib.sha256()
    for block in iter(lambda: content.read(1024 * 1024), b""):
        digest.update(block)
    return digest.digest()


def _relocate(member: tarfile.TarInfo, name: str, top: str, target: str | None) -> None:
    member.name = name.lstrip("/")
    if member.islnk() and target is not None:  # a hard link names another member
        inner = posixpath.relpath(member.linkname.rstrip("/"), top)
        member.linkname = posixpath.join(target, inner).lstrip("/")


def _inside(path: Path, root: Path) -> bool:
    resolved, base = path.resolve(), root.resolve()
    return resolved == base or base in resolved.parents


def _lookup_id(name: str, table: str, column: int) -> int | None:
    """A numeric id as given, or the `column` of `name`'s line in /etc/passwd or /etc/group
    (2: its id; 3 in /etc/passwd: its primary group)."""
    if name.isdigit():
        return int(name)
    for line in table.splitlines():
        parts = line.split(":")
        if len(parts) > column and parts[0] == name and parts[column].isdigit():
            return int(parts[column])
    return None


def _mode(spec: str | None, instruction: Instruction) -> int | None:
    if not spec:
        return None
    try:
        return int(spec, 8)
    except ValueError:
        raise ImageBuildFailed(f"line {instruction.line}: --chmod takes an octal mode") from None


def _arg(text: str, scope: dict[str, str], global_args: dict[str, str]) -> dict[str, str]:
    name, has_default, default = text.strip().partition("=")
    value = substitute(default, {**global_args, **scope}) if has_default else None
    if value is None:
        value = global_args.get(name.strip(), "")
    return {name.strip(): value}


def _words(text: str, instruction: Instruction) -> list[str]:
    """Words as the shell would split them (quotes honoured), or the line's reason."""
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise ImageBuildFailed(f"line {instruction.line}: {str(exc).lower()}") from None


def _env_pairs(text: str, instruction: Instruction) -> dict[str, str]:
    words = _words(text, instruction)
    if not words:
        raise ImageBuildFailed(f"line {instruction.line}: ENV needs a name and a value")
    if "=" not in words[0]:
        name, _, value = text.strip().partition(" ")
        return {name: value.strip()}
    pairs = {}
    for word in words:
        name, has_value, value = word.partition("=")
        if not has_value:
            raise ImageBuildFailed(f"line {instruction.line}: ENV {word} has no value")
        pairs[name] = value
    return pairs


def _shown(instruction: Instruction) -> str:
    text = str(instruction)
    return text if len(text) <= 200 else text[:199] + "…"


def _step_key(state: _State, *parts: str) -> str:
    """A step's key: the steps before it, the configuration it starts from (a changed build
    argument's value changes it), and what the step itself does."""
    config = repr((sorted(state.env.items()), state.workdir, state.user, state.shell,
                   sorted(state.args.items())))
    return _hash(state.key, config, *parts)


def _hash(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()
