"""A release's manifest: every directory, file and link it holds, written to the store last.

The manifest is the release's commit record: a release whose manifest is missing is not a
release (an upload cut short, a deletion half done), so readers never see part of one. It is
also what a web process trusts when it unpacks a release into its cache, so every path in it is
checked again on the way in: a store that was tampered with still cannot write outside the
release or plant a link that leads out of it.
"""

from __future__ import annotations

import json
import os
import posixpath
import stat
from dataclasses import dataclass
from pathlib import Path

VERSION = 1
MAX_ENTRIES = 200_000
MAX_PATH = 4096


class BadManifest(Exception):
    """The manifest cannot be trusted; the message says why."""


@dataclass(frozen=True)
class Entry:
    path: str  # relative, `/`-separated
    kind: str  # "dir", "file" or "link"
    size: int = 0
    target: str = ""  # a link's target, relative


def read_release(release: Path) -> list[Entry]:
    """The entries of a published release directory (links are not followed)."""
    entries = []
    for root, dirs, files in os.walk(release):
        here = Path(root)
        for name in sorted(dirs + files):
            path = here / name
            relative = path.relative_to(release).as_posix()
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                entries.append(Entry(relative, "link", target=os.readlink(path)))
            elif stat.S_ISDIR(info.st_mode):
                entries.append(Entry(relative, "dir"))
            elif stat.S_ISREG(info.st_mode):
                entries.append(Entry(relative, "file", info.st_size))
        dirs[:] = [d for d in dirs if not (here / d).is_symlink()]
    return entries


def encode(entries: list[Entry]) -> bytes:
    return json.dumps({"version": VERSION, "entries": [
        [e.path, e.kind, e.size, e.target] for e in entries]}, separators=(",", ":")).encode()


def decode(data: bytes) -> list[Entry]:
    """The entries of a manifest, each checked: confined paths, links staying inside, parents
    listed before their children, no path twice."""
    try:
        document = json.loads(data)
        if document.get("version") != VERSION:
            raise BadManifest(f"unknown manifest version {document.get('version')!r}")
        rows = document["entries"]
        if not isinstance(rows, list) or len(rows) > MAX_ENTRIES:
            raise BadManifest("too many entries")
        entries = [Entry(str(path), str(kind), int(size), str(target))
                   for path, kind, size, target in rows]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BadManifest(f"unreadable manifest: {exc}") from None
    seen: dict[str, str] = {}
    for entry in entries:
        _check_path(entry.path)
        parent = posixpath.dirname(entry.path)
        if parent and seen.get(parent) != "dir":
            raise BadManifest(f"{entry.path!r} comes before its directory")
        if entry.path in seen:
            raise BadManifest(f"{entry.path!r} is listed twice")
        if entry.kind not in ("dir", "file", "link") or entry.size < 0:
            raise BadManifest(f"{entry.path!r} has an unknown kind or size")
        if entry.kind == "link":
            inside = posixpath.normpath(posixpath.join(parent, entry.target))
            if (not entry.target or posixpath.isabs(entry.target) or inside == ".."
                    or inside.startswith("../") or "\0" in entry.target):
                raise BadManifest(f"the link {entry.path!r} leads out of the release")
        seen[entry.path] = entry.kind
    return entries


def _check_path(path: str) -> None:
    parts = path.split("/")
    if (not path or len(path) > MAX_PATH or path.startswith("/") or "\0" in path
            or "\\" in path or any(part in ("", ".", "..") for part in parts)):
        raise BadManifest(f"refusing the path {path!r}")
