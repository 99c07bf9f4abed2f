"""What an attacker's repository or Git server does to a build host, for the sandbox tests:
symlinks committed to Git, a TCP server that never answers, and checks of what leaked out."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

_GIT_ENV = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "Mallory", "GIT_AUTHOR_EMAIL": "mallory@example.com",
            "GIT_COMMITTER_NAME": "Mallory", "GIT_COMMITTER_EMAIL": "mallory@example.com",
            "PATH": "/usr/bin:/bin"}


def commit_links(repo: Path, links: dict[str, str], message: str = "links") -> None:
    """Commit symlinks (`name -> target`, targets as given) on top of a `make_repo` repository;
    git stores them as links, so a checkout recreates them."""
    for name, target in links.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).unlink(missing_ok=True)
        os.symlink(target, repo / name)
    env = {**_GIT_ENV, "HOME": str(repo)}
    for args in (["add", "-A"], ["commit", "-q", "-m", message]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True)


class SilentServer:
    """A TCP server on 127.0.0.1 that accepts connections and never sends a byte (a Git
    server that hangs mid-handshake), or closes each one at once with `hang=False`. It counts
    the connections it received; `close()` drops them all."""

    def __init__(self, *, hang: bool = True) -> None:
        self.hang = hang
        self.connections = 0
        self._accepted: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name="silent-server", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            if self.hang:
                self._accepted.append(conn)
            else:
                conn.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for conn in self._accepted:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        self._thread.join(5)


def processes_mentioning(text: str) -> list[str]:
    """Command lines of this machine's processes that contain `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        line = " ".join(part.decode(errors="replace") for part in argv if part)
        if text in line:
            found.append(line)
    return found


def kill_containers_running(docker_client, token: str) -> None:
    """Kill and remove containers whose command contains `token` (a step a test left running
    inside `docker build`, so the suite never waits for it)."""
    for container in docker_client.api.containers(all=True):  # "Command" is the list's
        if token in (container.get("Command") or ""):
            with contextlib.suppress(Exception):
                docker_client.api.remove_container(container["Id"], force=True)


def walk(root: Path) -> Iterator[Path]:
    """Every path under `root`, never following a symlink."""
    if not root.exists() and not root.is_symlink():
        return
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            yield Path(directory) / name


def links_leading_outside(root: Path) -> list[str]:
    """Symlinks under `root` whose target resolves outside `root`."""
    inside = root.resolve()
    out = []
    for path in walk(root):
        if path.is_symlink():
            target = path.resolve()
            if target != inside and inside not in target.parents:
                out.append(f"{path.relative_to(root)} -> {os.readlink(path)}")
    return out


def files_containing(root: Path, marker: bytes) -> list[str]:
    """Paths under `root` whose content, read as a visitor or a copy would (following links),
    contains `marker`."""
    found = []
    for path in walk(root):
        with contextlib.suppress(OSError):
            if path.is_file() and marker in path.read_bytes():
                found.append(str(path))
    return found


def copies_of(root: Path, original: Path) -> list[str]:
    """Regular files under `root` that are `original` (a hard link) or have its content."""
    status, content = original.stat(), original.read_bytes()
    found = []
    for path in walk(root):
        if path.is_symlink() or not path.is_file():
            continue
        mine = path.stat()
        if (mine.st_dev, mine.st_ino) == (status.st_dev, status.st_ino) or (
                mine.st_size == status.st_size and path.read_bytes() == content):
            found.append(str(path))
    return found
