"""Local Docker base images for tests, built from binaries already on the host.

The test machines cannot pull from any registry, so the suite packs its own
root filesystems (busybox-static, and Node with npm) into tar archives in
memory and loads them with ``docker import``. Images are cached by tag: a tag
that already exists is reused as is, so bump ``RECIPE_VERSION`` whenever what
goes into an image changes.
"""

from __future__ import annotations

import fcntl
import io
import os
import struct
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import PurePosixPath
from typing import BinaryIO

import docker
import docker.errors

RECIPE_VERSION = "1"
"""Part of every tag; bump it when a recipe changes so stale images are not reused."""

BUSYBOX_IMAGE = f"slipway-test/busybox:{RECIPE_VERSION}"
"""A shell and coreutils (busybox applets) and nothing else."""

NODE_IMAGE = f"slipway-test/node:{RECIPE_VERSION}"
"""Busybox plus the host's Node and npm: enough for an offline ``npm install``."""

HOST_BUSYBOX = "/bin/busybox"
HOST_NODE = "/usr/bin/node"
HOST_NPM = "/usr/lib/node_modules/npm"

SEARCH_PATH = "PATH=/usr/local/bin:/usr/bin:/bin"

PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = "root:x:0:\nnogroup:x:65534:\n"

ELF_MAGIC = b"\x7fELF"
PT_INTERP = 3
MAX_SYMLINK_HOPS = 40


class _RootFs:
    """A root filesystem written entry by entry into an in-memory tar archive.

    Parent directories are created on demand, and every path is written once,
    so recipes can add overlapping pieces (two libraries in one directory, the
    same symlink met twice) without producing a conflicting archive.
    """

    def __init__(self, tar: tarfile.TarFile) -> None:
        self._tar = tar
        self._entries: dict[PurePosixPath, tuple[bytes, str]] = {}

    def directory(self, path: str | PurePosixPath, mode: int = 0o755) -> None:
        """Add a directory (and its parents) owned by root."""
        info = tarfile.TarInfo(_member_name(path))
        info.type, info.mode = tarfile.DIRTYPE, mode
        self._add(info)

    def symlink(self, path: str | PurePosixPath, target: str) -> None:
        """Add a symlink whose target is kept verbatim, relative or absolute."""
        info = tarfile.TarInfo(_member_name(path))
        info.type, info.linkname, info.mode = tarfile.SYMTYPE, target, 0o777
        self._add(info)

    def text_file(self, path: str, content: str, mode: int = 0o644) -> None:
        """Add a small generated file such as /etc/passwd."""
        data = content.encode()
        info = tarfile.TarInfo(_member_name(path))
        info.size, info.mode = len(data), mode
        self._add(info, io.BytesIO(data))

    def host_path(self, path: str) -> None:
        """Copy a host file or tree to the same absolute path in the image.

        Every symlink met on the way, in the path itself or in its parent
        directories (``/lib -> usr/lib`` on merged-/usr hosts), is recreated
        with its own name before the real content is added, so the path
        resolves inside the image exactly as it does on the host.
        """
        real = self._follow_symlinks(path)
        if os.path.isdir(real):
            self._host_tree(real)
        else:
            self._host_entry(real)

    def host_file(self, path: str, host_path: str) -> None:
        """Copy the content a host path resolves to, under a name chosen here.

        Used where the image's layout differs from the host's: busybox lives in
        a real /bin even when the host's /bin is a link to usr/bin.
        """
        self._host_entry(PurePosixPath(os.path.realpath(host_path)), path)

    def _follow_symlinks(self, path: str) -> PurePosixPath:
        resolved = PurePosixPath("/")
        pending = list(PurePosixPath(path).parts[1:])
        hops = 0
        while pending:
            part = pending.pop(0)
            if part in (".", ""):
                continue
            if part == "..":
                resolved = resolved.parent
                continue
            candidate = resolved / part
            if not os.path.islink(candidate):
                resolved = candidate
                continue
            hops += 1
            if hops > MAX_SYMLINK_HOPS:
                raise RuntimeError(f"too many levels of symbolic links in {path}")
            target = os.readlink(candidate)
            self.symlink(candidate, target)
            target_path = PurePosixPath(target)
            if target_path.is_absolute():
                resolved = PurePosixPath("/")
                pending = list(target_path.parts[1:]) + pending
            else:
                pending = list(target_path.parts) + pending
        return resolved

    def _host_tree(self, root: PurePosixPath) -> None:
        for current, dirs, files in os.walk(root):
            here = PurePosixPath(current)
            self._host_entry(here)
            linked_dirs = [name for name in dirs if os.path.islink(here / name)]
            for name in sorted(files + linked_dirs):
                self._host_entry(here / name)
            dirs.sort()

    def _host_entry(
        self, host_path: PurePosixPath, path: str | PurePosixPath | None = None
    ) -> None:
        arcname = _member_name(host_path if path is None else path)
        info = self._tar.gettarinfo(str(host_path), arcname=arcname)
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        if info.isreg():
            with open(host_path, "rb") as content:
                self._add(info, content)
        else:
            self._add(info)

    def _add(self, info: tarfile.TarInfo, content: BinaryIO | None = None) -> None:
        """Write one entry unless the very same entry is already there."""
        path = PurePosixPath("/", info.name)
        signature = (info.type, info.linkname)
        known = self._entries.get(path)
        if known == signature:
            return
        if known is not None:
            raise RuntimeError(f"{path} would be added twice as different entries")
        self._ensure_parent(path)
        self._entries[path] = signature
        self._tar.addfile(info, content)

    def _ensure_parent(self, path: PurePosixPath) -> None:
        parent = path.parent
        if parent == PurePosixPath("/"):
            return
        if parent not in self._entries:
            self.directory(parent)
        elif self._entries[parent][0] != tarfile.DIRTYPE:
            raise RuntimeError(f"{path} would be written through the symlink {parent}")


def _member_name(path: str | PurePosixPath) -> str:
    return str(path).lstrip("/")


def ensure_busybox_image(client: docker.DockerClient) -> str:
    """Return BUSYBOX_IMAGE, importing it first if this engine lacks it.

    The image holds the host's static busybox with a symlink per applet, which
    is all a test needs to run shell commands and write files into mounts.
    """
    return _ensure_image(client, BUSYBOX_IMAGE, [_add_busybox], ['CMD ["/bin/sh"]'])


def ensure_node_image(client: docker.DockerClient) -> str:
    """Return NODE_IMAGE, importing it first if this engine lacks it.

    The image adds the host's Node, its shared libraries and npm to the busybox
    filesystem, so Dockerfiles ``FROM`` it can ``npm install`` a project without
    dependencies and run a build with no network at all. HOME points at the
    world-writable /tmp because npm writes its cache and logs there.
    """
    return _ensure_image(
        client, NODE_IMAGE, [_add_busybox, _add_node], ["ENV HOME=/tmp", 'CMD ["node"]']
    )


def _ensure_image(
    client: docker.DockerClient,
    tag: str,
    recipe: list[Callable[[_RootFs], None]],
    changes: list[str],
) -> str:
    """Import ``tag`` unless it exists.

    A lock keeps parallel test processes from building the same image twice;
    the tag is checked again once the lock is held.
    """
    if _has_image(client, tag):
        return tag
    with _build_lock(tag):
        if _has_image(client, tag):
            return tag
        repository, _, version = tag.rpartition(":")
        client.api.import_image_from_data(
            _pack(recipe),
            repository=repository,
            tag=version,
            changes=[f"ENV {SEARCH_PATH}", *changes],
        )
    return tag


def _has_image(client: docker.DockerClient, tag: str) -> bool:
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


@contextmanager
def _build_lock(tag: str) -> Iterator[None]:
    """Serialise builds of one tag across processes on this machine.

    pytest-xdist workers, or two sessions, may all find the tag missing at once.
    """
    name = "slipway-test-image-" + tag.replace("/", "_").replace(":", "_") + ".lock"
    with open(os.path.join(tempfile.gettempdir(), name), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _pack(recipe: list[Callable[[_RootFs], None]]) -> io.BytesIO:
    """Run each step of a recipe into one tar archive, returned rewound."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        rootfs = _RootFs(tar)
        for step in recipe:
            step(rootfs)
    buffer.seek(0)
    return buffer


def _add_busybox(rootfs: _RootFs) -> None:
    """Busybox with its applets, /usr/bin/env, users, and a world-writable /tmp."""
    _require_static_busybox()
    rootfs.host_file("/bin/busybox", HOST_BUSYBOX)
    for applet in _busybox_applets():
        if applet != "busybox":
            rootfs.symlink(f"/bin/{applet}", "/bin/busybox")
    rootfs.symlink("/usr/bin/env", "/bin/busybox")
    rootfs.text_file("/etc/passwd", PASSWD)
    rootfs.text_file("/etc/group", GROUP)
    rootfs.directory("/root", 0o700)
    rootfs.directory("/tmp", 0o1777)


def _add_node(rootfs: _RootFs) -> None:
    """Node, every library its loader needs, and npm/npx as the host installs them."""
    if not os.path.isfile(HOST_NODE):
        raise RuntimeError(f"{HOST_NODE} not found: install Node.js on the host (with npm)")
    if not os.path.isdir(HOST_NPM):
        raise RuntimeError(f"{HOST_NPM} not found: install npm on the host")
    rootfs.host_path(HOST_NODE)
    for library in _shared_libraries(HOST_NODE):
        rootfs.host_path(library)
    rootfs.host_path(HOST_NPM)
    rootfs.symlink("/usr/bin/npm", "../lib/node_modules/npm/bin/npm-cli.js")
    rootfs.symlink("/usr/bin/npx", "../lib/node_modules/npm/bin/npx-cli.js")


def _require_static_busybox() -> None:
    """Refuse a missing or dynamic busybox: the image has no libc for it to load."""
    hint = "install it with `apt-get install busybox-static`"
    if not os.path.isfile(HOST_BUSYBOX):
        raise RuntimeError(f"{HOST_BUSYBOX} not found: {hint}")
    if not _is_static_elf(HOST_BUSYBOX):
        raise RuntimeError(f"{HOST_BUSYBOX} is not a statically linked executable: {hint}")


def _is_static_elf(path: str) -> bool:
    """Tell whether ``path`` is an ELF file needing no program interpreter (no PT_INTERP)."""
    with open(path, "rb") as binary:
        header = binary.read(64)
        if len(header) < 64 or header[:4] != ELF_MAGIC:
            return False
        is_64_bit, endian = header[4] == 2, "<" if header[5] == 1 else ">"
        if is_64_bit:
            phoff, phentsize, phnum = struct.unpack_from(endian + "Q14xHH", header, 32)
        else:
            phoff, phentsize, phnum = struct.unpack_from(endian + "I10xHH", header, 28)
        binary.seek(phoff)
        table = binary.read(phentsize * phnum)
    types = struct.iter_unpack(endian + "I" + "x" * (phentsize - 4), table)
    return all(program_type != PT_INTERP for (program_type,) in types)


def _busybox_applets() -> list[str]:
    listing = subprocess.run([HOST_BUSYBOX, "--list"], capture_output=True, text=True, check=True)
    return listing.stdout.split()


def _shared_libraries(binary: str) -> list[str]:
    """Absolute paths ``ldd`` resolves for ``binary``, the dynamic loader included."""
    output = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    missing = [line.strip() for line in output.splitlines() if "not found" in line]
    if missing:
        raise RuntimeError(f"{binary} has unresolved libraries: {missing}")
    return [word for line in output.splitlines() for word in line.split() if word.startswith("/")]
