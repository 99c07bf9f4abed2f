"""Packing a directory as the `.tar.gz` an upload deploy sends.

The archive holds the directory's contents at its root (`dist/index.html` is `index.html`),
as the server publishes it. Left out, exactly as a build's output would leave them out: `.git`,
`.env` files and `node_modules`, at any depth; and links leading out of the directory (the
server would refuse the archive for them), each named in a warning. Written to a temporary
file, never to memory, so a large site costs disk, not RAM.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

NEVER_SENT = (".git", ".env", ".env.*", "node_modules")


@dataclass
class Packed:
    path: Path
    files: int = 0
    bytes: int = 0
    left_out: list[str] = field(default_factory=list)


def pack_directory(source: Path, on_file: Callable[[int], None] = lambda size: None) -> Packed:
    """Pack `source`; the caller deletes `Packed.path`."""
    fd, name = tempfile.mkstemp(prefix="slipway-deploy-", suffix=".tar.gz")
    packed = Packed(Path(name))
    try:
        with os.fdopen(fd, "wb") as out, tarfile.open(fileobj=out, mode="w:gz",
                                                      compresslevel=6) as tar:
            for relative, path in _entries(source, packed):
                info = tar.gettarinfo(str(path), arcname=relative)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                if info.isfile():
                    with path.open("rb") as content:
                        tar.addfile(info, content)
                    packed.files += 1
                    packed.bytes += info.size
                    on_file(info.size)
                else:
                    tar.addfile(info)
    except BaseException:
        packed.path.unlink(missing_ok=True)
        raise
    return packed


def _entries(source: Path, packed: Packed):
    never: set[str] = set()
    for root, dirs, files in os.walk(source):
        here = Path(root)
        never.update(d for d in dirs if _never_sent(d))
        dirs[:] = sorted(d for d in dirs if not _never_sent(d))
        for name in [*dirs, *sorted(files)]:
            if _never_sent(name):
                never.add(name)
                continue
            path = here / name
            relative = path.relative_to(source).as_posix()
            if path.is_symlink():
                target = os.readlink(path)
                inside = posixpath.normpath(posixpath.join(posixpath.dirname(relative), target))
                if posixpath.isabs(target):
                    packed.left_out.append(f"{relative} -> {target} (an absolute link; make "
                                           "it relative to keep it)")
                    continue
                if inside == ".." or inside.startswith("../"):
                    packed.left_out.append(f"{relative} -> {target} (leads out of {source})")
                    continue
                yield relative, path
            elif path.is_dir() or path.is_file():
                yield relative, path
            else:
                packed.left_out.append(f"{relative} (not a file or directory)")
        dirs[:] = [d for d in dirs if not (here / d).is_symlink()]
    if never:
        packed.left_out.append(f"{', '.join(sorted(never))} (never published)")


def _never_sent(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in NEVER_SENT)
