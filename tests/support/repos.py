"""Real Git repositories for tests, made with the git CLI in isolation from any user config."""

from __future__ import annotations

import subprocess
from pathlib import Path


def make_repo(path: Path, files: dict[str, str], message: str = "first", *,
              branch: str = "main") -> Path:
    """A repository at `path` with one commit of `files` on `branch` (its HEAD)."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", branch], cwd=path, env=_env(path), check=True)
    commit_files(path, files, message)
    return path


def commit_files(path: Path, files: dict[str, str], message: str = "update") -> None:
    """Write `files` into a `make_repo` repository and commit them on its branch."""
    for name, content in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(content)
    for args in (["add", "-A"], ["commit", "-q", "-m", message]):
        subprocess.run(["git", *args], cwd=path, env=_env(path), check=True)


def add_branch(path: Path, name: str) -> None:
    """A branch `name` at the current commit of a `make_repo` repository (HEAD stays)."""
    subprocess.run(["git", "branch", name], cwd=path, env=_env(path), check=True)


def _env(path: Path) -> dict[str, str]:
    return {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(path),
            "GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.com",
            "GIT_COMMITTER_NAME": "Ada", "GIT_COMMITTER_EMAIL": "ada@example.com",
            "PATH": "/usr/bin:/bin"}
