"""A build's work directory on the host, treated as hostile: every path in it is checked.

The checkout is written by git from the repository, which may put a link where Slipway expects
a directory or a file. So a path Slipway reads or writes there is resolved and confined to the
checkout at the moment it is used, and the `.env` file is created by Slipway alone, never
through a link. The build command never writes here: the checkout is copied into its container
as an archive (`archive_checkout`), and only the output is copied back out.
"""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path
from typing import BinaryIO

ENV_FILE = ".env"
# Not copied into the build container: the history, and installed packages, which the install
# step put in the image where the framework resolves them.
LEFT_OUT_OF_BUILDS = (".git", "node_modules")


class OutsideWorkspace(Exception):
    """A path leads out of the checkout; the message names it."""


def confined(base: Path, relative: str, what: str) -> Path:
    """`relative` under `base`, resolved; refused when it leads anywhere outside `base`."""
    root = base.resolve()
    path = (base / relative).resolve()
    if path != root and root not in path.parents:
        raise OutsideWorkspace(f"the {what} {relative} leads outside the repository")
    return path


def write_env_file(app_dir: Path, secrets: dict[str, str]) -> None:
    """The project's secrets as `.env`, for frameworks that read one.

    Whatever the repository put at that name (a file, a link to a host path, a directory) is
    removed first, and the file is created exclusively without following links. Values are in
    single quotes, so a shell that sources the file expands nothing: `$(...)` stays text."""
    if not secrets:
        return
    path = app_dir / ENV_FILE
    remove_env_file(app_dir)
    lines = [f"{name}={quote(value)}\n" for name, value in secrets.items()]
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "w") as env_file:
        env_file.writelines(lines)


def remove_env_file(app_dir: Path) -> None:
    """Remove `.env` itself (a link is removed, never followed)."""
    path = app_dir / ENV_FILE
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def archive_checkout(checkout: Path, into: BinaryIO, prefix: str) -> None:
    """The checkout as a tar archive under `prefix` (e.g. "workspace"), written to `into`.

    Links are archived as links, never followed, so nothing outside the checkout is read;
    the container's engine unpacks the archive inside the container's own filesystem."""

    def owned_by_root(member: tarfile.TarInfo) -> tarfile.TarInfo | None:
        if any(part in LEFT_OUT_OF_BUILDS for part in member.name.split("/")[1:]):
            return None
        if not (member.isfile() or member.isdir() or member.issym()):
            return None
        member.uid = member.gid = 0
        member.uname = member.gname = "root"
        return member

    with tarfile.open(fileobj=into, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(checkout, arcname=prefix, recursive=True, filter=owned_by_root)


def quote(value: str) -> str:
    """A value in POSIX shell single quotes: nothing inside is expanded."""
    return "'" + value.replace("'", "'\\''") + "'"


def remove_work_directories(builds_dir: Path) -> list[str]:
    """At start: the work directories a killed Slipway left (with secrets in their `.env`)."""
    if not builds_dir.is_dir():
        return []
    removed = []
    for entry in builds_dir.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry.name)
    return removed
