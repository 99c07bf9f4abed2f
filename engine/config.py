"""Slipway's configuration, parsed once into a typed, immutable object.

Every setting has a command-line flag and an environment variable (the flag wins), and a default.
A bad value raises `ConfigError` whose message is one line naming the setting, so start-up can
stop with a message a user can act on instead of a traceback.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import ipaddress
import logging
import os
import re
import secrets
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

SECRET_KEY_FILE = "secret.key"  # noqa: S105 - a file name, not a secret.
RUNNER_ID_FILE = "runner-id"
SECRET_KEY_BYTES = 32

_HOSTNAME_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_DOCKER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
# name[:tag][@digest], with an optional registry host (and port) in front.
_IMAGE_REFERENCE = re.compile(
    r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._/-][a-z0-9]+)*"
    r"(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$"
)
LETS_ENCRYPT_DIRECTORY = "https://acme-v02.api.letsencrypt.org/directory"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)\s*([bkmg]?)b?$", re.IGNORECASE)
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smh]?)$", re.IGNORECASE)
_MEMORY_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600}
# Docker refuses containers with less memory than this.
_DOCKER_MIN_MEMORY = 6 * 1024**2


class ConfigError(Exception):
    """A configuration value is unusable; the message is one line naming the setting."""


@dataclass(frozen=True)
class Config:
    """Everything Slipway reads from its flags and environment, already validated."""

    port: int = 8080
    bind: str = "0.0.0.0"  # noqa: S104 - a self-hosted server listens on all interfaces.
    domain: str = "localhost"
    public_url: str = "http://localhost:8080"
    data_dir: Path = Path("data")
    deployments_dir: Path = Path("deployments")
    database_url: str | None = field(default=None, repr=False)
    secret_key: bytes = field(default=b"", repr=False)
    github_client_id: str | None = None
    github_client_secret: str | None = field(default=None, repr=False)
    github_url: str = "https://github.com"
    github_api_url: str = "https://api.github.com"
    build_concurrency: int = 2
    build_timeout: float = 900.0
    build_memory: int = 2 * 1024**3
    build_cpus: float = 1.0
    build_network: str = "bridge"
    node_image: str = "node:{major}-slim"  # "{major}" is the Node major chosen per build
    node_versions: tuple[int, ...] = (20, 22, 24)
    node_default: int = 22
    keep_releases: int = 10
    max_output: int = 1024**3
    max_upload: int = 500 * 1024**2  # an upload deploy's archive, and its files unpacked
    session_ttl: float = 24 * 3600.0
    docker_host: str = "unix:///var/run/docker.sock"
    https: bool = False
    https_port: int = 443
    http_port: int | None = None  # the plain-HTTP listener's port; None: `port`
    acme_directory: str = LETS_ENCRYPT_DIRECTORY
    acme_email: str | None = None
    acme_ca_bundle: Path | None = None
    dns_resolver: tuple[str, int] | None = None  # None: the system's resolvers
    roles: frozenset[str] = frozenset({"web", "worker"})
    redis_url: str | None = field(default=None, repr=False)  # may hold a password
    storage: str = "file"  # "file" (the deployments directory) or "s3://bucket/prefix"
    s3_endpoint: str | None = None  # None: AWS's own endpoints
    release_cache: int = 1024**3  # bytes of fetched releases a web process keeps (S3)

    @property
    def plain_http_port(self) -> int:
        """The port plain HTTP listens on: everything without HTTPS, ACME's HTTP-01 and the
        redirects to https with it."""
        return self.port if self.http_port is None else self.http_port

    @property
    def dashboard_host(self) -> str:
        """The dashboard's host name, from the public URL."""
        return (urlsplit(self.public_url).hostname or "localhost").lower()

    def https_url(self, host: str) -> str:
        """`https://host` with the HTTPS port when it is not 443."""
        return f"https://{host}" + ("" if self.https_port == 443 else f":{self.https_port}")

    @property
    def github_oauth_enabled(self) -> bool:
        return bool(self.github_client_id and self.github_client_secret)

    def node_image_for(self, major: int) -> str:
        """The base image of a build on Node `major`."""
        return self.node_image.replace("{major}", str(major))

    @property
    def uses_s3(self) -> bool:
        return self.storage != "file"

    @property
    def serves_web(self) -> bool:
        return "web" in self.roles

    @property
    def runs_builds(self) -> bool:
        return "worker" in self.roles

    @cached_property
    def runner_id(self) -> str:
        """This process's name in the shared build queue. Made once per data directory and
        kept there, so a restarted process is known as the same one (its unfinished builds
        are failed at once), while processes on other machines never share a name, even
        with identical paths (as `instance`, a hash of the path, would)."""
        return load_or_create_runner_id(self.data_dir / RUNNER_ID_FILE)

    @property
    def instance(self) -> str:
        """This installation's name on a shared Docker engine: every image and container it
        creates carries it (label and image name), so two Slipways never touch each other's."""
        return hashlib.sha256(str(self.data_dir.resolve()).encode()).hexdigest()[:12]


# --- value parsers: each takes the raw string and returns the typed value or raises ValueError ---


def _integer(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError(f"must be a whole number from {low} to {high}") from None
        if not low <= value <= high:
            raise ValueError(f"must be a whole number from {low} to {high}")
        return value

    return parse


def _positive_number(high: float) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw.strip())
        except ValueError:
            raise ValueError(f"must be a number above 0 and at most {high:g}") from None
        if not 0 < value <= high:
            raise ValueError(f"must be a number above 0 and at most {high:g}")
        return value

    return parse


def _duration(raw: str) -> float:
    match = _DURATION.match(raw.strip())
    if not match or float(match[1]) <= 0:
        raise ValueError("must be a duration above 0 such as 900, 900s, 15m or 1h")
    return float(match[1]) * _DURATION_UNITS[match[2].lower()]


def _memory(raw: str) -> int:
    match = _MEMORY.match(raw.strip())
    if not match:
        raise ValueError("must be a size such as 512m or 2g")
    value = int(float(match[1]) * _MEMORY_UNITS[match[2].lower()])
    if value < _DOCKER_MIN_MEMORY:
        raise ValueError("must be at least 6m (Docker's minimum)")
    return value


def readable_size(size: int) -> str:
    """1.2 MB, 340.0 KB, 12 bytes: a size for people reading a log, not a setting."""
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def format_size(value: int) -> str:
    """A size as the settings are written (2g, 512m), for messages naming a limit."""
    for unit, size in (("g", 1024**3), ("m", 1024**2), ("k", 1024)):
        if value >= size and value % size == 0:
            return f"{value // size}{unit}"
    return f"{value} bytes"


def _hostname(raw: str) -> str:
    host = raw.strip().lower().rstrip(".")
    if not host or len(host) > 253 or not all(_HOSTNAME_LABEL.match(p) for p in host.split(".")):
        raise ValueError("must be a host name such as localhost or example.com")
    return host


def _bind_address(raw: str) -> str:
    value = raw.strip()
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    if re.fullmatch(r"[0-9.]+", value):  # 999.1.1.1: meant as an address, and not one
        raise ValueError("must be an IP address or a host name such as 127.0.0.1")
    try:
        return _hostname(value)
    except ValueError:
        raise ValueError("must be an IP address or a host name such as 127.0.0.1") from None


def _http_url(allow_path: bool) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        parts = urlsplit(raw.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL")
        try:
            parts.port  # noqa: B018 - accessing it validates the port.
        except ValueError:
            raise ValueError("has an invalid port") from None
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError("must not contain credentials, a query or a fragment")
        if not allow_path and parts.path not in ("", "/"):
            raise ValueError("must be the origin only, without a path")
        return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"

    return parse


def _database_url(raw: str) -> str:
    # Imported here so that parsing flags never needs the database driver's C extension.
    from psycopg.conninfo import conninfo_to_dict

    value = raw.strip()
    if not value.startswith(("postgresql://", "postgres://")) and "=" not in value:
        raise ValueError("must be a PostgreSQL URL such as postgresql://user@host:5432/dbname")
    try:
        conninfo_to_dict(value)
    except Exception:  # psycopg raises ProgrammingError; the message could echo a password.
        raise ValueError("is not a valid PostgreSQL connection string") from None
    return value


def _docker_network(raw: str) -> str:
    value = raw.strip()
    if not _DOCKER_NAME.match(value):
        raise ValueError("must be a Docker network name such as bridge, none or host")
    return value


def _node_image(raw: str) -> str:
    value = raw.strip()
    if not _IMAGE_REFERENCE.match(value.replace("{major}", "22")) or "{" in value.replace(
            "{major}", ""):
        raise ValueError("must be a Docker image reference such as node:{major}-slim, where "
                         "{major} stands for the Node major chosen per build")
    return value


def _node_versions(raw: str) -> tuple[int, ...]:
    try:
        majors = sorted({int(part) for part in raw.replace(" ", "").split(",") if part})
    except ValueError:
        majors = []
    if not majors or any(not 4 <= major <= 99 for major in majors):
        raise ValueError("must be Node majors separated by commas, such as 20,22,24")
    return tuple(majors)


def _docker_host(raw: str) -> str:
    value = raw.strip()
    if not re.match(r"^(unix|tcp|ssh|npipe)://", value):
        raise ValueError("must be a Docker host such as unix:///var/run/docker.sock")
    return value


def _switch(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("on", "true", "yes", "1"):
        return True
    if value in ("off", "false", "no", "0"):
        return False
    raise ValueError("must be on or off")


def _email(raw: str) -> str:
    value = raw.strip()
    if not _EMAIL.match(value):
        raise ValueError("must be an email address such as ops@example.com")
    return value


def _readable_file(raw: str) -> Path:
    path = Path(raw.strip()).expanduser().absolute()
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise ValueError(f"is not a readable file: {path}: {exc.strerror}") from None
    return path


def _resolver(raw: str) -> tuple[str, int]:
    """`address` or `address:port` (`[v6]:port`) of a DNS server."""
    value = raw.strip()
    host, port = value, 53
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        if rest:
            port = _integer(1, 65535)(rest.removeprefix(":"))
    elif value.count(":") == 1:
        host, _, number = value.partition(":")
        port = _integer(1, 65535)(number)
    try:
        return str(ipaddress.ip_address(host)), port
    except ValueError:
        raise ValueError("must be a DNS server's IP address, optionally with :port, such as "
                         "1.1.1.1 or 127.0.0.1:8053") from None


ROLES = ("web", "worker")


def _roles(raw: str) -> frozenset[str]:
    names = [name.strip().lower() for name in raw.split(",") if name.strip()]
    unknown = [name for name in names if name not in ROLES]
    if not names or unknown:
        raise ValueError("must name one or both of web and worker, comma-separated")
    return frozenset(names)


def _redis_url(raw: str) -> str:
    value = raw.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("redis", "rediss", "unix") or not (parts.netloc or parts.path):
        raise ValueError("must be a Redis URL such as redis://127.0.0.1:6379/0")
    return value


def _storage(raw: str) -> str:
    value = raw.strip()
    if value == "file":
        return value
    parts = urlsplit(value)
    bucket = parts.netloc
    if (parts.scheme != "s3" or not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket)
            or parts.query or parts.fragment or ".." in parts.path
            or not re.fullmatch(r"[A-Za-z0-9._/-]*", parts.path)):
        raise ValueError("must be file or s3://bucket/prefix (a bucket name, then an "
                         "optional prefix of letters, digits, ., _, - and /)")
    prefix = "/".join(part for part in parts.path.split("/") if part)
    return f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"


def _text(raw: str) -> str:
    value = raw.strip()
    if not value or any(ch in value for ch in "\r\n\0"):
        raise ValueError("must be a single line of text")
    return value


def decode_secret_key(raw: str) -> bytes:
    """Decode a 32-byte key given as 64 hex digits or as base64 (standard or URL-safe)."""
    value = raw.strip()
    if re.fullmatch(r"[0-9a-fA-F]{64}", value):
        return bytes.fromhex(value)
    try:
        key = base64.b64decode(value.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != SECRET_KEY_BYTES:
        raise ValueError("must be 32 bytes encoded as 64 hex digits or as base64")
    return key


@dataclass(frozen=True)
class Setting:
    """One configuration value: where it comes from and how it is checked."""

    attr: str
    env: str
    flag: str
    parse: Callable[[str], Any]
    help: str

    @property
    def label(self) -> str:
        return f"{self.env} ({self.flag})"


SETTINGS: tuple[Setting, ...] = (
    Setting("port", "SLIPWAY_PORT", "--port", _integer(0, 65535), "HTTP port [8080]"),
    Setting("bind", "SLIPWAY_BIND", "--bind", _bind_address, "address to listen on [0.0.0.0]"),
    Setting("domain", "SLIPWAY_DOMAIN", "--domain", _hostname, "sites live at <project>.<domain>"),
    Setting("public_url", "SLIPWAY_PUBLIC_URL", "--public-url", _http_url(False),
            "the dashboard's URL, for OAuth redirects and webhooks"),
    Setting("data_dir", "SLIPWAY_DATA_DIR", "--data-dir", Path, "data directory [./data]"),
    Setting("deployments_dir", "SLIPWAY_DEPLOYMENTS_DIR", "--deployments-dir", Path,
            "where releases are published [./deployments]"),
    Setting("database_url", "DATABASE_URL", "--database-url", _database_url,
            "PostgreSQL URL [embedded server under the data directory]"),
    Setting("secret_key", "SLIPWAY_SECRET_KEY", "--secret-key", decode_secret_key,
            "32-byte key, base64 or hex [generated into the data directory]"),
    Setting("github_client_id", "GITHUB_CLIENT_ID", "--github-client-id", _text,
            "GitHub OAuth app client id"),
    Setting("github_client_secret", "GITHUB_CLIENT_SECRET", "--github-client-secret", _text,
            "GitHub OAuth app client secret"),
    Setting("github_url", "GITHUB_URL", "--github-url", _http_url(True),
            "GitHub's web URL [https://github.com]"),
    Setting("github_api_url", "GITHUB_API_URL", "--github-api-url", _http_url(True),
            "GitHub's API URL [https://api.github.com]"),
    Setting("build_concurrency", "SLIPWAY_BUILD_CONCURRENCY", "--build-concurrency",
            _integer(1, 64), "builds run at once [2]"),
    Setting("build_timeout", "SLIPWAY_BUILD_TIMEOUT", "--build-timeout", _duration,
            "longest a build may run [900s]"),
    Setting("build_memory", "SLIPWAY_BUILD_MEMORY", "--build-memory", _memory,
            "memory limit of a build container [2g]"),
    Setting("build_cpus", "SLIPWAY_BUILD_CPUS", "--build-cpus", _positive_number(256),
            "CPUs a build container may use [1.0]"),
    Setting("build_network", "SLIPWAY_BUILD_NETWORK", "--build-network", _docker_network,
            "Docker network of build containers [bridge]"),
    Setting("node_image", "SLIPWAY_NODE_IMAGE", "--node-image", _node_image,
            "base image of builds, {major} standing for the Node major [node:{major}-slim]"),
    Setting("node_versions", "SLIPWAY_NODE_VERSIONS", "--node-versions", _node_versions,
            "Node majors builds may use [20,22,24]"),
    Setting("node_default", "SLIPWAY_NODE_DEFAULT", "--node-default", _integer(4, 99),
            "Node major of a project that asks for none [22]"),
    Setting("keep_releases", "SLIPWAY_KEEP_RELEASES", "--keep-releases", _integer(1, 1000),
            "releases kept on disk per project [10]"),
    Setting("max_output", "SLIPWAY_MAX_OUTPUT", "--max-output", _memory,
            "largest build output that is published [1g]"),
    Setting("max_upload", "SLIPWAY_MAX_UPLOAD", "--max-upload", _memory,
            "largest upload deploy, compressed and unpacked [500m]"),
    Setting("session_ttl", "SLIPWAY_SESSION_TTL", "--session-ttl", _duration,
            "how long a sign-in lasts [24h]"),
    Setting("docker_host", "DOCKER_HOST", "--docker-host", _docker_host,
            "Docker engine address [unix:///var/run/docker.sock]"),
    Setting("https", "SLIPWAY_HTTPS", "--https", _switch,
            "on: HTTPS with automatic certificates (ACME) [off]"),
    Setting("https_port", "SLIPWAY_HTTPS_PORT", "--https-port", _integer(0, 65535),
            "HTTPS port [443]"),
    Setting("http_port", "SLIPWAY_HTTP_PORT", "--http-port", _integer(0, 65535),
            "plain-HTTP port with HTTPS on: ACME challenges, redirects [SLIPWAY_PORT]"),
    Setting("acme_directory", "SLIPWAY_ACME_DIRECTORY", "--acme-directory", _http_url(True),
            "ACME directory URL [Let's Encrypt production]"),
    Setting("acme_email", "SLIPWAY_ACME_EMAIL", "--acme-email", _email,
            "contact for the ACME account (expiry warnings)"),
    Setting("acme_ca_bundle", "SLIPWAY_ACME_CA_BUNDLE", "--acme-ca-bundle", _readable_file,
            "CA certificates trusted for the ACME directory's own TLS [system's]"),
    Setting("dns_resolver", "SLIPWAY_DNS_RESOLVER", "--dns-resolver", _resolver,
            "DNS server custom domains are verified through, ip[:port] [system's]"),
    Setting("roles", "SLIPWAY_ROLES", "--roles", _roles,
            "what this process does: web (API, dashboard, sites), worker (builds) [web,worker]"),
    Setting("redis_url", "SLIPWAY_REDIS_URL", "--redis-url", _redis_url,
            "Redis URL carrying live events between processes [none: one process]"),
    Setting("storage", "SLIPWAY_STORAGE", "--storage", _storage,
            "where releases are kept: file (the deployments directory) or s3://bucket/prefix "
            "[file]"),
    Setting("s3_endpoint", "SLIPWAY_S3_ENDPOINT", "--s3-endpoint", _http_url(True),
            "an S3-compatible store's URL (MinIO, R2, ...) [AWS]"),
    Setting("release_cache", "SLIPWAY_RELEASE_CACHE", "--release-cache", _memory,
            "releases fetched from S3 a web process keeps on disk [1g]"),
)


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one flag per setting; defaults stay None so the environment can fill the gaps."""
    group = parser.add_argument_group("configuration (each flag also reads its variable)")
    for setting in SETTINGS:
        group.add_argument(
            setting.flag, dest=setting.attr, default=None, metavar=setting.env,
            help=setting.help,
        )


def load_config(flags: argparse.Namespace, environ: Mapping[str, str]) -> Config:
    """Build the Config from parsed flags and the environment, creating the directories it needs.

    Raises ConfigError with a one-line message naming the first bad setting.
    """
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = getattr(flags, setting.attr, None)
        if raw is None:
            raw = environ.get(setting.env) or None
        if raw is None:
            continue
        try:
            values[setting.attr] = setting.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{setting.label} {exc}{_shown(setting, raw)}") from None

    explicit = set(values)
    if "public_url" not in values:
        values["public_url"] = f"http://localhost:{values.get('port', Config.port)}"
    config = Config(**values)
    _check_github_pair(config)
    _check_https(config, explicit_public_url="public_url" in explicit)
    _check_node_default(config)
    _check_scale_out(config, explicit)
    data_dir = _writable_directory(config.data_dir, _setting("data_dir"))
    deployments_dir = _writable_directory(config.deployments_dir, _setting("deployments_dir"))
    secret_key = config.secret_key or load_or_create_key_file(data_dir / SECRET_KEY_FILE)
    return replace(config, data_dir=data_dir, deployments_dir=deployments_dir,
                   secret_key=secret_key)


def parse_config(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> Config:
    """Parse a command line made only of configuration flags (used by tests and tools)."""
    parser = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    add_config_arguments(parser)
    try:
        flags, unknown = parser.parse_known_args(list(argv))
    except argparse.ArgumentError as exc:
        raise ConfigError(str(exc)) from None
    if unknown:
        raise ConfigError(f"unknown option {unknown[0]}")
    return load_config(flags, os.environ if environ is None else environ)


def load_or_create_runner_id(path: Path) -> str:
    """Read the runner id, creating it on first use (a race of two creators keeps one)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        value = path.read_text().strip()
        if re.fullmatch(r"[0-9a-f]{16}", value):
            return value
        path.unlink()  # damaged: a new name only costs an immediate failure of old builds
        return load_or_create_runner_id(path)
    value = secrets.token_hex(8)
    with os.fdopen(fd, "w") as file:
        file.write(value + "\n")
    return value


def load_or_create_key_file(path: Path) -> bytes:
    """Read the instance key, generating it (mode 0600) on first start."""
    label = f"{_setting('secret_key').label}: key file {path}"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key_file(path, label)
    except OSError as exc:
        raise ConfigError(f"{label} cannot be created: {exc.strerror}") from None
    with os.fdopen(fd, "w") as handle:
        handle.write(base64.b64encode(secrets.token_bytes(SECRET_KEY_BYTES)).decode() + "\n")
    log.info("generated a new secret key in %s", path)
    return _read_key_file(path, label)


def _read_key_file(path: Path, label: str) -> bytes:
    try:
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            log.warning("%s was readable by others (mode %o); restricting it to 0600", path, mode)
            path.chmod(0o600)
        return decode_secret_key(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{label} cannot be read: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(f"{label} {exc}") from None


def _writable_directory(path: Path, setting: Setting) -> Path:
    path = path.expanduser().absolute()
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-check-"):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        message = f"{setting.label} is not a writable directory: {path}: {reason}"
        raise ConfigError(message) from None
    return path


def _check_github_pair(config: Config) -> None:
    if bool(config.github_client_id) != bool(config.github_client_secret):
        missing = "github_client_secret" if config.github_client_id else "github_client_id"
        raise ConfigError(
            f"{_setting(missing).label} must be set too: GitHub OAuth needs the id and the secret"
        )


def _check_https(config: Config, *, explicit_public_url: bool) -> None:
    if not config.https:
        return
    label = _setting("public_url").label
    if not explicit_public_url:
        raise ConfigError(f"{label} must be set with SLIPWAY_HTTPS=on: the dashboard's "
                          "https:// address, such as https://slipway.example.com")
    if not config.public_url.startswith("https://"):
        raise ConfigError(f"{label} must be an https:// URL with SLIPWAY_HTTPS=on, got "
                          f"{config.public_url!r}")
    if config.plain_http_port == config.https_port and config.https_port != 0:
        raise ConfigError(f"{_setting('https_port').label} must differ from the plain-HTTP "
                          f"port {config.plain_http_port}")


def _check_scale_out(config: Config, explicit: set[str]) -> None:
    """Processes that split the work must share what one process keeps to itself: events go
    through Redis, state lives in one PostgreSQL, and every process seals and opens secrets
    with the same key."""
    if config.roles != Config.roles and config.redis_url is None:
        raise ConfigError(f"{_setting('roles').label} {','.join(sorted(config.roles))}: set "
                          f"{_setting('redis_url').label} too, so that builds' live logs and "
                          "status reach the browsers of every web process")
    if config.redis_url is None:
        return
    if config.database_url is None:
        raise ConfigError(f"{_setting('redis_url').label} is set (several processes): set "
                          f"{_setting('database_url').label} to the PostgreSQL server they "
                          "share; the embedded one serves a single process")
    if "secret_key" not in explicit:
        raise ConfigError(f"{_setting('redis_url').label} is set (several processes): set "
                          f"{_setting('secret_key').label} to the same key in every process, "
                          "or secrets sealed by one could not be opened by another")


def _check_node_default(config: Config) -> None:
    if config.node_default not in config.node_versions:
        offered = ",".join(map(str, config.node_versions))
        raise ConfigError(f"{_setting('node_default').label} must be one of "
                          f"{_setting('node_versions').label}: {offered}, got "
                          f"{config.node_default}")


def _shown(setting: Setting, raw: str) -> str:
    """The offending value as a message may show it: never a secret or a password."""
    if setting.attr in ("secret_key", "github_client_secret", "database_url"):
        return ""
    return ", got " + repr(raw if len(raw) <= 80 else raw[:77] + "...")


def _setting(attr: str) -> Setting:
    return next(s for s in SETTINGS if s.attr == attr)
