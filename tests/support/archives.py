"""`.tar.gz` archives for upload deploys, honest ones and those an attacker would write."""

from __future__ import annotations

import io
import tarfile


def site_archive(files: dict[str, bytes | str]) -> bytes:
    """An archive of regular files, as `tar czf site.tgz -C dist .` makes it."""
    return archive([file_entry(name, data) for name, data in files.items()])


def file_entry(name: str, data: bytes | str) -> tuple[tarfile.TarInfo, bytes]:
    content = data.encode() if isinstance(data, str) else data
    info = tarfile.TarInfo(name)
    info.size = len(content)
    info.mode = 0o644
    return info, content


def link_entry(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo,
                                                                                 bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, b""


def special_entry(name: str, kind: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.devmajor, info.devminor = 1, 3  # /dev/null's numbers, for the device kinds
    return info, b""


def pax_entry(name: str, data: str, headers: dict[str, str]) -> tuple[tarfile.TarInfo, bytes]:
    """A file with PAX extended header records (written as a PAX header before it)."""
    info, content = file_entry(name, data)
    info.pax_headers = headers
    return info, content


def archive(entries: list[tuple[tarfile.TarInfo, bytes]],
            tar_format: int = tarfile.PAX_FORMAT) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tar_format) as tar:
        for info, content in entries:
            tar.addfile(info, io.BytesIO(content) if content else None)
    return buffer.getvalue()
