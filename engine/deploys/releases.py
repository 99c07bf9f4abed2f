"""Releases on disk: publish a build's output, swap the live site atomically, prune, compress.

    <deployments>/<project>/releases/<build-id>/   one immutable directory per published build
    <deployments>/<project>/current -> releases/<build-id>

A release is assembled in a hidden temporary directory and renamed into place, so it appears
whole or not at all. Files identical to the previous release's are hard-linked to it, so ten
kept releases of a large site cost little more than one; new files are hard-linked from the
build's output when it is on the same filesystem (the work directory is deleted right after),
else copied. Going live replaces the
`current` symlink with rename(2): a visitor sees the old release or the new one, never a mix.
Pre-compressed `.gz`/`.br` siblings are written after going live (each by rename), so a large
site is not held back by compression. Everything here blocks: call it from an executor.
"""

from __future__ import annotations

import filecmp
import fnmatch
import gzip
import os
import posixpath
import secrets
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import brotli

from engine.config import format_size
from engine.sites.site_paths import DELETED_PREFIX, site_dir

RELEASES = "releases"
CURRENT = "current"
PREVIEWS = "previews"
COMPRESSIBLE = {".html", ".htm", ".css", ".js", ".mjs", ".cjs", ".json", ".map", ".svg",
                ".txt", ".xml", ".webmanifest", ".ico", ".wasm", ".csv", ".md"}
MIN_COMPRESS_BYTES = 1024
# A static site's output can be the checkout itself: its history, secrets and dependencies
# are never published, at any depth.
NEVER_PUBLISHED = (".git", ".env", ".env.*", "node_modules")
OUTSIDE_LINK = "outside-link"


def release_dir(deployments_dir: Path, project: str, build_id: int) -> Path:
    return site_dir(deployments_dir, project) / RELEASES / str(build_id)


def live_build_id(deployments_dir: Path, project: str) -> int | None:
    """The build the `current` link points at, or None when nothing is live."""
    try:
        target = os.readlink(site_dir(deployments_dir, project) / CURRENT)
    except OSError:
        return None
    name = Path(target).name
    return int(name) if name.isdigit() else None


def publish_release(deployments_dir: Path, project: str, build_id: int, output: Path) -> Path:
    """Copy `output` into a new release directory, hard-linking unchanged files.

    The release may share inodes with `output`: the caller must never write into `output`'s
    files afterwards (the build runner deletes it)."""
    releases = site_dir(deployments_dir, project) / RELEASES
    releases.mkdir(parents=True, exist_ok=True)
    previous_id = live_build_id(deployments_dir, project)
    previous = releases / str(previous_id) if previous_id is not None else None
    staging = releases / f".staging-{build_id}-{secrets.token_hex(4)}"
    try:
        _copy_tree(output, staging, previous)
        final = releases / str(build_id)
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


def remove_leftovers(deployments_dir: Path, running: frozenset[int] = frozenset()) -> int:
    """At start: what a killed Slipway left half-made (staging directories, temporary links
    of a swap, deleted projects' sites set aside). The staging directory of a build still
    `running` is spared: with several processes sharing the deployments directory, another
    one may be publishing it right now; any other is debris."""
    removed = 0
    if not deployments_dir.is_dir():
        return removed
    for pattern in (f"*/{RELEASES}/.staging-*", f"*/{RELEASES}/.fetch-*", f"*/.{CURRENT}-*",
                    f"*/{PREVIEWS}/.*",
                    f"{DELETED_PREFIX}*"):
        for path in deployments_dir.glob(pattern):
            if _staging_build(path.name) in running:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed += 1
    return removed


def _staging_build(name: str) -> int | None:
    """The build a `.staging-<build>-<random>` directory belongs to."""
    parts = name.split("-")
    if name.startswith(".staging-") and len(parts) >= 3 and parts[1].isdigit():
        return int(parts[1])
    return None


def go_live(deployments_dir: Path, project: str, build_id: int) -> None:
    """Point `current` at the release, atomically (a temporary link renamed over the old)."""
    site = site_dir(deployments_dir, project)
    if not (site / RELEASES / str(build_id)).is_dir():
        raise FileNotFoundError(f"release {build_id} of {project} is not on disk")
    link = site / f".current-{secrets.token_hex(4)}"
    os.symlink(f"{RELEASES}/{build_id}", link)
    try:
        os.replace(link, site / CURRENT)
    except BaseException:
        link.unlink(missing_ok=True)
        raise


def go_live_preview(deployments_dir: Path, project: str, slug: str, build_id: int) -> None:
    """Point the branch preview `previews/<slug>` at a release, atomically."""
    site = site_dir(deployments_dir, project)
    (site / PREVIEWS).mkdir(parents=True, exist_ok=True)
    link = site / PREVIEWS / f".{slug}-{secrets.token_hex(4)}"
    os.symlink(f"../{RELEASES}/{build_id}", link)
    try:
        os.replace(link, site / PREVIEWS / slug)
    except BaseException:
        link.unlink(missing_ok=True)
        raise


def remove_preview(deployments_dir: Path, project: str, slug: str) -> bool:
    """Take a branch preview down (its release goes with the next pruning)."""
    link = site_dir(deployments_dir, project) / PREVIEWS / slug
    if not link.is_symlink():
        return False
    link.unlink()
    return True


def preview_targets(site: Path) -> dict[str, int]:
    """link name → the build each branch preview link points at."""
    previews = site / PREVIEWS
    targets = {}
    if previews.is_dir():
        for link in previews.iterdir():
            name = Path(os.readlink(link)).name if link.is_symlink() else ""
            if name.isdigit():  # a swap's temporary link too: it is about to show
                targets[link.name] = int(name)
    return targets


def preview_build_ids(site: Path) -> set[int]:
    """The builds the site's branch previews point at."""
    return set(preview_targets(site).values())


def prune_releases(deployments_dir: Path, project: str, keep: int,
                   protected: set[int]) -> list[int]:
    """Delete all but the newest `keep` releases, never the live one, one a branch preview
    shows, or a protected one."""
    site = site_dir(deployments_dir, project)
    releases = site / RELEASES
    if not releases.is_dir():
        return []
    ids = sorted((int(p.name) for p in releases.iterdir() if p.name.isdigit()), reverse=True)
    live = live_build_id(deployments_dir, project)
    protected = protected | preview_build_ids(site)
    doomed = [i for i in ids[keep:] if i != live and i not in protected]
    for build_id in doomed:
        shutil.rmtree(releases / str(build_id), ignore_errors=True)
    return doomed


def precompress(release: Path) -> int:
    """Write .gz and .br siblings for text files worth compressing; returns how many files.

    Moderate levels (gzip 6, brotli 5): on a 2-core machine brotli's quality 9 took 105 s of
    CPU for a 100 MB site, competing with builds, for a few percent smaller files."""
    done = 0
    for path in release.rglob("*"):
        if (path.suffix.lower() not in COMPRESSIBLE or not path.is_file()
                or path.is_symlink() or path.stat().st_size < MIN_COMPRESS_BYTES):
            continue
        data = path.read_bytes()
        for suffix, compress in ((".gz", lambda d: gzip.compress(d, 6, mtime=0)),
                                 (".br", lambda d: brotli.compress(d, quality=5))):
            sibling = path.with_name(path.name + suffix)
            if sibling.exists():
                continue
            packed = compress(data)
            if len(packed) >= len(data):
                continue
            temporary = sibling.with_name(f".{sibling.name}.{secrets.token_hex(4)}")
            temporary.write_bytes(packed)
            os.replace(temporary, sibling)
        done += 1
    return done


class UnsafeOutput(Exception):
    """The output cannot be published as it is; the message says why."""


@dataclass(frozen=True)
class OutputSummary:
    files: int
    bytes: int
    links_out: tuple[str, ...]  # "path -> target" of the links left out


def check_output(source: Path, max_bytes: int) -> OutputSummary:
    """What publishing `source` would publish, checked before anything is written: the files
    add up to at most `max_bytes`; links leading out of it are named (they are left out)."""
    files = size = 0
    links_out = []
    for relative, kind, path in _published_entries(source):
        if kind == "file":
            files += 1
            size += path.lstat().st_size
            if size > max_bytes:
                raise UnsafeOutput(f"the output is larger than {format_size(max_bytes)} "
                                   "(SLIPWAY_MAX_OUTPUT)")
        elif kind == OUTSIDE_LINK:
            links_out.append(f"{relative} -> {os.readlink(path)}")
    return OutputSummary(files, size, tuple(links_out))


def _published_entries(source: Path) -> Iterator[tuple[Path, str, Path]]:
    """(path relative to `source`, "dir" | "link" | "file" | OUTSIDE_LINK, path) of what a
    release holds, and of the links it leaves out.

    Never-published names are left out, and so are sockets, FIFOs and devices. Links are
    never followed: one whose target stays inside `source` is published as a link, one
    leading anywhere else (an absolute path, `../..`) is OUTSIDE_LINK and never published."""
    if source.is_symlink() or not source.is_dir():
        raise UnsafeOutput("the output directory is not a directory of the repository")
    for root, dirs, files in os.walk(source):
        here = Path(root)
        relative = here.relative_to(source)
        dirs[:] = sorted(d for d in dirs if not _never_published(d))
        for name in dirs:
            path = here / name
            kind = _link_kind(relative / name, path) if path.is_symlink() else "dir"
            yield relative / name, kind, path
        dirs[:] = [d for d in dirs if not (here / d).is_symlink()]
        for name in sorted(files):
            path = here / name
            if _never_published(name):
                continue
            if path.is_symlink():
                yield relative / name, _link_kind(relative / name, path), path
            elif stat.S_ISREG(path.lstat().st_mode):
                yield relative / name, "file", path


def _link_kind(relative: Path, path: Path) -> str:
    """A link is published only if it stays inside the output both as written and as
    resolved on disk: links that each look inside can chain their way out together."""
    target = os.readlink(path)
    inside = posixpath.normpath(posixpath.join(str(relative.parent), target))
    if posixpath.isabs(target) or inside == ".." or inside.startswith("../"):
        return OUTSIDE_LINK
    root = path
    for _ in relative.parts:
        root = root.parent
    if not _within(os.path.realpath(path), os.path.realpath(root)):
        return OUTSIDE_LINK
    return "link"


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _copy_tree(source: Path, target: Path, previous: Path | None) -> None:
    target.mkdir()
    for relative, kind, src in _published_entries(source):
        dst = target / relative
        if kind == "dir":
            dst.mkdir()
        elif kind == "link":
            os.symlink(os.readlink(src), dst)
        elif kind == "file":
            dst.unlink(missing_ok=True)  # a sibling linked along with an unchanged file
            old = previous / relative if previous is not None else None
            # Never a file reached through a link of the previous release: only its own.
            if (old is not None and _within(os.path.realpath(old), os.path.realpath(previous))
                    and _same_file(src, old)):
                os.link(old, dst)
                _link_siblings(src, old, dst)
            else:
                _link_or_copy(src, dst)


def _link_or_copy(src: Path, dst: Path) -> None:
    """Take the file over by hard link when it is on the same filesystem (the build's work
    directory is deleted right after, so the release ends up the only owner); else copy."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _never_published(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in NEVER_PUBLISHED)


def _same_file(new: Path, old: Path) -> bool:
    try:
        return (old.is_file() and not old.is_symlink()
                and old.stat().st_size == new.stat().st_size
                and filecmp.cmp(new, old, shallow=False))
    except OSError:
        return False


def _link_siblings(src: Path, old: Path, new: Path) -> None:
    """An unchanged file keeps the compressed siblings it already had (unless the build
    produced its own, which are copied as they are)."""
    for suffix in (".gz", ".br"):
        sibling = old.with_name(old.name + suffix)
        target = new.with_name(new.name + suffix)
        if (sibling.is_file() and not src.with_name(src.name + suffix).exists()
                and not target.exists()):
            os.link(sibling, target)
