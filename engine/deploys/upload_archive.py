"""Unpacking an uploaded `.tar.gz` into a directory, refusing anything a hostile archive tries.

An upload deploy (`slipway deploy dist`) is a stranger's archive, exactly as a repository is a
stranger's code. It is read as a stream (`r|gz`: one pass, nothing seeks, the whole archive is
never in memory) and every member is checked before a byte of it is written:

- names are relative, without `..`, NUL or empty parts: `/etc/passwd` and `../../x` refuse the
  archive instead of being rewritten, so what is published is what the user meant;
- only directories, regular files and symbolic links whose target stays inside the archive;
  hard links, devices, FIFOs and links out of it (absolute, or climbing past the root) refuse it;
- nothing is written through a link: a member below a path that an earlier member made a
  link is refused (the classic "link, then a file through it" escape);
- the unpacked size is counted as bytes are written, not trusted from the headers, so a gzip
  bomb stops at the limit; so does a flood of tiny files;
- tarfile reads a PAX or GNU long-name header whole into memory before any check of ours can
  run, so `_CheckedTarInfo` refuses one larger than MAX_HEADER_BYTES before it is read (a
  150 MB header compresses to 150 KB), and sparse files, whose maps tarfile also reads whole;
- a link's target is checked as written (no absolute path, no climbing past the root), and
  once everything is unpacked every link is resolved on disk: a chain of links that each look
  inside but together lead out (`l -> ../../..` then `x -> a/l/../../etc`) refuses the archive.

Files are written 0644 and directories 0755 whatever the archive says, owned by Slipway.
Everything here blocks: call it from an executor. On any refusal the caller deletes the
directory, so a refused archive leaves nothing behind.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from engine.config import format_size

MAX_FILES = 100_000
MAX_NAME_BYTES = 4096
MAX_HEADER_BYTES = 64 * 1024  # a PAX or GNU long-name header: names and times, nothing more
# Global PAX headers are copied into every later member (`git archive` writes one, 52 bytes).
MAX_GLOBAL_HEADER_BYTES = 4096
MAX_CHAINED_HEADERS = 8  # extended headers before one member; tarfile recurses through them
MAX_DEPTH = 64  # directory levels: deeper trees exhaust os.walk's and rmtree's recursion
_EXTENDED_HEADERS = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE,
                     tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK)
_CHUNK = 1024 * 1024


class RefusedArchive(Exception):
    """The archive cannot be published; the message says why, naming the member."""


@dataclass(frozen=True)
class Unpacked:
    files: int
    bytes: int


def unpack_archive(source: BinaryIO, target: Path, max_bytes: int) -> Unpacked:
    """Unpack the gzip-compressed tar `source` into the empty directory `target`."""
    unpacker = _Unpacker(target, max_bytes)
    try:
        with tarfile.open(fileobj=source, mode="r|gz", tarinfo=_CheckedTarInfo) as archive:
            for member in archive:
                unpacker.add(archive, member)
                archive.members.clear()  # a stream is read once: keep no list of members
    except RecursionError:
        raise RefusedArchive("the archive's headers nest too deeply") from None
    except (tarfile.TarError, zlib.error, EOFError) as exc:
        raise RefusedArchive(f"the upload is not a readable .tar.gz archive ({exc})") from None
    except OSError as exc:
        if exc.errno in _UNWRITABLE_NAMES:
            raise RefusedArchive(f"{exc.filename or 'a member'}: a file name this server "
                                 f"cannot write ({exc.strerror})") from None
        raise
    if unpacker.files == 0:
        raise RefusedArchive("the archive holds no files")
    unpacker.check_links()
    return Unpacked(unpacker.files, unpacker.size)


_UNWRITABLE_NAMES = (errno.ENAMETOOLONG, errno.EILSEQ, errno.EINVAL)


class _CheckedTarInfo(tarfile.TarInfo):
    """tarfile's member header, refusing what tarfile would otherwise read whole into
    memory before handing the member over (these hooks are tarfile's own extension points
    for header kinds, stable since Python 3.0)."""

    def _proc_member(self, tarfile_: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _EXTENDED_HEADERS and self.size > MAX_HEADER_BYTES:
            raise RefusedArchive(f"an extended (PAX or long-name) header of {self.size:,} "
                                 f"bytes: more than {MAX_HEADER_BYTES:,} is not accepted")
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise RefusedArchive(f"{self.name}: sparse files are not accepted")
        if self.type not in _EXTENDED_HEADERS:
            return super()._proc_member(tarfile_)
        counts = tarfile_.__dict__.setdefault("_slipway_headers", {"chain": 0, "global": 0})
        if self.type == tarfile.XGLTYPE:
            counts["global"] += self.size
            if counts["global"] > MAX_GLOBAL_HEADER_BYTES:
                raise RefusedArchive(f"global PAX headers over {MAX_GLOBAL_HEADER_BYTES:,} "
                                     "bytes are not accepted")
        counts["chain"] += 1
        if counts["chain"] > MAX_CHAINED_HEADERS:
            raise RefusedArchive(f"more than {MAX_CHAINED_HEADERS} extended headers before "
                                 "one member are not accepted")
        try:
            return super()._proc_member(tarfile_)
        finally:
            counts["chain"] -= 1

    def _proc_gnusparse_00(self, next_: tarfile.TarInfo, *args: object) -> None:
        raise RefusedArchive(f"{next_.name}: sparse files are not accepted")

    _proc_gnusparse_01 = _proc_gnusparse_10 = _proc_gnusparse_00


class _Unpacker:
    def __init__(self, target: Path, max_bytes: int) -> None:
        self.target = target
        self.max_bytes = max_bytes
        self.files = 0
        self.size = 0
        self._links: set[str] = set()  # archive paths made symbolic links
        self._members = 0

    def add(self, archive: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        self._members += 1
        if self._members > MAX_FILES:
            raise RefusedArchive(f"the archive holds more than {MAX_FILES:,} entries")
        name = _member_path(member.name)
        if name is None:  # the root itself ("." or "./")
            if not member.isdir():
                raise RefusedArchive(f"{member.name!r}: the archive's root is not a directory")
            return
        self._refuse_below_link(name)
        path = self.target / name
        if member.isdir():
            self._directory(name, path)
        elif member.isfile():
            self._file(archive, member, name, path)
        elif member.issym():
            self._symlink(member, name, path)
        elif member.islnk():
            raise RefusedArchive(f"{name}: hard links are not accepted; archive the file itself")
        else:
            raise RefusedArchive(f"{name}: devices, FIFOs and other special files are not "
                                 "accepted")

    def _refuse_below_link(self, name: str) -> None:
        parts = name.split("/")
        for depth in range(1, len(parts)):
            if "/".join(parts[:depth]) in self._links:
                raise RefusedArchive(f"{name}: is inside {'/'.join(parts[:depth])}, which the "
                                     "archive made a symbolic link")

    def _directory(self, name: str, path: Path) -> None:
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            raise RefusedArchive(f"{name}: the archive has it both as a directory and not")
        self._parents(path)
        path.mkdir(mode=0o755, exist_ok=True)

    def _file(self, archive: tarfile.TarFile, member: tarfile.TarInfo, name: str,
              path: Path) -> None:
        self._parents(path)
        if path.is_symlink() or path.is_dir():
            raise RefusedArchive(f"{name}: the archive has it both as a file and not")
        reader = archive.extractfile(member)
        if reader is None:  # tarfile only says so for non-files
            raise RefusedArchive(f"{name}: cannot be read")
        # O_NOFOLLOW and O_EXCL after unlinking an earlier copy: never written through a link.
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as out:
            while chunk := reader.read(_CHUNK):
                self.size += len(chunk)
                if self.size > self.max_bytes:
                    raise RefusedArchive(f"the archive unpacks to more than "
                                         f"{format_size(self.max_bytes)} (SLIPWAY_MAX_UPLOAD)")
                out.write(chunk)
        self.files += 1

    def _symlink(self, member: tarfile.TarInfo, name: str, path: Path) -> None:
        target = member.linkname
        inside = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
        if (not target or "\0" in target or posixpath.isabs(target) or inside == ".."
                or inside.startswith("../")):
            raise RefusedArchive(f"{name}: links to {target!r}, outside the archive")
        self._parents(path)
        if path.is_dir() and not path.is_symlink():
            raise RefusedArchive(f"{name}: the archive has it both as a directory and a link")
        path.unlink(missing_ok=True)
        os.symlink(target, path)
        self._links.add(name)

    def check_links(self) -> None:
        """Every link, resolved on disk now that all are made, stays inside the archive."""
        root = os.path.realpath(self.target)
        for name in sorted(self._links):
            resolved = os.path.realpath(self.target / name)
            if resolved != root and not resolved.startswith(root + os.sep):
                raise RefusedArchive(f"{name}: leads outside the archive through other links")

    def _parents(self, path: Path) -> None:
        """Create the member's missing parent directories (archives may omit them)."""
        parent = path.parent
        missing = []
        while parent != self.target and not parent.exists():
            missing.append(parent)
            parent = parent.parent
        for directory in reversed(missing):
            directory.mkdir(mode=0o755)
        if not stat.S_ISDIR(os.lstat(path.parent).st_mode):
            raise RefusedArchive(f"{path.relative_to(self.target)}: its parent is not a "
                                 "directory in the archive")


def _member_path(raw: str) -> str | None:
    """The member's path relative to the root, None for the root, or a refusal."""
    if "\0" in raw or len(raw.encode(errors="surrogateescape")) > MAX_NAME_BYTES:
        raise RefusedArchive(f"{raw[:80]!r}: not a usable file name")
    if raw.startswith("/"):
        raise RefusedArchive(f"{raw}: absolute paths are not accepted")
    parts = [part for part in raw.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise RefusedArchive(f"{raw}: paths with '..' are not accepted")
    if len(parts) > MAX_DEPTH:
        raise RefusedArchive(f"{raw[:80]}…: more than {MAX_DEPTH} directory levels")
    return "/".join(parts) or None
