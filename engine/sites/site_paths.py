"""Where a project's published site lives on disk: `<deployments dir>/<project name>/`.

Project names are DNS labels (no `/`, no `..`), and every path is checked again to be a direct
child of the deployments directory before anything is moved or removed.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlsplit


def site_dir(deployments_dir: Path, name: str) -> Path:
    path = (deployments_dir / name).resolve()
    if path.parent != deployments_dir.resolve() or not name:
        raise ValueError(f"refusing a site path outside {deployments_dir}: {name!r}")
    return path


def rename_site(deployments_dir: Path, old: str, new: str) -> None:
    """Move a renamed project's releases along with it (nothing to do if it has none).

    A directory already at the new name belongs to no project (names are unique), so it is
    leftover debris and is replaced. Blocking: call from an executor."""
    source = site_dir(deployments_dir, old)
    if source.exists():
        target = site_dir(deployments_dir, new)
        shutil.rmtree(target, ignore_errors=True)
        source.rename(target)


def remove_site(deployments_dir: Path, name: str) -> None:
    """Delete every release of a project. Blocking: call from an executor."""
    shutil.rmtree(site_dir(deployments_dir, name), ignore_errors=True)


def site_url(public_url: str, domain: str, label: str) -> str:
    """The address of a site label (`demo`, `42--demo`) with the public URL's scheme and port:
    http://localhost:8080 serves demo at http://demo.localhost:8080."""
    public = urlsplit(public_url)
    port = f":{public.port}" if public.port else ""
    return f"{public.scheme}://{label}.{domain}{port}"
