"""Where a passed build's output waits for the deployer: `<data dir>/outputs/<build id>/`.

The runner deletes its work directory after every build; the output of a passed build is copied
out of it first, to a place the deployer publishes from. A static site's output can be the
checkout itself, so Git metadata, `.env` files and dependencies are never copied: publishing
them would publish the project's secrets and history.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any


def output_path(data_dir: Path, build_id: int) -> Path:
    return data_dir / "outputs" / str(build_id)


def keep_outputs(data_dir: Path) -> Callable[[dict[str, Any], Path], Awaitable[None]]:
    """A deploy step that keeps the output for the deployer to publish."""

    async def keep(job: dict[str, Any], output_dir: Path) -> None:
        target = output_path(data_dir, job["id"])
        target.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.get_running_loop().run_in_executor(None, copy_output, output_dir, target)

    return keep


NEVER_PUBLISHED = (".git", ".env", ".env.*", "node_modules", ".dockerignore")


def copy_output(source: Path, target: Path) -> None:
    """Copy a build's output, leaving out what must never be published. Blocking."""
    shutil.copytree(source, target, symlinks=True,
                    ignore=shutil.ignore_patterns(*NEVER_PUBLISHED))
