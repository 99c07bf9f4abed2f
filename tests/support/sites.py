"""A published site without a build: a release directory and the `current` link to it."""

from __future__ import annotations

from pathlib import Path


def publish_site(deployments_dir: Path, name: str, files: dict[str, str],
                 release: str = "1") -> Path:
    folder = deployments_dir / name / "releases" / release
    for path, text in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text)
    current = deployments_dir / name / "current"
    current.unlink(missing_ok=True)
    current.symlink_to(f"releases/{release}")
    return folder
