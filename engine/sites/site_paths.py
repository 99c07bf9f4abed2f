"""Where a project's published site lives on disk: `<deployments dir>/<project name>/`.

Project names are DNS labels (no `/`, no `..`), and every path is checked again to be a direct
child of the deployments directory before anything is moved or removed.
"""

from __future__ import annotations

import secrets
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


DELETED_PREFIX = ".deleted-"


def take_site_down(deployments_dir: Path, name: str) -> Path | None:
    """Move a deleted project's site aside in one rename, so none of it is served from that
    moment (its releases, previews and immutable hosts alike); returns where it went, or None
    when it had no site. Raises OSError when the rename is refused (a read-only directory):
    the caller then deletes nothing. Blocking: call from an executor."""
    site = site_dir(deployments_dir, name)
    if not site.exists():
        return None
    aside = deployments_dir / f"{DELETED_PREFIX}{name}-{secrets.token_hex(4)}"
    site.rename(aside)
    return aside


def put_site_back(deployments_dir: Path, name: str, aside: Path | None) -> None:
    """Undo `take_site_down` (the project could not be deleted after all)."""
    if aside is not None:
        aside.rename(site_dir(deployments_dir, name))


def remove_site_files(aside: Path | None) -> None:
    """Delete what `take_site_down` moved aside (what fails is swept at the next start)."""
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def site_url(public_url: str, domain: str, label: str) -> str:
    """The address of a site label (`demo`, `42--demo`) with the public URL's scheme and port:
    http://localhost:8080 serves demo at http://demo.localhost:8080."""
    return host_url(public_url, f"{label}.{domain}")


def host_url(public_url: str, host: str) -> str:
    """The address of `host` with the public URL's scheme and port."""
    public = urlsplit(public_url)
    port = f":{public.port}" if public.port else ""
    return f"{public.scheme}://{host}{port}"
